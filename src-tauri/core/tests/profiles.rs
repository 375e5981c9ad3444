//! Profiles and the data layer against a real database (SQLite in a temp data dir, or the
//! suite's PostgreSQL).

mod support;

use twitcher_core::profiles::{self, Plan, PlanLimits, ProfileError, Role};
use twitcher_core::Twitcher;

async fn open() -> (tempfile::TempDir, Twitcher) {
    let dir = tempfile::tempdir().unwrap();
    let app = support::open_from_env(dir.path()).await;
    (dir, app)
}

#[tokio::test]
async fn migrations_run_twice_are_a_no_op() {
    let dir = tempfile::tempdir().unwrap();
    let first = support::open_from_env(dir.path()).await;
    profiles::register(&first, Some("Ana")).await.unwrap();
    let version = first.testing_db().schema_version().await.unwrap();
    first.close().await;

    let reopened = support::open_from_env(dir.path()).await;
    let second = reopened.testing_db();
    assert_eq!(second.schema_version().await.unwrap(), version);
    assert_eq!(second.applied_migrations().await.unwrap() as usize, second.known_migrations());
    assert_eq!(second.list_users().await.unwrap().len(), 1, "reopening kept the data");
}

#[tokio::test]
async fn the_schema_has_every_table_of_the_design() {
    let (_dir, app) = open().await;
    let tables = app.testing_db().table_names().await.unwrap();
    for table in ["users", "twitch_accounts", "videos", "prepared_media", "streams", "stream_events", "jobs"] {
        assert!(tables.iter().any(|t| t == table), "missing {table}: {tables:?}");
    }
    assert!(app.testing_db().schema_version().await.unwrap() > 0);
}

#[tokio::test]
async fn the_database_uses_wal_and_enforces_foreign_keys() {
    let (_dir, app) = open().await;
    let db = app.testing_db();
    if db.backend() == twitcher_core::db::Backend::Sqlite {
        assert_eq!(db.journal_mode().await.unwrap(), "wal");
    }
    assert!(db.foreign_keys().await.unwrap());
    // Enforced, not only switched on: a video of a profile that does not exist is refused.
    let orphan = sqlx::query("INSERT INTO videos (uploader_id, title) VALUES ($1, 'orphan')").bind(9_999_i64).execute(db.testing_pool()).await;
    assert!(orphan.is_err(), "a row pointing at no profile was stored");
}

/// Issue 30: on PostgreSQL, 40 registrations at once on an empty database made two ADMINs in 1
/// of 5 trials (the insert's "is there a profile yet" ran outside the write lock). Twenty trials
/// of forty, through both doors: the open one (the window, the CLI, `--registration open`) and
/// the first-profile-only one of a closed server.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_first_profile_is_the_only_admin_when_forty_register_at_once_in_twenty_trials() {
    for trial in 0..20 {
        let (_dir, app) = open().await;
        // A warm pool, as a running server has: the racing inserts are not spaced out by
        // connections being opened one after another.
        let pool = app.testing_db().testing_pool().clone();
        let mut held = Vec::new();
        for _ in 0..pool.options().get_max_connections() {
            held.push(pool.acquire().await.unwrap());
        }
        drop(held);
        let closed = trial % 2 == 1;
        let registrations = (0..40).map(|i| {
            let app = app.clone();
            tokio::spawn(async move {
                let name = format!("P{i}");
                match closed {
                    false => profiles::register(&app, Some(&name)).await.map(Some).unwrap(),
                    true => match profiles::register_as(&app, Some(&name), profiles::Registration::Closed, None).await {
                        Ok(created) => Some(created),
                        Err(ProfileError::RegistrationClosed(_)) => None,
                        Err(e) => panic!("{e}"),
                    },
                }
            })
        });
        let mut admins = 0;
        let mut made = 0;
        for handle in registrations {
            let Some(created) = handle.await.unwrap() else { continue };
            assert_eq!(created.uuid.get_version_num(), 4);
            assert_eq!(created.profile.plan, Plan::Free);
            admins += (created.profile.role == Role::Admin) as usize;
            made += 1;
        }
        assert_eq!(admins, 1, "trial {trial}: {made} profiles made");
        assert_eq!(made, if closed { 1 } else { 40 }, "trial {trial}");
        let roles: Vec<Role> = app.testing_db().list_users().await.unwrap().into_iter().map(|p| p.role).collect();
        assert_eq!(roles.iter().filter(|r| **r == Role::Admin).count(), 1, "trial {trial}: in the database");
        app.close().await;
    }
}

/// Issue 30, deterministically: another process's first registration is in flight (it holds
/// the write lock and has inserted its ADMIN, not committed yet). A registration now waits for it
/// and is a USER. Before, on PostgreSQL, it did not wait, saw no profile and made a second ADMIN.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registration_waits_for_one_in_flight_and_never_makes_a_second_admin() {
    let (_dir, app) = open().await;
    let mut other = app.testing_db().testing_begin_write().await.unwrap();
    sqlx::query("INSERT INTO users (uuid_hash, uuid_hint, name, role, session_key) VALUES ($1, 'abcd', 'Other', 'ADMIN', 'k')")
        .bind("0".repeat(64))
        .execute(&mut *other)
        .await
        .unwrap();
    let racing = tokio::spawn({
        let app = app.clone();
        async move { profiles::register(&app, Some("Racer")).await.unwrap() }
    });
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    other.commit().await.unwrap();
    let racer = racing.await.unwrap();
    assert_eq!(racer.profile.role, Role::User, "the in-flight profile is the ADMIN");
    let admins = app.testing_db().list_users().await.unwrap().into_iter().filter(|p| p.role == Role::Admin).count();
    assert_eq!(admins, 1);
}

/// Issue 30: SQLite's `users.id` without AUTOINCREMENT would hand a deleted profile's id — and
/// with it anything that still names that id — to the next profile. Ids are never reused.
#[tokio::test]
async fn a_deleted_profiles_id_is_never_given_to_another() {
    let (_dir, app) = open().await;
    profiles::register(&app, Some("Admin")).await.unwrap();
    let gone = profiles::register(&app, Some("Gone")).await.unwrap().profile;
    support::execute(&app, "DELETE FROM users WHERE id = $1", &[support::Bind::Int(gone.id)]).await;
    let next = profiles::register(&app, Some("Next")).await.unwrap().profile;
    assert!(next.id > gone.id, "{} after {}", next.id, gone.id);
    assert!(profiles::session_key(&app, gone.id).await.unwrap().is_none());
}

#[tokio::test]
async fn plans_carry_the_seed_limits_as_data() {
    let (_dir, app) = open().await;
    let gb = 1024u64.pow(3);
    assert_eq!(
        app.testing_db().plan_limits(Plan::Free).await.unwrap(),
        PlanLimits { max_accounts: Some(3), max_storage_bytes: Some(10 * gb), max_broadcasts: Some(1), max_live_encodes: Some(1), max_playlists: Some(20), max_schedules: Some(10), max_scheduled: Some(20) }
    );
    assert_eq!(
        app.testing_db().plan_limits(Plan::Pro).await.unwrap(),
        PlanLimits { max_accounts: Some(10), max_storage_bytes: Some(100 * gb), max_broadcasts: Some(5), max_live_encodes: Some(5), max_playlists: Some(200), max_schedules: Some(100), max_scheduled: Some(200) }
    );
    assert_eq!(
        app.testing_db().plan_limits(Plan::Enterprise).await.unwrap(),
        PlanLimits { max_accounts: None, max_storage_bytes: None, max_broadcasts: None, max_live_encodes: None, max_playlists: None, max_schedules: None, max_scheduled: None }
    );
    let created = profiles::register(&app, None).await.unwrap();
    assert_eq!(created.profile.limits.max_accounts, Some(3));
}

#[tokio::test]
async fn only_an_admin_changes_plans_and_the_new_limits_apply() {
    let (_dir, app) = open().await;
    let admin = profiles::register(&app, Some("Admin")).await.unwrap();
    let user = profiles::register(&app, Some("User")).await.unwrap();

    let refused = profiles::set_plan(&app, &user.profile, &admin.uuid.to_string(), Plan::Enterprise).await;
    assert!(matches!(refused, Err(ProfileError::NotAdmin { role: Role::User })), "{refused:?}");

    let changed = profiles::set_plan(&app, &admin.profile, &user.uuid.to_string(), Plan::Pro).await.unwrap();
    assert_eq!(changed.plan, Plan::Pro);
    assert_eq!(changed.limits.max_accounts, Some(10));
    let unknown = profiles::set_plan(&app, &admin.profile, &uuid::Uuid::new_v4().to_string(), Plan::Pro).await;
    assert!(matches!(unknown, Err(ProfileError::UnknownProfile)));
}

#[tokio::test]
async fn an_admin_lists_every_profile_and_a_user_only_itself() {
    let (_dir, app) = open().await;
    let admin = profiles::register(&app, Some("Admin")).await.unwrap();
    let user = profiles::register(&app, Some("User")).await.unwrap();
    assert_eq!(profiles::list(&app, &admin.profile).await.unwrap().len(), 2);
    let own = profiles::list(&app, &user.profile).await.unwrap();
    assert_eq!(own.len(), 1);
    assert_eq!(own[0].id, user.profile.id);
}

#[tokio::test]
async fn login_accepts_the_uuid_in_any_case_with_spaces_from_a_paste() {
    let (_dir, app) = open().await;
    let created = profiles::register(&app, None).await.unwrap();
    let pasted = format!("  {}\n", created.uuid.to_string().to_uppercase());
    assert_eq!(profiles::login(&app, &pasted).await.unwrap().id, created.profile.id);
}

#[tokio::test]
async fn the_active_profile_survives_reopening_and_sign_out_clears_it() {
    let dir = tempfile::tempdir().unwrap();
    let db = support::open_from_env(dir.path()).await;
    let created = profiles::register(&db, None).await.unwrap();
    profiles::set_active(&db, &created.profile).await.unwrap();
    db.close().await;

    let db = support::open_from_env(dir.path()).await;
    assert_eq!(profiles::active(&db).await.unwrap().map(|p| p.id), Some(created.profile.id));
    profiles::sign_out(&db).await.unwrap();
    assert!(profiles::active(&db).await.unwrap().is_none());
    assert!(matches!(profiles::resolve(&db, None).await, Err(ProfileError::NoActiveProfile)));
}

#[tokio::test]
async fn the_database_never_holds_a_profile_uuid_in_plaintext() {
    let dir = tempfile::tempdir().unwrap();
    let db = support::open_from_env(dir.path()).await;
    let created = profiles::register(&db, Some("Ana")).await.unwrap();
    profiles::login(&db, &created.uuid.to_string()).await.unwrap();
    db.close().await;

    let uuid = created.uuid.hyphenated().to_string();
    let simple = created.uuid.simple().to_string();
    // Every file of the data dir (the database's among them), and the database wherever it is.
    let mut stores = support::database_bytes(dir.path());
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            stores.push((path.display().to_string(), std::fs::read(&path).unwrap()));
        }
    }
    for (name, bytes) in stores {
        let text = String::from_utf8_lossy(&bytes).to_lowercase();
        assert!(!text.contains(&uuid) && !text.contains(&simple), "{name} holds the UUID");
    }
}

#[tokio::test]
async fn names_are_trimmed_defaulted_and_validated() {
    let (_dir, app) = open().await;
    assert_eq!(profiles::register(&app, Some("  Ana  ")).await.unwrap().profile.name, "Ana");
    assert_eq!(profiles::register(&app, Some("   ")).await.unwrap().profile.name, "Creator");
    let long = "x".repeat(65);
    assert!(matches!(profiles::register(&app, Some(&long)).await, Err(ProfileError::InvalidName(_))));
    assert!(matches!(profiles::register(&app, Some("a\u{7}b")).await, Err(ProfileError::InvalidName(_))));
    assert_eq!(app.testing_db().list_users().await.unwrap().len(), 2, "refused names created nothing");
}

#[tokio::test]
async fn only_an_admin_changes_what_the_whole_data_dir_shares_and_a_refusal_changes_nothing() {
    use twitcher_core::{alerts, broadcast, library, storage, twitch, Error, ErrorCode};
    let (_dir, app) = open().await;
    let ana = profiles::register(&app, Some("Ana")).await.unwrap().profile;
    let bo = profiles::register(&app, Some("Bo")).await.unwrap().profile;
    assert_eq!((ana.role, bo.role), (Role::Admin, Role::User));
    let s3 = storage::S3Settings { endpoint: Some("http://127.0.0.1:9".into()), bucket: "b".into(), region: "us-east-1".into(), access_key: "k".into(), path_style: true };

    // Every setter of a data-dir-wide setting refuses a USER, whichever surface calls it.
    let refusals: Vec<(&str, Error)> = vec![
        ("rotate the key", app.rotate_vault(&bo).await.unwrap_err().into()),
        ("import limit", library::set_max_file_bytes(&app, &bo, 1).await.unwrap_err().into()),
        ("S3", storage::save_settings(&app, &bo, &s3, Some("secret")).await.unwrap_err().into()),
        ("webhook", alerts::set_webhook_url(&app, &bo, "https://hooks.example.com/x").await.unwrap_err().into()),
        ("Twitch client id", twitch::set_client_id(&app, &bo, "abc123").await.unwrap_err().into()),
        ("loudness", broadcast::loudness::set_target(&app, &bo, -16.0).await.unwrap_err().into()),
        ("after a crash", broadcast::set_after_crash(&app, &bo, broadcast::AfterCrash::Restart).await.unwrap_err().into()),
    ];
    for (what, e) in &refusals {
        assert_eq!(e.code(), ErrorCode::NotAdmin, "{what}: {e}");
        assert!(e.to_string().contains("ADMIN"), "{what}: {e}");
    }
    // Nothing was changed by the refusals.
    assert_eq!(library::max_file_bytes(&app).await.unwrap(), library::DEFAULT_MAX_FILE_BYTES);
    assert_ne!(storage::status(&app).await.unwrap().source, storage::SettingsSource::Saved);
    assert_eq!(alerts::webhook_url(&app).await.unwrap(), None);
    assert_eq!(broadcast::after_crash(&app).await.unwrap(), broadcast::AfterCrash::Fail);

    // The ADMIN may.
    library::set_max_file_bytes(&app, &ana, 1234).await.unwrap();
    alerts::set_webhook_url(&app, &ana, "https://hooks.example.com/x").await.unwrap();
    broadcast::set_after_crash(&app, &ana, broadcast::AfterCrash::Restart).await.unwrap();
    assert_eq!(library::max_file_bytes(&app).await.unwrap(), 1234);
    assert_eq!(alerts::webhook_url(&app).await.unwrap().as_deref(), Some("https://hooks.example.com/x"));
    assert_eq!(broadcast::after_crash(&app).await.unwrap(), broadcast::AfterCrash::Restart);
}

/// Issue 31, item 12: SQLite cannot drop a NOT NULL, so migration 25 makes `twitch_accounts`
/// again. Run on a database as the previous release left it (migrations 1 to 24, with an account
/// that a stream and a Twitch-schedule row point at), it keeps every row and every reference, and
/// the references still act (removing the account cascades as before). SQLite only: PostgreSQL's
/// migration is one ALTER.
#[tokio::test]
async fn making_the_channel_id_optional_keeps_every_account_and_everything_that_points_at_it() {
    if std::env::var_os("TWITCHER_TEST_POSTGRES").is_some() {
        return;
    }
    use sqlx::{Connection, Row};
    let dir = tempfile::tempdir().unwrap();
    let migrations = dir.path().join("migrations");
    std::fs::create_dir(&migrations).unwrap();
    let source = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../migrations/sqlite");
    for entry in std::fs::read_dir(&source).unwrap().map(Result::unwrap) {
        let name = entry.file_name().into_string().unwrap();
        if name.as_str() < "20261207000025" {
            std::fs::copy(entry.path(), migrations.join(&name)).unwrap();
        }
    }
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    let url = format!("sqlite://{}?mode=rwc", data.join("twitcher.db").display());
    let mut old = sqlx::SqliteConnection::connect(&url).await.unwrap();
    sqlx::migrate::Migrator::new(migrations.as_path()).await.unwrap().run(&mut old).await.unwrap();
    for statement in [
        "INSERT INTO users (id, uuid_hash, uuid_hint, name, role) VALUES (1, printf('%064d', 1), 'abcd', 'Ana', 'ADMIN')",
        "INSERT INTO twitch_accounts (id, user_id, display_name, login, channel_id, stream_key_hint) VALUES (7, 1, 'Main', 'main', '1001', '1234')",
        "INSERT INTO streams (id, creator_id, twitch_account_id, broadcast_id, status) VALUES (5, 1, 7, 'b-1', 'ended')",
        "INSERT INTO schedules (id, owner_id, request, at_local, time_zone, next_at) VALUES (3, 1, '{}', '20:00', 'UTC', '2030-01-01T20:00:00.000Z')",
        "INSERT INTO schedule_on_twitch (schedule_id, account_id, segment_ids) VALUES (3, 7, '[\"s-1\"]')",
    ] {
        sqlx::query(statement).execute(&mut old).await.unwrap();
    }
    old.close().await.unwrap();

    let app = support::open_from_env(&data).await;
    let db = app.testing_db();
    assert_eq!(db.applied_migrations().await.unwrap() as usize, db.known_migrations());
    app.close().await;

    let mut new = sqlx::SqliteConnection::connect(&url).await.unwrap();
    let account = sqlx::query("SELECT display_name, channel_id, stream_key_hint FROM twitch_accounts WHERE id = 7").fetch_one(&mut new).await.unwrap();
    assert_eq!((account.get::<String, _>(0), account.get::<String, _>(1), account.get::<String, _>(2)), ("Main".into(), "1001".into(), "1234".into()));
    let stream: Option<i64> = sqlx::query_scalar("SELECT twitch_account_id FROM streams WHERE id = 5").fetch_one(&mut new).await.unwrap();
    assert_eq!(stream, Some(7), "the stream still points at its account");
    let on_twitch: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM schedule_on_twitch WHERE account_id = 7").fetch_one(&mut new).await.unwrap();
    assert_eq!(on_twitch, 1, "the Twitch-schedule row was not cascaded away");
    // Now optional, several accounts may lack one; and the references still act.
    sqlx::query("PRAGMA foreign_keys = ON").execute(&mut new).await.unwrap();
    for id in [8, 9] {
        sqlx::query("INSERT INTO twitch_accounts (id, user_id, display_name) VALUES ($1, 1, 'By hand')").bind(id).execute(&mut new).await.unwrap();
    }
    sqlx::query("DELETE FROM twitch_accounts WHERE id = 7").execute(&mut new).await.unwrap();
    let stream: Option<i64> = sqlx::query_scalar("SELECT twitch_account_id FROM streams WHERE id = 5").fetch_one(&mut new).await.unwrap();
    assert_eq!(stream, None, "ON DELETE SET NULL still acts");
    let on_twitch: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM schedule_on_twitch").fetch_one(&mut new).await.unwrap();
    assert_eq!(on_twitch, 0, "ON DELETE CASCADE still acts");
}
