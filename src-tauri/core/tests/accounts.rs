//! Twitch accounts on a real database with a real key file: limits, uniqueness, masking, and
//! that no stream key is ever stored or logged in plaintext.

mod support;

use support::{contains, database_bytes, open, open_with_ingest, serve_json, Bind};
use twitcher_core::accounts::{self, AccountError, AccountInput};
use twitcher_core::ingest::{self, IngestSource, BUILT_IN_DEFAULT};
use twitcher_core::profiles::{self, Plan, Profile};
use twitcher_core::vault::{KeyringPreference, VaultError};
use twitcher_core::Twitcher;

const KEY: &str = "live_123456789_QwErTyUiOpAsDfGhJkLzXcVbNm1234";

fn input(name: &str, channel: &str) -> AccountInput {
    AccountInput { display_name: name.into(), channel_id: Some(channel.into()), login: None, ingest_server: None }
}

async fn setup() -> (tempfile::TempDir, Twitcher, Profile) {
    let dir = tempfile::tempdir().unwrap();
    let app = open(dir.path(), KeyringPreference::File).await;
    let profile = profiles::register(&app, Some("Ana")).await.unwrap().profile;
    (dir, app, profile)
}

#[tokio::test]
async fn an_added_account_is_listed_with_a_masked_key_and_its_key_opens_for_the_engine() {
    let (_dir, app, ana) = setup().await;
    let new = AccountInput { login: Some("Ana_Live".into()), ingest_server: Some("rtmps://lax.example.net/app/".into()), ..input("Ana Live", "4242") };
    let account = accounts::add(&app, &ana, &new, &format!("  {KEY}\n")).await.unwrap();
    assert_eq!(account.stream_key.as_deref(), Some("live_****1234"));
    assert_eq!(account.login.as_deref(), Some("ana_live"));
    assert_eq!(account.ingest_server.as_deref(), Some("rtmps://lax.example.net/app"));
    assert_eq!(accounts::list(&app, &ana).await.unwrap(), vec![account.clone()]);
    assert_eq!(accounts::stream_key(&app, &ana, account.id).await.unwrap().as_str(), KEY);
    assert!(!serde_json::to_string(&account).unwrap().contains("QwErTy"));
}

#[tokio::test]
async fn update_changes_the_fields_and_keeps_the_key_and_set_key_replaces_it() {
    let (_dir, app, ana) = setup().await;
    let account = accounts::add(&app, &ana, &input("Old", "1"), KEY).await.unwrap();
    let changed = accounts::update(&app, &ana, account.id, &AccountInput { ingest_server: Some("auto".into()), ..input("New", "2") })
        .await
        .unwrap();
    assert_eq!((changed.display_name.as_str(), changed.channel_id.as_deref()), ("New", Some("2")));
    assert_eq!(changed.ingest_server, None);
    assert_eq!(accounts::stream_key(&app, &ana, account.id).await.unwrap().as_str(), KEY);

    let new_key = "live_987654321_ZzZzZzZzZzZzZzZzZzZzZzZz9876";
    let rekeyed = accounts::set_key(&app, &ana, account.id, new_key).await.unwrap();
    assert_eq!(rekeyed.stream_key.as_deref(), Some("live_****9876"));
    assert_eq!(accounts::stream_key(&app, &ana, account.id).await.unwrap().as_str(), new_key);

    accounts::remove(&app, &ana, account.id).await.unwrap();
    assert!(accounts::list(&app, &ana).await.unwrap().is_empty());
    assert!(matches!(accounts::remove(&app, &ana, account.id).await, Err(AccountError::NotFound { .. })));
}

#[tokio::test]
async fn the_plan_limit_is_enforced_even_for_concurrent_adds_and_named_in_the_error() {
    let (_dir, app, ana) = setup().await;
    let adds = (0..6).map(|i| {
        let (app, ana) = (app.clone(), ana.clone());
        tokio::spawn(async move { accounts::add(&app, &ana, &input(&format!("C{i}"), &format!("{i}")), KEY).await })
    });
    let mut ok = 0;
    for add in adds {
        match add.await.unwrap() {
            Ok(_) => ok += 1,
            Err(e) => {
                assert!(matches!(e, AccountError::PlanLimit { plan: Plan::Free, limit: 3 }), "{e:?}");
                assert!(e.to_string().contains("FREE plan allows 3"), "{e}");
            }
        }
    }
    assert_eq!(ok, 3);

    // An ADMIN moves the profile to PRO: room for 10.
    let admin = ana.clone(); // the first profile is the ADMIN
    let user = profiles::register(&app, Some("Bo")).await.unwrap();
    profiles::set_plan(&app, &admin, &user.uuid.to_string(), Plan::Pro).await.unwrap();
    for i in 0..10 {
        accounts::add(&app, &user.profile, &input("x", &format!("{}", 100 + i)), KEY).await.unwrap();
    }
    let eleventh = accounts::add(&app, &user.profile, &input("x", "999"), KEY).await;
    assert!(matches!(eleventh, Err(AccountError::PlanLimit { plan: Plan::Pro, limit: 10 })), "{eleventh:?}");
}

#[tokio::test]
async fn a_channel_id_is_unique_per_profile_but_not_across_profiles() {
    let (_dir, app, ana) = setup().await;
    let bo = profiles::register(&app, Some("Bo")).await.unwrap().profile;
    let first = accounts::add(&app, &ana, &input("A", "777"), KEY).await.unwrap();
    let again = accounts::add(&app, &ana, &input("B", "777"), KEY).await;
    assert!(matches!(&again, Err(AccountError::DuplicateChannel { channel_id }) if channel_id == "777"), "{again:?}");
    accounts::add(&app, &bo, &input("B", "777"), KEY).await.unwrap();
    let second = accounts::add(&app, &ana, &input("C", "778"), KEY).await.unwrap();
    let clash = accounts::update(&app, &ana, second.id, &input("C", "777")).await;
    assert!(matches!(clash, Err(AccountError::DuplicateChannel { .. })));
    assert_eq!(accounts::get(&app, &ana, first.id).await.unwrap().channel_id.as_deref(), Some("777"));
}

#[tokio::test]
async fn one_profile_cannot_see_or_touch_anothers_accounts() {
    let (_dir, app, ana) = setup().await;
    let bo = profiles::register(&app, Some("Bo")).await.unwrap().profile;
    let account = accounts::add(&app, &ana, &input("A", "1"), KEY).await.unwrap();
    assert!(accounts::list(&app, &bo).await.unwrap().is_empty());
    assert!(matches!(accounts::stream_key(&app, &bo, account.id).await, Err(AccountError::NotFound { .. })));
    assert!(matches!(accounts::set_key(&app, &bo, account.id, KEY).await, Err(AccountError::NotFound { .. })));
    assert!(matches!(accounts::remove(&app, &bo, account.id).await, Err(AccountError::NotFound { .. })));
    assert!(matches!(accounts::update(&app, &bo, account.id, &input("x", "2")).await, Err(AccountError::NotFound { .. })));
}

#[tokio::test]
async fn bad_input_is_refused_and_nothing_is_stored() {
    let (_dir, app, ana) = setup().await;
    let cases: Vec<(AccountInput, &str)> = vec![
        (input("", "1"), KEY),
        (input("A", "abc"), KEY),
        (input("A", "123456789012345678901"), KEY),
        (AccountInput { login: Some("bad login!".into()), ..input("A", "1") }, KEY),
        (input("A", "1"), "short"),
        (input("A", "1"), "live_with space_abcdefgh"),
        (input("A", "1"), ""),
        (AccountInput { ingest_server: Some("http://x/app".into()), ..input("A", "1") }, KEY),
        (AccountInput { ingest_server: Some(format!("rtmp://x/app/{KEY}")), ..input("A", "1") }, KEY),
    ];
    for (bad, key) in cases {
        let err = accounts::add(&app, &ana, &bad, key).await.unwrap_err();
        assert!(!err.to_string().contains("QwErTy"), "an error echoed the key: {err}");
    }
    assert!(accounts::list(&app, &ana).await.unwrap().is_empty());
}

#[tokio::test]
async fn the_database_and_its_wal_never_hold_a_stream_key_in_plaintext() {
    let (dir, app, ana) = setup().await;
    let keys = ["live_100000001_PlainTextMustNotAppear0001", "live_100000002_PlainTextMustNotAppear0002"];
    let a = accounts::add(&app, &ana, &input("A", "1"), keys[0]).await.unwrap();
    accounts::add(&app, &ana, &input("B", "2"), keys[1]).await.unwrap();
    accounts::set_key(&app, &ana, a.id, "live_100000003_PlainTextMustNotAppear0003").await.unwrap();
    let files = database_bytes(dir.path());
    if app.testing_db().backend() == twitcher_core::db::Backend::Sqlite {
        assert!(files.iter().any(|(name, _)| name.ends_with("-wal")), "the WAL is part of the check");
    }
    for (name, bytes) in files {
        assert!(!contains(&bytes, "PlainTextMustNotAppear"), "{name} holds a stream key");
    }
}

#[tokio::test]
async fn a_tampered_or_moved_ciphertext_gives_an_error_never_a_wrong_key() {
    let (_dir, app, ana) = setup().await;
    let a = accounts::add(&app, &ana, &input("A", "1"), KEY).await.unwrap();
    let b = accounts::add(&app, &ana, &input("B", "2"), "live_222222222_anotherkeyanotherkey2222").await.unwrap();

    // Copy A's sealed key onto B: B's key must not open to A's.
    support::execute(
        &app,
        "UPDATE twitch_accounts SET (stream_key_cipher, stream_key_nonce, stream_key_tag) = \
         (SELECT stream_key_cipher, stream_key_nonce, stream_key_tag FROM twitch_accounts WHERE id = $1) WHERE id = $2",
        &[Bind::Int(a.id), Bind::Int(b.id)],
    )
    .await;
    let moved = accounts::stream_key(&app, &ana, b.id).await;
    assert!(matches!(moved, Err(AccountError::Vault(VaultError::Tampered { .. }))), "{moved:?}");

    // One byte more on A's ciphertext.
    support::tamper_stream_key(&app, a.id).await;
    let tampered = accounts::stream_key(&app, &ana, a.id).await.unwrap_err();
    assert!(tampered.to_string().contains("failed its integrity check"), "{tampered}");
    // Setting the key again repairs it.
    accounts::set_key(&app, &ana, a.id, KEY).await.unwrap();
    assert_eq!(accounts::stream_key(&app, &ana, a.id).await.unwrap().as_str(), KEY);
}

const INGESTS: &str = r#"{"_total":3,"ingests":[
 {"_id":24,"availability":1.0,"default":true,"name":"Default","priority":0,"url_template":"rtmp://ingest.global-contribute.live-video.net/app/{stream_key}","url_template_secure":"rtmps://ingest.global-contribute.live-video.net/app/{stream_key}"},
 {"_id":190,"availability":1.0,"default":false,"name":"US West: Los Angeles, CA","priority":1,"url_template":"rtmp://lax.contribute.live-video.net/app/{stream_key}","url_template_secure":"rtmps://lax.contribute.live-video.net/app/{stream_key}"},
 {"_id":70,"availability":1.0,"default":false,"name":"EU: Amsterdam, NL (deprecated)","priority":2,"url_template":"rtmp://ams03.contribute.live-video.net/app/{stream_key}","url_template_secure":"rtmps://ams03.contribute.live-video.net/app/{stream_key}"}
]}"#;

#[tokio::test]
async fn the_ingest_list_comes_from_twitch_then_its_cache_then_the_built_in_default() {
    let dir = tempfile::tempdir().unwrap();
    // Offline and never fetched: the built-in global server.
    let offline = open(dir.path(), KeyringPreference::File).await;
    let list = ingest::list(&offline.testing_db(), &offline.options().ingest_list_url).await.unwrap();
    assert_eq!((list.source, list.servers.len(), list.automatic.as_str()), (IngestSource::BuiltIn, 0, BUILT_IN_DEFAULT));

    let (url, seen) = serve_json(200, INGESTS).await;
    let online = open_with_ingest(dir.path(), KeyringPreference::File, &format!("{url}/ingests")).await;
    let list = ingest::list(&online.testing_db(), &online.options().ingest_list_url).await.unwrap();
    assert_eq!(list.source, IngestSource::Twitch);
    let names: Vec<_> = list.servers.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["Default", "US West: Los Angeles, CA"]);
    assert_eq!(list.servers[1].url, "rtmps://lax.contribute.live-video.net/app");
    assert_eq!(seen.lock().unwrap().as_slice(), ["GET /ingests HTTP/1.1"]);

    // Cached for a day: no second request.
    ingest::list(&online.testing_db(), &online.options().ingest_list_url).await.unwrap();
    assert_eq!(seen.lock().unwrap().len(), 1);

    // A stale cache and Twitch down: the cached servers, said to be from the cache.
    let cached = online.testing_db().setting("ingest.cache").await.unwrap().unwrap();
    let stale = cached.replacen(&cached[cached.find("\"fetched_at_ms\":").unwrap()..cached.find(',').unwrap()], "\"fetched_at_ms\":0", 1);
    online.testing_db().set_setting("ingest.cache", &stale).await.unwrap();
    let list = ingest::list(&offline.testing_db(), &offline.options().ingest_list_url).await.unwrap();
    assert_eq!((list.source, list.servers.len()), (IngestSource::Cache, 2));
}

#[tokio::test]
async fn an_error_answer_from_twitch_falls_back_without_failing() {
    let dir = tempfile::tempdir().unwrap();
    let (url, _) = serve_json(503, r#"{"error":"Service Unavailable","status":503,"message":""}"#).await;
    let app = open_with_ingest(dir.path(), KeyringPreference::File, &format!("{url}/ingests")).await;
    let list = ingest::list(&app.testing_db(), &app.options().ingest_list_url).await.unwrap();
    assert_eq!((list.source, list.automatic.as_str()), (IngestSource::BuiltIn, BUILT_IN_DEFAULT));
}

/// Issue 31, item 12: as in OBS, a server and a key are enough; any number of accounts may lack
/// a channel id, and one given must still be Twitch's number.
#[tokio::test]
async fn an_account_needs_only_its_server_and_key_and_several_may_lack_a_channel_id() {
    let (_dir, app, ana) = setup().await;
    let bare = |name: &str| AccountInput { display_name: name.into(), channel_id: None, login: None, ingest_server: Some("rtmp://127.0.0.1:1935/app".into()) };
    let first = accounts::add(&app, &ana, &bare("First"), KEY).await.unwrap();
    let second = accounts::add(&app, &ana, &bare("Second"), "live_2_AnotherKeyQwErTy1234").await.unwrap();
    assert_eq!((first.channel_id.as_deref(), second.channel_id.as_deref()), (None, None));
    assert_eq!(accounts::stream_key(&app, &ana, first.id).await.unwrap().as_str(), KEY);
    // An empty or non-numeric one given is a mistake, said as such; nothing is stored.
    for wrong in ["", "  ", "nightowl"] {
        let input = AccountInput { channel_id: Some(wrong.into()), ..bare("Third") };
        assert!(matches!(accounts::add(&app, &ana, &input, KEY).await, Err(AccountError::InvalidChannelId)), "{wrong:?}");
    }
    assert_eq!(accounts::list(&app, &ana).await.unwrap().len(), 2);
    // Edited later to name its channel; the key stays.
    let named = accounts::update(&app, &ana, first.id, &AccountInput { channel_id: Some("4242".into()), ..bare("First") }).await.unwrap();
    assert_eq!(named.channel_id.as_deref(), Some("4242"));
    assert_eq!(accounts::stream_key(&app, &ana, first.id).await.unwrap().as_str(), KEY);
}
