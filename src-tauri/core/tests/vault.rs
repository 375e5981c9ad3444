//! The vault against its real stores: the key file, and gnome-keyring's Secret Service when the
//! suite runs under scripts/test.sh.

mod support;

use support::{open, secret_service};
use twitcher_core::accounts::{self, AccountInput};
use twitcher_core::profiles::{self, Profile};
use twitcher_core::vault::{KeyringBackend, KeyringPreference, VaultError, KEY_FILE};
use twitcher_core::Twitcher;

fn input(name: &str, channel: &str) -> AccountInput {
    AccountInput { display_name: name.into(), channel_id: Some(channel.into()), login: None, ingest_server: None }
}

async fn with_accounts(app: &Twitcher, keys: &[&str]) -> Profile {
    let profile = profiles::register(&app, Some("Ana")).await.unwrap().profile;
    for (i, key) in keys.iter().enumerate() {
        accounts::add(app, &profile, &input(&format!("Chan {i}"), &format!("{}", 1000 + i)), key).await.unwrap();
    }
    profile
}

const KEYS: [&str; 3] = [
    "live_111111111_aaaaaaaaaaaaaaaaaaaaaaaaaaaa1111",
    "live_222222222_bbbbbbbbbbbbbbbbbbbbbbbbbbbb2222",
    "live_333333333_cccccccccccccccccccccccccccc3333",
];

async fn plain_keys(app: &Twitcher, profile: &Profile) -> Vec<String> {
    let mut out = Vec::new();
    for account in accounts::list(app, profile).await.unwrap() {
        out.push(accounts::stream_key(app, profile, account.id).await.unwrap().to_string());
    }
    out.sort();
    out
}

#[tokio::test]
async fn the_key_file_is_created_once_with_mode_0600() {
    let dir = tempfile::tempdir().unwrap();
    let app = open(dir.path(), KeyringPreference::File).await;
    assert_eq!(app.vault().await.unwrap().backend(), KeyringBackend::File);
    let path = dir.path().join(KEY_FILE);
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(text.len(), 64);
    assert!(text.bytes().all(|b| b.is_ascii_hexdigit()));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
    }
    // A second process on the same data dir reads the same key instead of making another.
    let again = open(dir.path(), KeyringPreference::File).await;
    again.vault().await.unwrap();
    assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
}

#[tokio::test]
async fn a_missing_key_with_sealed_secrets_stops_with_a_clear_error_and_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let app = open(dir.path(), KeyringPreference::File).await;
    let profile = with_accounts(&app, &KEYS[..2]).await;
    let key_path = dir.path().join(KEY_FILE);
    let saved = std::fs::read(&key_path).unwrap();
    std::fs::remove_file(&key_path).unwrap();

    let fresh = open(dir.path(), KeyringPreference::File).await;
    let err = fresh.vault().await.unwrap_err();
    assert!(matches!(err, VaultError::KeyMissing { sealed: 2, .. }), "{err:?}");
    assert!(err.to_string().contains("the key that protects your stream keys is missing"), "{err}");
    assert!(!key_path.exists(), "no second key was created");
    assert_eq!(accounts::list(&fresh, &profile).await.unwrap().len(), 2, "rows intact");

    // Putting the key back makes everything readable again.
    std::fs::write(&key_path, saved).unwrap();
    let restored = open(dir.path(), KeyringPreference::File).await;
    assert_eq!(plain_keys(&restored, &profile).await, KEYS[..2].to_vec());
}

#[tokio::test]
async fn a_different_key_is_refused_rather_than_used() {
    let dir = tempfile::tempdir().unwrap();
    let app = open(dir.path(), KeyringPreference::File).await;
    with_accounts(&app, &KEYS[..1]).await;
    std::fs::write(dir.path().join(KEY_FILE), "ab".repeat(32)).unwrap();
    let err = open(dir.path(), KeyringPreference::File).await.vault().await.unwrap_err();
    assert!(matches!(err, VaultError::KeyMismatch { sealed: 1, .. }), "{err:?}");
}

#[tokio::test]
async fn a_missing_key_with_nothing_sealed_is_simply_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let app = open(dir.path(), KeyringPreference::File).await;
    app.vault().await.unwrap();
    std::fs::remove_file(dir.path().join(KEY_FILE)).unwrap();
    open(dir.path(), KeyringPreference::File).await.vault().await.unwrap();
    assert!(dir.path().join(KEY_FILE).exists());
}

#[tokio::test]
async fn rotation_reseals_every_secret_under_a_new_key_and_keeps_them_readable() {
    let dir = tempfile::tempdir().unwrap();
    let app = open(dir.path(), KeyringPreference::File).await;
    let profile = with_accounts(&app, &KEYS).await;
    let old_key = std::fs::read_to_string(dir.path().join(KEY_FILE)).unwrap();
    let before = support::database_bytes(dir.path());

    assert_eq!(app.rotate_vault(&profile).await.unwrap().resealed, 3);
    let new_key = std::fs::read_to_string(dir.path().join(KEY_FILE)).unwrap();
    assert_ne!(old_key, new_key);
    assert!(!dir.path().join(format!("{KEY_FILE}.next")).exists());
    assert_eq!(plain_keys(&app, &profile).await, KEYS.to_vec());
    // Another process sees the rotated state too.
    let other = open(dir.path(), KeyringPreference::File).await;
    assert_eq!(plain_keys(&other, &profile).await, KEYS.to_vec());
    assert_ne!(before, support::database_bytes(dir.path()));
}

#[tokio::test]
async fn a_rotation_interrupted_after_the_database_commit_is_finished_at_the_next_start() {
    let dir = tempfile::tempdir().unwrap();
    let app = open(dir.path(), KeyringPreference::File).await;
    let profile = with_accounts(&app, &KEYS[..2]).await;
    let old_key = std::fs::read(dir.path().join(KEY_FILE)).unwrap();
    app.rotate_vault(&profile).await.unwrap();
    let new_key = std::fs::read(dir.path().join(KEY_FILE)).unwrap();
    // The state a crash leaves between the commit and the promotion of the parked key.
    std::fs::write(dir.path().join(KEY_FILE), &old_key).unwrap();
    std::fs::write(dir.path().join(format!("{KEY_FILE}.next")), &new_key).unwrap();

    let restarted = open(dir.path(), KeyringPreference::File).await;
    assert_eq!(plain_keys(&restarted, &profile).await, KEYS[..2].to_vec());
    assert_eq!(std::fs::read(dir.path().join(KEY_FILE)).unwrap(), new_key);
    assert!(!dir.path().join(format!("{KEY_FILE}.next")).exists());
}

/// Issue 29: a rotation whose commit is lost (the machine lost power before SQLite synced its
/// log; simulated by putting back the database copied before the rotation) loses nothing: the
/// previous key is kept until a later load has seen the new record, and the old database finds
/// it. A later load that sees the new record lets the previous key go.
#[tokio::test]
async fn a_rotation_whose_commit_is_lost_leaves_every_secret_openable_with_the_previous_key() {
    let dir = tempfile::tempdir().unwrap();
    let app = open(dir.path(), KeyringPreference::File).await;
    let profile = with_accounts(&app, &KEYS).await;
    if twitcher_testkit::postgres_database(dir.path()).is_some() {
        eprintln!("skipped on PostgreSQL: its commits are synced before they return");
        return;
    }
    let before = support::database_bytes(dir.path());
    let old_key = std::fs::read(dir.path().join(KEY_FILE)).unwrap();
    assert_eq!(app.rotate_vault(&profile).await.unwrap().resealed, 3);
    assert_eq!(std::fs::read(dir.path().join(format!("{KEY_FILE}.previous"))).unwrap(), old_key, "the previous key is kept");
    // Closed, not only dropped: a pool's connections close in the background, and the last one
    // to close checkpoints and deletes `twitcher.db-wal` — the restored one, if it came first.
    app.close().await;
    drop(app);

    // The commit is lost: the database is as it was before the rotation.
    for name in ["twitcher.db", "twitcher.db-wal", "twitcher.db-shm"] {
        let _ = std::fs::remove_file(dir.path().join(name));
    }
    for (name, bytes) in &before {
        std::fs::write(dir.path().join(name), bytes).unwrap();
    }
    let restarted = open(dir.path(), KeyringPreference::File).await;
    assert_eq!(plain_keys(&restarted, &profile).await, KEYS.to_vec(), "every secret still opens");
    assert_eq!(std::fs::read(dir.path().join(KEY_FILE)).unwrap(), old_key, "the previous key is current again");

    // A rotation that is kept: the next load sees the new record and the previous key goes.
    restarted.rotate_vault(&profile).await.unwrap();
    assert!(dir.path().join(format!("{KEY_FILE}.previous")).exists());
    let later = open(dir.path(), KeyringPreference::File).await;
    assert_eq!(plain_keys(&later, &profile).await, KEYS.to_vec());
    assert!(!dir.path().join(format!("{KEY_FILE}.previous")).exists(), "no key is kept longer than needed");
}

/// Issue 29: one secret that does not open (tampered, sealed under a lost key) no longer makes
/// the key unrotatable: it is skipped and reported, and every other secret moves.
#[tokio::test]
async fn a_secret_that_does_not_open_is_skipped_and_reported_and_the_rest_rotate() {
    let dir = tempfile::tempdir().unwrap();
    let app = open(dir.path(), KeyringPreference::File).await;
    let profile = with_accounts(&app, &KEYS).await;
    let accounts_ = accounts::list(&app, &profile).await.unwrap();
    let damaged = accounts_[1].id;
    support::execute(&app, "UPDATE twitch_accounts SET stream_key_tag = stream_key_nonce WHERE id = $1", &[support::Bind::Int(damaged)]).await;

    let rotation = app.rotate_vault(&profile).await.unwrap();
    assert_eq!(rotation.resealed, 2, "{rotation:?}");
    assert_eq!(rotation.skipped, [format!("twitch_accounts {damaged} stream_key")]);
    for account in accounts_ {
        let opened = accounts::stream_key(&app, &profile, account.id).await;
        assert_eq!(opened.is_ok(), account.id != damaged, "{}: {opened:?}", account.id);
    }
}

/// Issue 29: a process killed between writing a key file and renaming it left a copy of a key
/// (`vault.tmp<pid>`); the next start removes it — but never one a running process is writing.
#[tokio::test]
async fn a_key_copy_a_killed_process_left_is_removed_at_the_next_start() {
    let dir = tempfile::tempdir().unwrap();
    let app = open(dir.path(), KeyringPreference::File).await;
    with_accounts(&app, &KEYS[..1]).await;
    let mut gone = std::process::Command::new("true").spawn().unwrap();
    let dead_pid = gone.id();
    gone.wait().unwrap();
    let key = std::fs::read(dir.path().join(KEY_FILE)).unwrap();
    let stray = [format!("vault.tmp{dead_pid}"), format!("{KEY_FILE}.tmp{dead_pid}")];
    for name in &stray {
        std::fs::write(dir.path().join(name), &key).unwrap();
    }
    let writing = dir.path().join(format!("vault.tmp{}", std::process::id()));
    std::fs::write(&writing, &key).unwrap();

    open(dir.path(), KeyringPreference::File).await;
    for name in &stray {
        assert!(!dir.path().join(name).exists(), "{name} is still there");
    }
    assert!(writing.exists(), "a running process's file is its own");
    assert!(dir.path().join(KEY_FILE).exists());
}

#[tokio::test]
async fn the_os_keyring_holds_the_key_when_a_secret_service_runs() {
    if !secret_service() {
        eprintln!("skipped: needs the Secret Service that scripts/test.sh starts");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let app = open(dir.path(), KeyringPreference::Auto).await;
    let profile = with_accounts(&app, &KEYS[..2]).await;
    assert_eq!(app.vault().await.unwrap().backend(), KeyringBackend::Os);
    assert!(!dir.path().join(KEY_FILE).exists(), "no key file next to the data");
    let other = open(dir.path(), KeyringPreference::Auto).await;
    assert_eq!(plain_keys(&other, &profile).await, KEYS[..2].to_vec());

    // The same database under another path has no keyring entry: a clear error, nothing lost.
    let moved = tempfile::tempdir().unwrap();
    let moved_app = match twitcher_testkit::postgres_database(dir.path()) {
        // On PostgreSQL the database stays where it is and a data dir elsewhere opens it.
        Some(url) => {
            let options = twitcher_core::Options { database: Some(url), ..twitcher_core::Options::from_env() };
            let options = twitcher_core::Options { keyring: KeyringPreference::Auto, ingest_list_url: "http://127.0.0.1:9/unreachable".into(), twitch: support::unreachable_twitch(), ..options };
            twitcher_core::Twitcher::open_with(moved.path(), options).await.unwrap()
        }
        None => {
            for (name, bytes) in support::database_bytes(dir.path()) {
                std::fs::write(moved.path().join(name), bytes).unwrap();
            }
            open(moved.path(), KeyringPreference::Auto).await
        }
    };
    let err = moved_app.vault().await.unwrap_err();
    assert!(matches!(err, VaultError::KeyMissing { sealed: 2, .. }), "{err:?}");
    assert!(!moved.path().join(KEY_FILE).exists());
}

#[tokio::test]
async fn rotation_can_move_the_key_from_the_os_keyring_to_a_key_file() {
    if !secret_service() {
        eprintln!("skipped: needs the Secret Service that scripts/test.sh starts");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let app = open(dir.path(), KeyringPreference::Os).await;
    let profile = with_accounts(&app, &KEYS[..2]).await;
    let to_file = open(dir.path(), KeyringPreference::File).await;
    assert_eq!(to_file.rotate_vault(&profile).await.unwrap().resealed, 2);
    assert!(dir.path().join(KEY_FILE).exists());
    let later = open(dir.path(), KeyringPreference::Auto).await;
    assert_eq!(later.vault().await.unwrap().backend(), KeyringBackend::File);
    assert_eq!(plain_keys(&later, &profile).await, KEYS[..2].to_vec());
}

fn account(name: &str, channel: &str) -> AccountInput {
    AccountInput { display_name: name.into(), channel_id: Some(channel.into()), login: None, ingest_server: None }
}

/// (cipher, nonce, tag) of an account's sealed stream key, as stored.
async fn stored_key(app: &Twitcher, id: i64) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    sqlx::query_as("SELECT stream_key_cipher, stream_key_nonce, stream_key_tag FROM twitch_accounts WHERE id = $1")
        .bind(id)
        .fetch_one(app.testing_db().testing_pool())
        .await
        .unwrap()
}

async fn store_key(app: &Twitcher, id: i64, (cipher, nonce, tag): (Vec<u8>, Vec<u8>, Vec<u8>)) {
    sqlx::query("UPDATE twitch_accounts SET stream_key_cipher = $1, stream_key_nonce = $2, stream_key_tag = $3 WHERE id = $4")
        .bind(cipher)
        .bind(nonce)
        .bind(tag)
        .bind(id)
        .execute(app.testing_db().testing_pool())
        .await
        .unwrap();
}

#[tokio::test]
async fn a_stream_key_left_by_a_deleted_account_does_not_open_for_the_profile_whose_account_reuses_its_id() {
    let dir = tempfile::tempdir().unwrap();
    let app = open(&dir.path().join("data"), KeyringPreference::File).await;
    let ana = profiles::register(&app, Some("Ana")).await.unwrap().profile;
    let bo = profiles::register(&app, Some("Bo")).await.unwrap().profile;
    let old = accounts::add(&app, &ana, &account("Ana's", "11"), "live_111111111_AnaSecretKeyAAAA").await.unwrap();
    let left = stored_key(&app, old.id).await;
    accounts::remove(&app, &ana, old.id).await.unwrap();
    let new = accounts::add(&app, &bo, &account("Bo's", "22"), "live_222222222_BoSecretKeyBBBBB").await.unwrap();
    // Its id comes back to Bo's new row (SQLite reuses the highest id after a delete; PostgreSQL's
    // sequence does not, so the test moves the row there), and the old ciphertext is put back.
    sqlx::query("UPDATE twitch_accounts SET id = $1 WHERE id = $2").bind(old.id).bind(new.id).execute(app.testing_db().testing_pool()).await.unwrap();
    store_key(&app, old.id, left).await;
    let refused = accounts::stream_key(&app, &bo, old.id).await.unwrap_err().to_string();
    assert!(refused.contains("failed its integrity check"), "{refused}");
    assert!(!refused.contains("AnaSecretKey"), "{refused}");
}

#[tokio::test]
async fn keys_sealed_before_owners_were_bound_are_sealed_again_once_and_still_open() {
    use twitcher_core::vault::SecretRef;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let app = open(&data, KeyringPreference::File).await;
    let ana = profiles::register(&app, Some("Ana")).await.unwrap().profile;
    let added = accounts::add(&app, &ana, &account("Old", "33"), "live_333333333_SealedTheOldWay").await.unwrap();
    // As an older Twitcher sealed it: table, row and field only.
    let v1 = app.vault().await.unwrap().seal(SecretRef { table: "twitch_accounts", row_id: added.id, field: "stream_key", binding: "" }, b"live_333333333_SealedTheOldWay");
    store_key(&app, added.id, (v1.cipher.clone(), v1.nonce, v1.tag)).await;
    sqlx::query("DELETE FROM settings WHERE key = 'vault.owners_bound'").execute(app.testing_db().testing_pool()).await.unwrap();

    // The next process to load the key binds the owner in — here a rotation, which loads it.
    let next = open(&data, KeyringPreference::File).await;
    next.rotate_vault(&ana).await.unwrap();
    assert_eq!(accounts::stream_key(&next, &ana, added.id).await.unwrap().as_str(), "live_333333333_SealedTheOldWay");
    let (cipher, _, _) = stored_key(&next, added.id).await;
    assert_ne!(cipher, v1.cipher, "sealed again");
    // Once: a third process finds nothing to do and the key still opens.
    let third = open(&data, KeyringPreference::File).await;
    assert_eq!(accounts::stream_key(&third, &ana, added.id).await.unwrap().as_str(), "live_333333333_SealedTheOldWay");
    assert_eq!(stored_key(&third, added.id).await.0, cipher);
}

/// Issue 29: a rotation that moves the key to another store leaves the old store's key there
/// only until a later start sees the new record — then it is deleted (a key file in the data dir
/// that still opened every backup would outlive the rotation otherwise).
#[tokio::test]
async fn a_rotation_to_another_store_removes_the_old_stores_key_once_a_later_start_sees_it_committed() {
    if !secret_service() {
        eprintln!("skipped: needs the Secret Service that scripts/test.sh starts");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (profile, old_key) = rotate_from_key_file_to_keyring(dir.path(), |_| {}).await;
    assert_eq!(std::fs::read(dir.path().join(KEY_FILE)).unwrap(), old_key, "kept until a start sees the rotation committed");
    let later = open(dir.path(), KeyringPreference::Auto).await;
    assert_eq!(later.vault().await.unwrap().backend(), KeyringBackend::Os);
    assert_eq!(plain_keys(&later, &profile).await, KEYS[..2].to_vec());
    assert!(!dir.path().join(KEY_FILE).exists(), "the old store's key is gone once the new record is seen");
    let again = open(dir.path(), KeyringPreference::Auto).await;
    assert_eq!(plain_keys(&again, &profile).await, KEYS[..2].to_vec(), "and nothing else went with it");
}

/// …and should that rotation's commit be lost, the old key is exactly what the database still
/// names, and it is still in its store.
#[tokio::test]
async fn a_rotation_to_another_store_whose_commit_is_lost_opens_every_secret_with_the_old_stores_key() {
    if !secret_service() {
        eprintln!("skipped: needs the Secret Service that scripts/test.sh starts");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    if twitcher_testkit::postgres_database(dir.path()).is_some() {
        eprintln!("skipped on PostgreSQL: its commits are synced before they return");
        return;
    }
    let before = std::sync::Mutex::new(Vec::new());
    let (profile, old_key) = rotate_from_key_file_to_keyring(dir.path(), |dir| *before.lock().unwrap() = support::database_bytes(dir)).await;
    // The commit is lost: the database is as it was before the rotation.
    for name in ["twitcher.db", "twitcher.db-wal", "twitcher.db-shm"] {
        let _ = std::fs::remove_file(dir.path().join(name));
    }
    for (name, bytes) in before.into_inner().unwrap() {
        std::fs::write(dir.path().join(name), bytes).unwrap();
    }
    let lost = open(dir.path(), KeyringPreference::Auto).await;
    assert_eq!(lost.vault().await.unwrap().backend(), KeyringBackend::File);
    assert_eq!(plain_keys(&lost, &profile).await, KEYS[..2].to_vec(), "every secret opens with the key file's key");
    assert_eq!(std::fs::read(dir.path().join(KEY_FILE)).unwrap(), old_key);
}

/// Two secrets sealed under a key file, then rotated into the OS keyring (`before_rotation` sees
/// the data dir with every app closed): (the profile, the key file's key).
async fn rotate_from_key_file_to_keyring(dir: &std::path::Path, before_rotation: impl FnOnce(&std::path::Path)) -> (Profile, Vec<u8>) {
    let app = open(dir, KeyringPreference::File).await;
    let profile = with_accounts(&app, &KEYS[..2]).await;
    let old_key = std::fs::read(dir.join(KEY_FILE)).unwrap();
    // Closed, not only dropped: a pool's connections close in the background, and the last one
    // checkpoints the WAL — into a copy being taken, or over one put back.
    app.close().await;
    drop(app);
    before_rotation(dir);
    let to_os = open(dir, KeyringPreference::Os).await;
    assert_eq!(to_os.rotate_vault(&profile).await.unwrap().resealed, 2);
    assert_eq!(to_os.vault().await.unwrap().backend(), KeyringBackend::Os);
    to_os.close().await;
    drop(to_os);
    (profile, old_key)
}
