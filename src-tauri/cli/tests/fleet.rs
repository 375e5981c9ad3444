//! A fleet: three `twitcher serve` nodes on one database, as real processes, publishing to
//! nginx-rtmp. On PostgreSQL (the suite's PostgreSQL stage) each node has its own data dir, as
//! separate machines would; on SQLite they share one data dir. The vault key comes from one key
//! file, as on servers.
//! - a node killed with SIGKILL: the others take its destinations over and the viewers' streams
//!   go on — one gap under 12 s, no timestamp going back — while the rest are untouched;
//! - upload budgets: no node holds more than its budget; a destination past every budget waits
//!   as `pending` with the reason, and is published once capacity frees.

use std::collections::HashMap;
use std::io::BufRead;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::{Command as StdCommand, Stdio};
use std::time::Duration;

use assert_cmd::Command;
use serde_json::{json, Value};
use twitcher_testkit::{make_video, output_within, wait_until, Guarded, Ingest, Moto, COMMAND_LIMIT};

const BUCKET: &str = "fleet-media";

/// 1000 + 160 kbps a destination.
const QUALITY: [&str; 6] = ["--fps", "30", "--video-bitrate", "1000", "--resolution", "320x180"];

/// Where the nodes keep their data and which database they share.
struct Fleet {
    root: tempfile::TempDir,
    /// PostgreSQL: one database for every node's data dir.
    database: Option<String>,
    key_file: PathBuf,
    /// The S3 endpoint every node shares (the seed's S3_* variables), if any.
    s3: Option<String>,
}

impl Fleet {
    fn new() -> Self {
        let root = tempfile::tempdir().unwrap();
        let database = twitcher_testkit::postgres_database(&root.path().join("node-0"));
        let key_file = root.path().join("vault.key");
        let key = format!("{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple());
        std::fs::write(&key_file, format!("{key}\n")).unwrap();
        std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o600)).unwrap();
        Self { root, database, key_file, s3: None }
    }

    /// Node `n`'s data dir: its own on PostgreSQL, the shared one on SQLite.
    fn data_dir(&self, n: usize) -> PathBuf {
        self.root.path().join(if self.database.is_some() { format!("node-{n}") } else { "node-0".into() })
    }

    fn env(&self, cmd: &mut StdCommand, n: usize) {
        cmd.arg("--data-dir").arg(self.data_dir(n)).env("TWITCHER_VAULT_KEY_FILE", &self.key_file).env_remove("TWITCHER_PROFILE").env_remove("DATABASE_URL");
        match &self.database {
            Some(url) => cmd.env("TWITCHER_DATABASE_URL", url),
            None => cmd.env_remove("TWITCHER_DATABASE_URL"),
        };
        if let Some(endpoint) = &self.s3 {
            cmd.env("S3_ENDPOINT", endpoint).env("S3_BUCKET_NAME", BUCKET).env("S3_ACCESS_KEY", "test").env("S3_SECRET_KEY", "fleet-secret-NeVeRlOgGeD").env("S3_REGION", "us-east-1");
        }
    }

    /// `twitcher` as on node 0's machine.
    fn twitcher(&self) -> Command {
        let mut std = StdCommand::new(assert_cmd::cargo::cargo_bin("twitcher"));
        self.env(&mut std, 0);
        let mut cmd = Command::from_std(std);
        cmd.timeout(COMMAND_LIMIT);
        cmd
    }

    /// Node `n`: `twitcher serve` allowed to publish to `ingest`, with an upload budget if
    /// given. Returns it with its API's base URL.
    fn node(&self, n: usize, ingest: &Ingest, upload_mbps: Option<f64>) -> Node {
        let mut cmd = StdCommand::new(assert_cmd::cargo::cargo_bin("twitcher"));
        self.env(&mut cmd, n);
        cmd.args(["--json", "serve", "--listen", "127.0.0.1:0", "--allow-ingest", &ingest.host_port()]);
        if let Some(mbps) = upload_mbps {
            cmd.args(["--upload-mbps", &mbps.to_string()]);
        }
        // Its log, for a failure's post-mortem (`--no-capture` shows where).
        let log = std::fs::File::create(self.root.path().join(format!("serve-{n}.log"))).unwrap();
        let mut process = Guarded::spawn(cmd.stdout(Stdio::piped()).stderr(log), "twitcher serve");
        let mut stdout = std::io::BufReader::new(process.take_stdout().unwrap());
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        std::thread::spawn(move || stdout.lines().count());
        let base = format!("http://{}", serde_json::from_str::<Value>(&line).unwrap_or_else(|e| panic!("{e}: {line}"))["listening"].as_str().unwrap());
        Node { process, base }
    }
}

struct Node {
    process: Guarded,
    base: String,
}

impl Fleet {
    /// `count` nodes with the same budget, once every one of them is alive: with a signed-in
    /// token for each.
    fn nodes(&self, count: usize, ingest: &Ingest, upload_mbps: Option<f64>, uuid: &str) -> (Vec<Node>, Vec<String>) {
        let nodes: Vec<Node> = (0..count).map(|n| self.node(n, ingest, upload_mbps)).collect();
        let tokens: Vec<String> = nodes.iter().map(|n| login(&n.base, uuid)).collect();
        wait_until(Duration::from_secs(20), "every node alive", || held(&nodes[0].base, &tokens[0]).len() == count);
        (nodes, tokens)
    }
}

fn json_ok(cmd: &mut Command) -> Value {
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
}

fn http() -> reqwest::blocking::Client {
    // Idle pooled connections are dropped before `serve`'s header timeout (10 s) closes them.
    reqwest::blocking::Client::builder().timeout(Duration::from_secs(30)).pool_idle_timeout(Duration::from_secs(5)).build().unwrap()
}

/// The first profile (an ADMIN), a 20 s clip prepared at [`QUALITY`] and one account per key:
/// (profile uuid, video id, account ids).
fn library(fleet: &Fleet, ingest: &Ingest, keys: &[String]) -> (String, i64, Vec<i64>) {
    let profile = json_ok(fleet.twitcher().args(["--json", "profile", "create", "--name", "Fleet admin"]));
    let uuid = profile["uuid"].as_str().unwrap().to_string();
    // Seven channels: more than the FREE plan links.
    json_ok(fleet.twitcher().env("TWITCHER_PROFILE", &uuid).args(["--json", "profile", "set-plan", &uuid, "ENTERPRISE"]));
    let clip = make_video(fleet.root.path(), "clip", "mp4", &["-t", "20"]);
    let video = json_ok(fleet.twitcher().arg("--json").arg("video").arg("import").arg(&clip))[0]["id"].as_i64().unwrap();
    let mut accounts = Vec::new();
    for (i, key) in keys.iter().enumerate() {
        let account = json_ok(
            fleet
                .twitcher()
                .args(["--json", "account", "add", "--name", &format!("Channel {i}"), "--channel-id", &(700 + i).to_string(), "--ingest", &ingest.server()])
                .write_stdin(key.as_str()),
        );
        accounts.push(account["id"].as_i64().unwrap());
    }
    json_ok(fleet.twitcher().args(["--json", "video", "prepare", &video.to_string()]).args(QUALITY));
    (uuid, video, accounts)
}

fn login(base: &str, uuid: &str) -> String {
    let login: Value = http().post(format!("{base}/api/auth/login")).json(&json!({ "uuid": uuid })).send().unwrap().json().unwrap();
    login["token"].as_str().unwrap().to_string()
}

fn get(base: &str, token: &str, path: &str) -> Value {
    let response = http().get(format!("{base}{path}")).bearer_auth(token).send().unwrap();
    assert!(response.status().is_success(), "GET {path}: {}", response.status());
    response.json().unwrap()
}

fn post(base: &str, token: &str, path: &str, body: Value) -> Value {
    let response = http().post(format!("{base}{path}")).bearer_auth(token).json(&body).send().unwrap();
    let status = response.status();
    let body: Value = response.json().unwrap();
    assert!(status.is_success(), "POST {path}: {status} {body}");
    body
}

fn start_body(video: i64, accounts: &[i64]) -> Value {
    json!({ "video_id": video, "account_ids": accounts, "title": "Night loop", "loop": true,
            "fps": 30, "video_bitrate_k": 1000, "audio_bitrate_k": 160, "resolution": "320x180" })
}

/// The broadcast's rows as the API lists them: stream id → (status, node, error).
fn rows(base: &str, token: &str, broadcast: &str) -> HashMap<i64, (String, Option<String>, Option<String>)> {
    let all = get(base, token, "/api/streams");
    all.as_array()
        .unwrap()
        .iter()
        .filter(|r| r["broadcast_id"] == broadcast)
        .map(|r| {
            let text = |k: &str| r[k].as_str().map(str::to_string);
            (r["id"].as_i64().unwrap(), (text("status").unwrap(), text("node"), text("error")))
        })
        .collect()
}

/// Node id → destinations held, for the nodes alive.
fn held(base: &str, token: &str) -> HashMap<String, i64> {
    let nodes = get(base, token, "/api/nodes");
    nodes.as_array().unwrap().iter().filter(|n| n["alive"] == true).map(|n| (n["id"].as_str().unwrap().to_string(), n["destinations"].as_i64().unwrap())).collect()
}

fn keys(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("live_{}_{prefix}{i}", 900 + i)).collect()
}

#[test]
fn a_killed_node_s_destinations_are_taken_over_and_every_stream_goes_on_without_going_back() {
    let fleet = Fleet::new();
    let ingest = Ingest::start();
    let keys = keys("takeover", 6);
    let (uuid, video, accounts) = library(&fleet, &ingest, &keys);
    let (mut nodes, tokens) = fleet.nodes(3, &ingest, None, &uuid);
    let watches: Vec<_> = keys.iter().map(|k| ingest.watch(k)).collect();

    // Started through node A; the nodes share the destinations.
    let started = post(&nodes[0].base, &tokens[0], "/api/streams/start", start_body(video, &accounts));
    let broadcast = started["broadcast_id"].as_str().unwrap().to_string();
    let a = nodes[0].base.clone();
    wait_until(Duration::from_secs(60), "every destination live", || rows(&a, &tokens[0], &broadcast).values().all(|r| r.0 == "live"));
    let before = rows(&a, &tokens[0], &broadcast);
    let by_node = held(&a, &tokens[0]);
    eprintln!("destinations per node: {by_node:?}");
    assert!(by_node.values().all(|n| *n >= 1), "every node publishes some: {by_node:?}");
    std::thread::sleep(Duration::from_secs(4));

    // The node holding the most dies at once.
    let victim_id = by_node.iter().max_by_key(|(_, n)| **n).unwrap().0.clone();
    let victim = (0..3).find(|i| node_id(&nodes[*i], &tokens[*i]) == victim_id).expect("the node's own row names its address");
    let moved: Vec<i64> = before.iter().filter(|(_, r)| r.1.as_deref() == Some(victim_id.as_str())).map(|(id, _)| *id).collect();
    eprintln!("killing node {victim} ({victim_id}), which publishes streams {moved:?}");
    nodes[victim].process.crash();
    let survivor = if victim == 2 { &nodes[1] } else { &nodes[2] };
    let token = if victim == 2 { &tokens[1] } else { &tokens[2] };
    // Each change of the rows is printed: a timeout then shows where the takeover stopped.
    let mut seen = HashMap::new();
    wait_until(Duration::from_secs(40), "the moved destinations live on other nodes", || {
        let now = rows(&survivor.base, token, &broadcast);
        if now != seen {
            eprintln!("rows (status, node, error): {now:?}");
            seen = now.clone();
        }
        moved.iter().all(|id| now[id].0 == "live" && now[id].1.as_deref().is_some_and(|n| n != victim_id))
    });
    std::thread::sleep(Duration::from_secs(4));

    // Stopped through node C (or B, when C was the one killed): every destination ends.
    let stopper = if victim == 2 { (&nodes[1], &tokens[1]) } else { (&nodes[2], &tokens[2]) };
    let stopped = post(&stopper.0.base, stopper.1, "/api/streams/stop", json!({ "broadcast_id": broadcast }));
    assert_eq!(stopped["stopped"], 6, "{stopped}");
    wait_until(Duration::from_secs(30), "every destination ended", || rows(&stopper.0.base, stopper.1, &broadcast).values().all(|r| r.0 == "ended"));

    for ((stream_id, key), watch) in before.keys().copied().collect::<std::collections::BTreeSet<_>>().into_iter().zip(&keys).zip(watches) {
        let sessions = watch.finish();
        let packets: Vec<(f64, bool)> = sessions.iter().flatten().copied().collect();
        let steps: Vec<(f64, f64)> = packets.windows(2).map(|w| (w[0].0, w[1].0 - w[0].0)).collect();
        let gaps: Vec<&(f64, f64)> = steps.iter().filter(|(_, step)| *step > 0.5).collect();
        let spans: Vec<(f64, f64)> = sessions.iter().map(|s| (s[0].0, s[s.len() - 1].0)).collect();
        eprintln!("{key} (stream {stream_id}): publishes seen {spans:?}, gaps (at, length) {gaps:?}");
        // Live for about 8 s around the takeover, whose gap is at most 12 s.
        assert!(packets.len() > 30 * 6, "{key}: the viewer saw only {} frames", packets.len());
        assert!(steps.iter().all(|(_, step)| *step > 0.0), "{key}: a timestamp went back or repeated: {:?}", steps.iter().find(|(_, s)| *s <= 0.0));
        if moved.contains(&stream_id) {
            assert_eq!(gaps.len(), 1, "{key} moved: one gap, at the takeover: {gaps:?}");
            assert!(gaps[0].1 < 12.0, "{key} moved: the gap was {:.1} s", gaps[0].1);
        } else {
            assert!(gaps.is_empty(), "{key} stayed: no gap at all: {gaps:?}");
        }
    }
    assert!(!moved.is_empty(), "the killed node published something");
}

#[test]
fn a_node_shutting_down_hands_its_destinations_to_another_and_they_go_on_after_a_short_gap() {
    let fleet = Fleet::new();
    let ingest = Ingest::start();
    let keys = keys("handover", 4);
    let (uuid, video, accounts) = library(&fleet, &ingest, &keys);
    let (mut nodes, tokens) = fleet.nodes(2, &ingest, None, &uuid);
    let (base, token) = (nodes[1].base.clone(), tokens[1].clone());
    let watches: Vec<_> = keys.iter().map(|k| ingest.watch(k)).collect();
    let started = post(&nodes[0].base, &tokens[0], "/api/streams/start", start_body(video, &accounts));
    let broadcast = started["broadcast_id"].as_str().unwrap().to_string();
    wait_until(Duration::from_secs(60), "every destination live", || rows(&base, &token, &broadcast).values().all(|r| r.0 == "live"));
    let leaving = node_id(&nodes[0], &tokens[0]);
    let moved: Vec<i64> = rows(&base, &token, &broadcast).iter().filter(|(_, r)| r.1.as_deref() == Some(leaving.as_str())).map(|(id, _)| *id).collect();
    assert_eq!(moved.len(), 2, "each node publishes its share");
    std::thread::sleep(Duration::from_secs(3));

    // SIGTERM: node A hands its two over to B before it exits.
    unsafe { libc::kill(nodes[0].process.id() as i32, libc::SIGTERM) };
    assert!(nodes[0].process.wait_within(Duration::from_secs(20)).success(), "the node ends cleanly");
    wait_until(Duration::from_secs(20), "A's destinations live on B", || {
        let now = rows(&base, &token, &broadcast);
        now.values().all(|r| r.0 == "live" && r.1.as_deref().is_some_and(|n| n != leaving))
    });
    std::thread::sleep(Duration::from_secs(3));
    post(&base, &token, "/api/streams/stop", json!({ "broadcast_id": broadcast }));
    wait_until(Duration::from_secs(30), "every destination ended", || rows(&base, &token, &broadcast).values().all(|r| r.0 == "ended"));

    let ids: std::collections::BTreeSet<i64> = rows(&base, &token, &broadcast).keys().copied().collect();
    for ((stream_id, key), watch) in ids.into_iter().zip(&keys).zip(watches) {
        let packets: Vec<(f64, bool)> = watch.finish().into_iter().flatten().collect();
        let steps: Vec<(f64, f64)> = packets.windows(2).map(|w| (w[0].0, w[1].0 - w[0].0)).collect();
        let gaps: Vec<&(f64, f64)> = steps.iter().filter(|(_, step)| *step > 0.5).collect();
        eprintln!("{key} (stream {stream_id}): gaps (at, length) {gaps:?}");
        assert!(steps.iter().all(|(_, step)| *step > 0.0), "{key}: a timestamp went back or repeated");
        if moved.contains(&stream_id) {
            assert!(gaps.len() == 1 && gaps[0].1 < 5.0, "{key} handed over: one short gap: {gaps:?}");
        } else {
            assert!(gaps.is_empty(), "{key} stayed: no gap at all: {gaps:?}");
        }
    }
}

#[test]
fn a_video_uploaded_through_one_node_is_streamed_by_another_from_s3_and_prepared_once() {
    let mut fleet = Fleet::new();
    let (Some(url), Some(moto)) = (fleet.database.clone(), Moto::start()) else {
        eprintln!("skipped: runs in the PostgreSQL stage of scripts/test.sh (machines with their own data dirs), with moto");
        return;
    };
    moto.create_bucket(BUCKET);
    fleet.s3 = Some(moto.endpoint.clone());
    let ingest = Ingest::start();
    let key = "live_950_fromTheBucket";
    let uuid = json_ok(fleet.twitcher().args(["--json", "profile", "create", "--name", "Fleet admin"]))["uuid"].as_str().unwrap().to_string();
    let account = json_ok(fleet.twitcher().args(["--json", "account", "add", "--name", "Bucket", "--channel-id", "950", "--ingest", &ingest.server()]).write_stdin(key))["id"]
        .as_i64()
        .unwrap();
    // A has no room for a destination (0.5 Mb/s): B publishes whatever A is asked for.
    let (a, b) = (fleet.node(0, &ingest, Some(0.5)), fleet.node(1, &ingest, None));
    let (token_a, token_b) = (login(&a.base, &uuid), login(&b.base, &uuid));
    wait_until(Duration::from_secs(20), "two nodes alive", || held(&a.base, &token_a).len() == 2);
    let b_id = node_id(&b, &token_b);

    // Uploaded through A: stored in the bucket, no copy left in A's library.
    let clip = make_video(fleet.root.path(), "clip", "mp4", &["-t", "8"]);
    let form = reqwest::blocking::multipart::Form::new().part("file", reqwest::blocking::multipart::Part::bytes(std::fs::read(&clip).unwrap()).file_name("clip.mp4"));
    let uploaded: Value = http().post(format!("{}/api/videos/upload", a.base)).bearer_auth(&token_a).multipart(form).send().unwrap().json().unwrap();
    assert_eq!(uploaded["storage"], "s3", "{uploaded}");
    let video = uploaded["id"].as_i64().unwrap();
    let videos_on = |n: usize| -> Vec<String> {
        let files = std::fs::read_dir(fleet.data_dir(n).join("library")).map(|d| d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect::<Vec<String>>());
        files.unwrap_or_default().into_iter().filter(|f: &String| f.ends_with(".mp4")).collect()
    };
    assert_eq!(videos_on(0), Vec::<String>::new(), "the upload is in the bucket, not on node A");

    // Streamed by B: it fetches the video from the bucket (a real-time encode while the
    // preparation runs once, on whichever node claims the job, and lands in the bucket).
    let body = json!({ "video_id": video, "account_ids": [account], "loop": true, "fps": 30, "video_bitrate_k": 1000, "audio_bitrate_k": 160, "resolution": "320x180" });
    let started = post(&a.base, &token_a, "/api/streams/start", body.clone());
    let broadcast = started["broadcast_id"].as_str().unwrap().to_string();
    wait_until(Duration::from_secs(60), "the stream live on B", || {
        rows(&a.base, &token_a, &broadcast).values().all(|r| r.0 == "live" && r.1.as_deref() == Some(b_id.as_str()))
    });
    let psql = |sql: &str| String::from_utf8(output_within(StdCommand::new("psql").args([url.as_str(), "-tAc", sql]), COMMAND_LIMIT).stdout).unwrap().trim().to_string();
    wait_until(Duration::from_secs(120), "the preparation done", || psql("SELECT status FROM jobs WHERE kind = 'prepare'") == "succeeded");
    let prepared_in_bucket = || http().get(format!("{}/{BUCKET}?list-type=2&prefix=twitcher/prepared/", moto.endpoint)).send().unwrap().text().unwrap();
    assert!(prepared_in_bucket().contains(".flv</Key>"), "the prepared copy is in the bucket: {}", prepared_in_bucket());
    wait_until(Duration::from_secs(30), "the stream at the ingest", || ingest.recording(key).exists());
    post(&a.base, &token_a, "/api/streams/stop", json!({ "broadcast_id": broadcast }));
    wait_until(Duration::from_secs(30), "the broadcast ended", || rows(&a.base, &token_a, &broadcast).values().all(|r| r.0 == "ended"));

    // Machines without the files: only the bucket has them. Started again, B streams the
    // prepared copy it fetches from the bucket; nothing is prepared a second time.
    for n in 0..2 {
        for dir in ["prepared", "cache"] {
            let _ = std::fs::remove_dir_all(fleet.data_dir(n).join(dir));
        }
    }
    let again = post(&a.base, &token_a, "/api/streams/start", body);
    let again = again["broadcast_id"].as_str().unwrap().to_string();
    wait_until(Duration::from_secs(60), "live again on B", || rows(&a.base, &token_a, &again).values().all(|r| r.0 == "live"));
    let cached: Vec<String> = std::fs::read_dir(fleet.data_dir(1).join("cache")).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    assert!(cached.iter().any(|f| f.ends_with(".flv")), "B fetched the prepared copy: {cached:?}");
    assert_eq!(psql("SELECT COUNT(*) FROM jobs WHERE kind = 'prepare'"), "1", "prepared once");
    post(&a.base, &token_a, "/api/streams/stop", json!({ "broadcast_id": again }));
    wait_until(Duration::from_secs(30), "the broadcast ended", || rows(&a.base, &token_a, &again).values().all(|r| r.0 == "ended"));
}

#[test]
fn nodes_started_at_the_same_moment_on_a_fresh_database_with_one_key_file_all_start() {
    let fleet = Fleet::new();
    let ingest = Ingest::start();
    let uuid = json_ok(fleet.twitcher().args(["--json", "profile", "create", "--name", "Fleet admin"]))["uuid"].as_str().unwrap().to_string();
    // Nothing sealed yet: the first node to start seals the API's signing key while the others
    // check the key file against the database. All spawned before any is waited for.
    let log = |n: usize| fleet.root.path().join(format!("serve-{n}.log"));
    let mut starting: Vec<Guarded> = (0..4)
        .map(|n| {
            let mut cmd = StdCommand::new(assert_cmd::cargo::cargo_bin("twitcher"));
            fleet.env(&mut cmd, n);
            cmd.args(["--json", "serve", "--listen", "127.0.0.1:0", "--allow-ingest", &ingest.host_port()]);
            Guarded::spawn(cmd.stdout(Stdio::piped()).stderr(std::fs::File::create(log(n)).unwrap()), "twitcher serve")
        })
        .collect();
    for (n, node) in starting.iter_mut().enumerate() {
        let mut stdout = std::io::BufReader::new(node.take_stdout().unwrap());
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        std::thread::spawn(move || stdout.lines().count());
        assert!(line.contains("listening"), "node {n} starts: {}", std::fs::read_to_string(log(n)).unwrap_or_default());
    }
    wait_until(Duration::from_secs(20), "four nodes listed", || {
        let nodes = json_ok(fleet.twitcher().env("TWITCHER_PROFILE", &uuid).args(["--json", "node", "list"]));
        nodes.as_array().unwrap().iter().filter(|n| n["alive"] == true).count() == 4
    });
}

/// The id of the node whose API is at `node.base` (its own row: the one whose address it has).
fn node_id(node: &Node, token: &str) -> String {
    let nodes = get(&node.base, token, "/api/nodes");
    let address = node.base.trim_start_matches("http://");
    nodes.as_array().unwrap().iter().find(|n| n["address"] == address).map(|n| n["id"].as_str().unwrap().to_string()).unwrap_or_default()
}

#[test]
fn nodes_never_hold_more_than_their_upload_budget_and_a_destination_past_every_budget_waits_as_pending_until_one_frees() {
    let fleet = Fleet::new();
    let ingest = Ingest::start();
    let keys = keys("budget", 7);
    let (uuid, video, accounts) = library(&fleet, &ingest, &keys);
    // 2.4 Mb/s: room for two destinations of 1.16 Mb/s, not three.
    let (nodes, tokens) = fleet.nodes(3, &ingest, Some(2.4), &uuid);
    let (base, token) = (&nodes[0].base, &tokens[0]);

    // One signing key for the fleet (sealed in the database): a token from one node works on all.
    assert!(get(&nodes[2].base, &tokens[1], "/api/streams").is_array());
    let started = post(&nodes[1].base, &tokens[1], "/api/streams/start", start_body(video, &accounts));
    let broadcast = started["broadcast_id"].as_str().unwrap().to_string();
    let mut most = 0;
    wait_until(Duration::from_secs(60), "six destinations live and one waiting", || {
        most = most.max(held(base, token).values().copied().max().unwrap_or(0));
        let now = rows(base, token, &broadcast);
        now.values().filter(|r| r.0 == "live").count() == 6 && now.values().filter(|r| r.0 == "pending").count() == 1
    });
    for _ in 0..3 {
        most = most.max(held(base, token).values().copied().max().unwrap_or(0));
        std::thread::sleep(Duration::from_secs(1));
    }
    assert_eq!(most, 2, "no node ever held more than its budget allows");
    let now = rows(base, token, &broadcast);
    let (waiting, row) = now.iter().find(|(_, r)| r.0 == "pending").unwrap();
    let reason = row.2.clone().unwrap_or_default();
    assert!(reason.contains("upload capacity") && reason.contains("1.2 Mb/s"), "the reason says why it waits: {reason}");
    assert!(row.1.is_none(), "no node holds it");
    let pending_key = &keys[accounts.iter().position(|a| {
        let all = get(base, token, "/api/streams");
        all.as_array().unwrap().iter().any(|r| r["id"] == *waiting && r["account_id"] == *a)
    })
    .unwrap()];
    assert!(!ingest.recording(pending_key).exists(), "nothing was published for it");

    // One destination stopped: its node has room, and the waiting one goes live there.
    let (stopped_id, _) = now.iter().find(|(_, r)| r.0 == "live").unwrap();
    post(base, token, "/api/streams/stop", json!({ "stream_id": stopped_id }));
    wait_until(Duration::from_secs(30), "the waiting destination live", || rows(base, token, &broadcast)[waiting].0 == "live");
    assert!(held(base, token).values().all(|n| *n <= 2), "{:?}", held(base, token));
    wait_until(Duration::from_secs(30), "its stream at the ingest", || ingest.recording(pending_key).exists());

    post(base, token, "/api/streams/stop", json!({ "broadcast_id": broadcast }));
    wait_until(Duration::from_secs(30), "every destination ended", || rows(base, token, &broadcast).values().all(|r| r.0 == "ended"));
}
