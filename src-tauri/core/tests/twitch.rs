//! Twitch integration against the testkit's fake Twitch (the documented OAuth and Helix shapes,
//! on a loopback port): the device flow, token refresh and rotation, a revoked grant, the rate
//! limit, stats, and channel settings at go-live.

mod support;

use std::time::{Duration, Instant};

use support::{contains, database_bytes, open_with_twitch};
use tokio_util::sync::CancellationToken;
use twitcher_core::accounts::{self, AccountInput};
use twitcher_core::profiles::{self, Profile};
use twitcher_core::twitch::{self, channel, tokens, TwitchError};
use twitcher_core::Twitcher;
use twitcher_testkit::twitch::{FakeLive, FakeTwitch, FakeUser};

const KEY: &str = "live_41245072_FromTwitchAbCdEf9876";

struct Setup {
    dir: tempfile::TempDir,
    fake: FakeTwitch,
    app: Twitcher,
    ana: Profile,
}

async fn setup() -> Setup {
    let fake = FakeTwitch::start();
    let mut user = FakeUser::new("41245072", "nightowl", KEY);
    user.followers = 1234;
    user.live = Some(FakeLive { title: "3 a.m. rerun".into(), game_name: "Just Chatting".into(), viewer_count: 42 });
    fake.add_user(user);
    fake.add_user(FakeUser::new("55501", "dayshift", "live_55501_SecondChannelKey0000"));
    let dir = tempfile::tempdir().unwrap();
    let app = open_with_twitch(dir.path(), &fake, "http://127.0.0.1:9/unreachable").await;
    let ana = profiles::register(&app, Some("Ana")).await.unwrap().profile;
    Setup { dir, fake, app, ana }
}

/// Connects as `user_id`, approving on the fake as soon as the code exists.
async fn connect(s: &Setup, user_id: &str) -> twitch::Connected {
    s.fake.auto_approve(user_id);
    let login = twitch::begin_connect(&s.app).await.unwrap();
    twitch::finish_connect(&s.app, &s.ana, login, &CancellationToken::new()).await.unwrap()
}

fn token_polls(fake: &FakeTwitch) -> Vec<Instant> {
    fake.requests()
        .iter()
        .filter(|r| r.path == "/oauth2/token" && r.form.get("grant_type").is_some_and(|g| g.ends_with("device_code")))
        .map(|r| r.at)
        .collect()
}

#[tokio::test]
async fn connect_waits_while_pending_then_links_the_account_with_twitchs_stream_key() {
    let s = setup().await;
    let login = twitch::begin_connect(&s.app).await.unwrap();
    assert_eq!(login.prompt.user_code.len(), 8);
    assert!(login.prompt.verification_uri.contains("/activate"));
    let code = login.prompt.user_code.clone();
    let (app, ana) = (s.app.clone(), s.ana.clone());
    let waiting = tokio::spawn(async move { twitch::finish_connect(&app, &ana, login, &CancellationToken::new()).await });

    // Twitch answers "authorization_pending" until the user enters the code.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert!(!waiting.is_finished());
    assert!(token_polls(&s.fake).len() >= 2, "the app keeps polling while pending");
    s.fake.approve(&code, "41245072");
    let connected = tokio::time::timeout(Duration::from_secs(5), waiting).await.unwrap().unwrap().unwrap();

    assert!(connected.created);
    assert_eq!(connected.scopes, vec!["channel:read:stream_key", "channel:manage:broadcast", "channel:manage:schedule"]);
    let account = &connected.account;
    assert_eq!((account.login.as_deref(), account.display_name.as_str(), account.channel_id.as_deref()), (Some("nightowl"), "NIGHTOWL", Some("41245072")));
    assert!(account.connected);
    assert!(account.avatar_url.as_deref().unwrap().starts_with("https://static-cdn.jtvnw.net/"));
    assert_eq!(account.stream_key.as_deref(), Some("live_****9876"));
    assert_eq!(accounts::stream_key(&s.app, &s.ana, account.id).await.unwrap().as_str(), KEY);

    // Tokens and key are sealed: none of them is in the database files in plaintext.
    let secrets = s.fake.issued_secrets();
    for (file, bytes) in database_bytes(s.dir.path()) {
        for secret in secrets.iter().map(String::as_str).chain([KEY]) {
            assert!(!contains(&bytes, secret), "{file} holds a secret in plaintext");
        }
    }

    // Connecting the same channel again updates it instead of adding a second one.
    let again = connect(&s, "41245072").await;
    assert!(!again.created);
    assert_eq!(again.account.id, account.id);
    assert_eq!(accounts::list(&s.app, &s.ana).await.unwrap().len(), 1);
}

#[tokio::test]
async fn slow_down_makes_every_later_poll_wait_five_seconds_more() {
    let s = setup().await;
    s.fake.slow_down_next(1);
    let started = Instant::now();
    let connected = connect(&s, "41245072").await;
    assert!(connected.created);
    let polls = token_polls(&s.fake);
    // poll 1: slow_down; poll 2 (auto-approve marks it approved): pending; poll 3: granted.
    assert!(polls.len() >= 3, "{} polls", polls.len());
    for gap in polls.windows(2).map(|w| w[1] - w[0]) {
        assert!(gap >= Duration::from_millis(5900), "after slow_down polls are 1 s + 5 s apart, saw {gap:?}");
    }
    assert!(started.elapsed() >= Duration::from_secs(12));
}

#[tokio::test]
async fn an_expired_code_or_a_declined_connection_ends_the_wait_and_links_nothing() {
    let s = setup().await;
    s.fake.set_device_expiry(2);
    let login = twitch::begin_connect(&s.app).await.unwrap();
    let started = Instant::now();
    let err = twitch::finish_connect(&s.app, &s.ana, login, &CancellationToken::new()).await.unwrap_err();
    assert!(matches!(err, TwitchError::Expired), "{err:?}");
    assert!(err.to_string().contains("start again"));
    assert!(started.elapsed() < Duration::from_secs(5));

    s.fake.set_device_expiry(1800);
    let login = twitch::begin_connect(&s.app).await.unwrap();
    s.fake.deny(&login.prompt.user_code);
    let err = twitch::finish_connect(&s.app, &s.ana, login, &CancellationToken::new()).await.unwrap_err();
    assert!(matches!(err, TwitchError::Denied), "{err:?}");
    assert_eq!(err.code(), "twitch_denied");

    let login = twitch::begin_connect(&s.app).await.unwrap();
    let cancel = CancellationToken::new();
    cancel.cancel();
    assert!(matches!(twitch::finish_connect(&s.app, &s.ana, login, &cancel).await, Err(TwitchError::Cancelled)));
    assert!(accounts::list(&s.app, &s.ana).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_401_refreshes_without_a_client_secret_and_keeps_the_rotated_refresh_token() {
    let s = setup().await;
    let id = connect(&s, "41245072").await.account.id;
    for round in 1..=2 {
        s.fake.expire_access_tokens();
        let stats = twitch::stats(&s.app, &s.ana, Some(id), true).await.unwrap();
        assert_eq!(stats[0].followers, Some(1234), "round {round}: {:?}", stats[0].note);
        tokio::time::sleep(Duration::from_secs(twitch::stats::MIN_AGE_S as u64)).await;
    }
    let refreshes: Vec<_> = s.fake.requests().into_iter().filter(|r| r.form.get("grant_type").map(String::as_str) == Some("refresh_token")).collect();
    // The second refresh only works with the token the first one returned: the old one is spent.
    assert_eq!(refreshes.len(), 2);
    assert_ne!(refreshes[0].form["refresh_token"], refreshes[1].form["refresh_token"]);
    for r in &refreshes {
        assert!(!r.form.contains_key("client_secret"), "a public client sends no secret");
        assert_eq!(r.form.get("client_id").map(String::as_str), Some(twitcher_testkit::twitch::CLIENT_ID));
    }
    // Validation goes through /oauth2/validate with the OAuth scheme.
    let validation = tokens::validate(&s.app, s.ana.id, id).await.unwrap();
    assert_eq!((validation.login.as_str(), validation.user_id.as_str()), ("nightowl", "41245072"));
    assert!(s.fake.requests().iter().any(|r| r.path == "/oauth2/validate" && r.authorization.as_deref().is_some_and(|a| a.starts_with("OAuth "))));
}

#[tokio::test]
async fn a_revoked_grant_marks_the_account_reconnect_needed_with_a_clear_message() {
    let s = setup().await;
    let id = connect(&s, "41245072").await.account.id;
    s.fake.revoke_grant("41245072");
    let err = tokens::validate(&s.app, s.ana.id, id).await.unwrap_err();
    assert!(matches!(err, TwitchError::ReconnectNeeded { .. }), "{err:?}");
    assert_eq!(err.code(), "twitch_reconnect_needed");
    let account = accounts::get(&s.app, &s.ana, id).await.unwrap();
    assert!(account.auth_problem.as_deref().unwrap().contains("connect with Twitch again"));
    // Stats say why instead of failing; the hourly validation skips it.
    let stats = twitch::stats(&s.app, &s.ana, Some(id), true).await.unwrap();
    assert!(stats[0].note.as_deref().unwrap().contains("connect with Twitch again"));
    assert_eq!(tokens::validate_all(&s.app).await.unwrap(), 0);
    // Connecting again clears it.
    let again = connect(&s, "41245072").await;
    assert_eq!(again.account.auth_problem, None);
}

#[tokio::test]
async fn a_429_waits_for_ratelimit_reset_then_succeeds() {
    let s = setup().await;
    let id = connect(&s, "41245072").await.account.id;
    s.fake.drain_rate_limit(Duration::from_secs(2));
    let started = Instant::now();
    let stats = twitch::stats(&s.app, &s.ana, Some(id), true).await.unwrap();
    assert_eq!(stats[0].followers, Some(1234), "{:?}", stats[0].note);
    assert!(started.elapsed() >= Duration::from_secs(1), "it waited for the reset");
    // Once the bucket is known to be empty, no request is sent into it: one 429 at most.
    let helix_before_reset = s.fake.requests().iter().filter(|r| r.path.starts_with("/helix") && r.at >= started && r.at < started + Duration::from_millis(900)).count();
    assert!(helix_before_reset <= 1, "{helix_before_reset} requests sent into an empty bucket");
}

#[tokio::test]
async fn stats_report_followers_live_viewers_title_and_category_and_are_cached() {
    let s = setup().await;
    let owl = connect(&s, "41245072").await.account.id;
    // Added by hand: looked up with the connected account's token.
    let input = AccountInput { display_name: "Day".into(), channel_id: Some("55501".into()), login: Some("dayshift".into()), ingest_server: None };
    let day = accounts::add(&s.app, &s.ana, &input, "live_55501_SecondChannelKey0000").await.unwrap().id;

    let all = twitch::stats(&s.app, &s.ana, None, false).await.unwrap();
    let by = |id| all.iter().find(|x| x.account_id == id).unwrap().clone();
    let o = by(owl);
    assert_eq!((o.followers, o.live, o.viewer_count), (Some(1234), Some(true), Some(42)));
    assert_eq!((o.title.as_deref(), o.game_name.as_deref()), (Some("3 a.m. rerun"), Some("Just Chatting")));
    let d = by(day);
    assert_eq!((d.followers, d.live, d.viewer_count), (Some(0), Some(false), Some(0)));
    assert_eq!(d.title.as_deref(), Some("first stream"), "offline: the channel's current title");
    assert_eq!(d.note, None);

    // Within a minute the cache answers: no new Helix request.
    let before = s.fake.requests().len();
    let again = twitch::stats(&s.app, &s.ana, None, false).await.unwrap();
    assert_eq!(again, all);
    assert_eq!(s.fake.requests().len(), before);

    // With no connected account, stats say why they are missing.
    let bo = profiles::register(&s.app, Some("Bo")).await.unwrap().profile;
    let alone = accounts::add(&s.app, &bo, &input, "live_55501_SecondChannelKey0000").await.unwrap().id;
    let lonely = twitch::stats(&s.app, &bo, Some(alone), false).await.unwrap();
    assert_eq!(lonely[0].followers, None);
    assert!(lonely[0].note.as_deref().unwrap().contains("Connect with Twitch"));
}

#[tokio::test]
async fn channel_settings_apply_per_destination_and_a_refusal_stays_on_its_destination() {
    let s = setup().await;
    let mut old_grant = FakeUser::new("77701", "oldgrant", "live_77701_OldGrantKey1234567");
    old_grant.grants = Some(vec!["channel:read:stream_key".into()]);
    s.fake.add_user(old_grant);
    let owl = connect(&s, "41245072").await.account;
    let old = connect(&s, "77701").await.account;
    let day = accounts::add(
        &s.app,
        &s.ana,
        &AccountInput { display_name: "Day".into(), channel_id: Some("55501".into()), login: None, ingest_server: None },
        "live_55501_SecondChannelKey0000",
    )
    .await
    .unwrap();

    // Invalid tags: Twitch's 400 comes back as this destination's error, the channel unchanged.
    let err = channel::apply(&s.app, &s.ana, &owl, "Title", None, &["has space".into()]).await.unwrap_err();
    assert!(matches!(&err, TwitchError::Api { status: 400, message } if message.contains("has space")), "{err:?}");
    assert_eq!(s.fake.channel("41245072").title, "first stream");

    let tags = vec!["#Chill".to_string(), "lofi".to_string()];
    let notices = channel::apply_all(&s.app, &s.ana, &[owl.clone(), old.clone(), day.clone()], "Night rerun", Some("art"), &tags).await;
    let ch = s.fake.channel("41245072");
    assert_eq!((ch.title.as_str(), ch.game_id.as_str(), ch.tags.clone()), ("Night rerun", "509660", vec!["Chill".to_string(), "lofi".to_string()]));
    assert!(!notices.contains_key(&owl.id));
    assert!(notices[&old.id].contains("channel:manage:broadcast"), "{}", notices[&old.id]);
    assert!(notices[&day.id].contains("added by hand"));
    assert_eq!(s.fake.channel("77701").title, "first stream");

    // Tags Twitch refuses: each connected destination carries Twitch's reason.
    let notices = channel::apply_all(&s.app, &s.ana, &[owl.clone(), day.clone()], "Bad tags", None, &["no spaces allowed".into()]).await;
    assert!(notices[&owl.id].contains("'no spaces allowed' is not valid"), "{}", notices[&owl.id]);
    assert_eq!(s.fake.channel("41245072").title, "Night rerun", "a refused PATCH changes nothing");

    // A category Twitch does not know is said; title and tags still go.
    let notices = channel::apply_all(&s.app, &s.ana, &[owl.clone()], "Second", Some("Nonexistent Game 3000"), &[]).await;
    assert!(notices[&owl.id].contains("no category named"));
    assert_eq!(s.fake.channel("41245072").title, "Second");
}

#[tokio::test]
async fn unlinking_a_connected_account_revokes_its_grant_on_twitch() {
    let s = setup().await;
    let id = connect(&s, "41245072").await.account.id;
    assert_eq!(s.fake.live_tokens(), (1, 1));
    twitch::unlink(&s.app, &s.ana, id).await.unwrap();
    assert_eq!(s.fake.live_tokens(), (0, 0));
    let revoke = s.fake.requests().into_iter().find(|r| r.path == "/oauth2/revoke").unwrap();
    assert!(revoke.form.contains_key("token") && revoke.form.contains_key("client_id"));
}

#[tokio::test]
async fn without_a_client_id_connect_says_how_to_get_one() {
    let fake = FakeTwitch::start();
    let dir = tempfile::tempdir().unwrap();
    let options = twitcher_core::Options {
        keyring: twitcher_core::vault::KeyringPreference::File, vault_key_file: None,
        ingest_list_url: String::new(),
        twitch: twitch::TwitchConfig { auth_url: fake.auth_url.clone(), api_url: fake.api_url.clone(), client_id: None },
        engine: Default::default(),
        database: twitcher_testkit::postgres_database(dir.path()),
    };
    let app = Twitcher::open_with(dir.path(), options).await.unwrap();
    if option_env!("TWITCHER_TWITCH_CLIENT_ID").is_none() {
        let err = twitch::begin_connect(&app).await.err().unwrap();
        assert_eq!(err.code(), "twitch_no_client_id");
        assert!(err.to_string().contains("dev.twitch.tv"));
    }
    // The one from Settings is used (an ADMIN sets it).
    let admin = support::first_profile(&app).await;
    twitch::set_client_id(&app, &admin, twitcher_testkit::twitch::CLIENT_ID).await.unwrap();
    assert!(twitch::begin_connect(&app).await.is_ok());
    assert!(matches!(twitch::set_client_id(&app, &admin, "not a client id!").await, Err(TwitchError::InvalidClientId)));
}

/// Issue 31, item 12: an account by hand as OBS takes it. Its login, with no channel id, is looked
/// up through Helix with the profile's connected account (an unknown login is refused, nothing
/// stored); with nobody to ask, it is linked without one; connecting it later fills it in on the
/// same account rather than adding a second.
#[tokio::test]
async fn a_login_typed_by_hand_is_looked_up_for_its_channel_id_an_unknown_one_is_refused_and_connecting_fills_it_in() {
    let s = setup().await;
    let by_hand = |login: &str| AccountInput { display_name: format!("By hand {login}"), channel_id: None, login: Some(login.into()), ingest_server: None };

    // Nobody to ask with yet: linked without a channel id.
    let owl = twitch::add_by_hand(&s.app, &s.ana, &by_hand("NightOwl"), KEY).await.unwrap();
    assert_eq!((owl.channel_id.as_deref(), owl.login.as_deref(), owl.connected), (None, Some("nightowl"), false));
    assert!(!s.fake.requests().iter().any(|r| r.path == "/helix/users"), "nothing asked without a connected account");

    // Connecting that channel fills the id in on the same account (not a second one).
    let connected = connect(&s, "41245072").await;
    assert_eq!((connected.account.id, connected.created), (owl.id, false));
    assert_eq!(connected.account.channel_id.as_deref(), Some("41245072"));
    assert_eq!(accounts::list(&s.app, &s.ana).await.unwrap().len(), 1);

    // Now there is someone to ask: a login typed by hand gets its channel id from Twitch.
    let day = twitch::add_by_hand(&s.app, &s.ana, &by_hand("dayshift"), "live_55501_SecondChannelKey0000").await.unwrap();
    assert_eq!(day.channel_id.as_deref(), Some("55501"));
    assert!(s.fake.requests().iter().any(|r| r.path == "/helix/users" && r.query.get("login").map(String::as_str) == Some("dayshift")));
    // A login Twitch does not know is a typing mistake: refused with its name, nothing stored.
    let err = twitch::add_by_hand(&s.app, &s.ana, &by_hand("no_such_channel"), "live_1_SomeOtherKey00000").await.unwrap_err();
    assert!(matches!(&err, accounts::AccountError::UnknownLogin { login } if login == "no_such_channel"), "{err:?}");
    assert_eq!(accounts::list(&s.app, &s.ana).await.unwrap().len(), 2);
    // A channel id given is taken as given (nothing looked up).
    let asked = s.fake.requests().iter().filter(|r| r.path == "/helix/users").count();
    let given = AccountInput { channel_id: Some("777".into()), ..by_hand("whoever") };
    assert_eq!(twitch::add_by_hand(&s.app, &s.ana, &given, "live_777_GivenChannelKey000").await.unwrap().channel_id.as_deref(), Some("777"));
    assert_eq!(s.fake.requests().iter().filter(|r| r.path == "/helix/users").count(), asked);
}
