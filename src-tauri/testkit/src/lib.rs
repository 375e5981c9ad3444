//! Real parts for Twitcher's tests, shared by every crate's test suite: test media made by ffmpeg,
//! an RTMP ingest (nginx with the RTMP module), an S3-compatible server (moto) and a fake Twitch
//! API ([`twitch`]: only Twitch itself is faked).
//! None of this is in the product.

pub mod process;
pub mod twitch;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

pub use process::{children_named, output_within, wait_until, Guarded, COMMAND_LIMIT};

/// Long enough for any one-shot helper (a 4 s test clip, a probe, a certificate) on a busy machine.
const HELPER_LIMIT: Duration = Duration::from_secs(120);

/// Makes a 4-second 640x360 25 fps test video with a 330 Hz tone in `container`, the way
/// TOOLCHAIN.md verified for Debian's ffmpeg. `extra` goes before the output path.
pub fn make_video(dir: &Path, name: &str, extension: &str, extra: &[&str]) -> std::path::PathBuf {
    let codecs: &[&str] = match extension {
        "mp4" | "mov" => &["-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac"],
        "webm" => &["-c:v", "libvpx-vp9", "-b:v", "300k", "-deadline", "realtime", "-cpu-used", "8", "-c:a", "libopus"],
        "ogg" => &["-c:v", "libtheora", "-c:a", "libvorbis"],
        "avi" => &["-c:v", "mpeg4", "-c:a", "libmp3lame"],
        "wmv" => &["-c:v", "wmv2", "-c:a", "wmav2"],
        "flv" => &["-c:v", "flv", "-c:a", "libmp3lame", "-ar", "44100"],
        "mkv" => &["-c:v", "libx264", "-c:a", "aac"],
        other => panic!("no recipe for {other}"),
    };
    let out = dir.join(format!("{name}.{extension}"));
    let made = output_within(
        Command::new("ffmpeg")
            .args(["-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25"])
            .args(["-f", "lavfi", "-i", "sine=frequency=330:sample_rate=44100", "-t", "4", "-shortest"])
            .args(codecs)
            .args(extra)
            .arg(&out),
        HELPER_LIMIT,
    );
    assert!(made.status.success(), "ffmpeg could not make {}: {}", out.display(), String::from_utf8_lossy(&made.stderr));
    out
}

/// Cuts a file to `fraction` of its size, as an interrupted copy would.
pub fn truncate(path: &Path, fraction: f64) {
    let len = std::fs::metadata(path).unwrap().len();
    let file = std::fs::OpenOptions::new().write(true).open(path).unwrap();
    file.set_len((len as f64 * fraction) as u64).unwrap();
}

/// A real RTMP ingest: nginx with the RTMP module on loopback, recording each stream key to
/// `record_dir/<key>.flv` (appending across reconnects), with `rtmp_control` on an HTTP port to
/// drop a publisher. Stopped on drop (nginx's group: the master and its workers).
pub struct Ingest {
    nginx: Guarded,
    conf: PathBuf,
    pub rtmp_port: u16,
    pub http_port: u16,
    /// With [`Ingest::start_with_tls`]: the RTMPS port, and the test CA to trust.
    pub tls: Option<(u16, PathBuf)>,
    pub record_dir: PathBuf,
    _dir: tempfile::TempDir,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl Ingest {
    pub fn start() -> Self {
        Self::launch(false)
    }

    /// Also RTMPS: nginx's stream module terminates TLS with a fresh self-signed certificate for
    /// 127.0.0.1 and passes the bytes to the RTMP port.
    pub fn start_with_tls() -> Self {
        Self::launch(true)
    }

    fn launch(with_tls: bool) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let record_dir = dir.path().join("records");
        std::fs::create_dir_all(&record_dir).unwrap();
        let (rtmp_port, http_port) = (free_port(), free_port());
        // nginx's workers would run as nobody and could not write the records when we are root.
        #[cfg(unix)]
        let user = if unsafe { libc::geteuid() } == 0 { "user root;" } else { "" };
        #[cfg(not(unix))]
        let user = "";
        let config = format!(
            "load_module /usr/lib/nginx/modules/ngx_rtmp_module.so;\n{user}\nworker_processes 1;\ndaemon off;\n\
             pid {d}/nginx.pid;\nerror_log {d}/error.log warn;\nevents {{ worker_connections 256; }}\n\
             rtmp {{ access_log {d}/rtmp-access.log; server {{ listen 127.0.0.1:{rtmp_port}; chunk_size 4096;\n\
               application app {{ live on; record all; record_path {r}; record_unique off; record_append on; }} }} }}\n\
             http {{ access_log off; client_body_temp_path {d}/body; proxy_temp_path {d}/proxy; fastcgi_temp_path {d}/fastcgi; \
               uwsgi_temp_path {d}/uwsgi; scgi_temp_path {d}/scgi;\n\
               server {{ listen 127.0.0.1:{http_port}; location /control {{ rtmp_control all; }} }} }}\n",
            d = dir.path().display(),
            r = record_dir.display(),
        );
        let mut config = config;
        let mut tls = None;
        if with_tls {
            // A test CA and a certificate for 127.0.0.1 signed by it (rustls will not accept a
            // self-signed CA certificate as the server's own).
            let p = |name: &str| dir.path().join(name);
            let openssl = |args: &[&str]| {
                let ok = output_within(Command::new("openssl").current_dir(dir.path()).args(args), HELPER_LIMIT).status.success();
                assert!(ok, "openssl {args:?}");
            };
            openssl(&["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=Twitcher test CA", "-keyout", "ca.key", "-out", "ca.pem"]);
            openssl(&["req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1", "-keyout", "key.pem", "-out", "req.csr"]);
            std::fs::write(p("ext.cnf"), "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n").unwrap();
            openssl(&["x509", "-req", "-in", "req.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-days", "1", "-extfile", "ext.cnf", "-out", "cert.pem"]);
            let (cert, key) = (p("cert.pem"), p("key.pem"));
            let tls_port = free_port();
            config = format!(
                "load_module /usr/lib/nginx/modules/ngx_stream_module.so;\n{config}\n\
                 stream {{ server {{ listen 127.0.0.1:{tls_port} ssl; ssl_certificate {}; ssl_certificate_key {}; \
                 proxy_pass 127.0.0.1:{rtmp_port}; }} }}\n",
                cert.display(),
                key.display()
            );
            tls = Some((tls_port, p("ca.pem")));
        }
        let conf = dir.path().join("nginx.conf");
        std::fs::write(&conf, config).unwrap();
        let nginx = spawn_nginx(&conf, rtmp_port);
        Self { nginx, conf, rtmp_port, http_port, tls, record_dir, _dir: dir }
    }

    pub fn server(&self) -> String {
        format!("rtmp://127.0.0.1:{}/app", self.rtmp_port)
    }

    /// `HOST:PORT` of the RTMP listener, as `serve --allow-ingest` takes it.
    pub fn host_port(&self) -> String {
        format!("127.0.0.1:{}", self.rtmp_port)
    }

    /// Kills nginx and starts it again on the same ports, as a crashed or redeployed ingest would.
    pub fn restart(&mut self) {
        self.nginx.end();
        self.nginx = spawn_nginx(&self.conf, self.rtmp_port);
    }

    /// Kills nginx, as an ingest that went down: publishes to it fail until [`Ingest::start_again`].
    pub fn stop(&mut self) {
        self.nginx.end();
    }

    /// Starts nginx again on the same ports after [`Ingest::stop`].
    pub fn start_again(&mut self) {
        self.nginx = spawn_nginx(&self.conf, self.rtmp_port);
    }

    /// `rtmps://127.0.0.1:PORT/app` (only after [`Ingest::start_with_tls`]).
    pub fn tls_server(&self) -> String {
        format!("rtmps://127.0.0.1:{}/app", self.tls.as_ref().expect("started with TLS").0)
    }

    pub fn recording(&self, key: &str) -> PathBuf {
        self.record_dir.join(format!("{key}.flv"))
    }

    /// How many publish sessions for `key` have ended, from nginx-rtmp's access log (a session
    /// is logged when its connection closes). A bandwidth test counts too.
    pub fn publishes(&self, key: &str) -> usize {
        let log = std::fs::read_to_string(self._dir.path().join("rtmp-access.log")).unwrap_or_default();
        let needle = format!("PUBLISH \"app\" \"{key}\"");
        log.lines().filter(|l| l.contains(&needle)).count()
    }

    /// Cuts the publisher of `key` off mid-stream, as a network failure would.
    pub fn drop_publisher(&self, key: &str) {
        let mut s = std::net::TcpStream::connect(("127.0.0.1", self.http_port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        use std::io::{Read, Write};
        write!(s, "GET /control/drop/publisher?app=app&name={key} HTTP/1.0\r\nHost: x\r\n\r\n").unwrap();
        let mut answer = String::new();
        s.read_to_string(&mut answer).unwrap();
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    }
}

/// nginx (Debian packages nginx and libnginx-mod-rtmp). Ending it sends SIGTERM first: nginx's
/// fast shutdown, which also ends its workers and closes their connections.
fn spawn_nginx(conf: &Path, rtmp_port: u16) -> Guarded {
    let dir = conf.parent().unwrap();
    let nginx = Guarded::spawn(
        Command::new("nginx").arg("-c").arg(conf).arg("-p").arg(dir).stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null()),
        "nginx",
    );
    let started = std::time::Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", rtmp_port)).is_err() {
        // `nginx` is dropped (and ended) by the panic.
        assert!(started.elapsed() < Duration::from_secs(10), "nginx did not start: {}", std::fs::read_to_string(dir.join("error.log")).unwrap_or_default());
        std::thread::sleep(Duration::from_millis(50));
    }
    nginx
}

/// A viewer of one stream key on an [`Ingest`]: what a player receives, with the timestamps the
/// publisher sent (nginx's recordings shift each publish to follow the last, so they cannot show
/// a gap or a timestamp going back between publishes; its players get the publisher's own).
/// An ffprobe plays the live stream and lists its video packets; when a publish ends (nginx
/// tells its players) it plays again and waits for the next publish. See [`Watch::finish`].
pub struct Watch {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<Vec<PathBuf>>>,
    _dir: tempfile::TempDir,
}

impl Ingest {
    /// Starts watching `key` (before its first publish, to see it from its start).
    pub fn watch(&self, key: &str) -> Watch {
        let dir = tempfile::tempdir().unwrap();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (url, out, stopped) = (format!("{}/{key}", self.server()), dir.path().to_path_buf(), stop.clone());
        let thread = std::thread::spawn(move || {
            let mut sessions = Vec::new();
            while !stopped.load(std::sync::atomic::Ordering::SeqCst) {
                let file = out.join(format!("session-{}.csv", sessions.len()));
                let mut player = Guarded::spawn(
                    Command::new("ffprobe")
                        .args(["-v", "error", "-select_streams", "v:0", "-show_entries", "packet=dts_time,flags", "-of", "csv=p=0"])
                        .arg(&url)
                        .stdout(std::fs::File::create(&file).unwrap())
                        .stderr(std::process::Stdio::null()),
                    "ffprobe watching a stream",
                );
                while player.running() && !stopped.load(std::sync::atomic::Ordering::SeqCst) {
                    std::thread::sleep(Duration::from_millis(20));
                }
                player.end();
                sessions.push(file);
            }
            sessions
        });
        Watch { stop, thread: Some(thread), _dir: dir }
    }
}

impl Watch {
    /// Stops watching (call it once the stream's last publish has ended, so every session has
    /// ended and written its list) and returns the video packets of each session that saw any,
    /// in order: (dts seconds, keyframe).
    pub fn finish(mut self) -> Vec<Vec<(f64, bool)>> {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        let files = self.thread.take().unwrap().join().unwrap();
        files.iter().map(|f| parse_packets(&std::fs::read_to_string(f).unwrap_or_default())).filter(|p| !p.is_empty()).collect()
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

fn parse_packets(csv: &str) -> Vec<(f64, bool)> {
    csv.lines()
        .filter_map(|l| {
            let mut parts = l.split(',');
            let dts = parts.next()?.parse().ok()?;
            Some((dts, parts.next().unwrap_or("").contains('K')))
        })
        .collect()
}

/// Video packets of a recording: (dts seconds, keyframe), from ffprobe.
pub fn video_packets(path: &Path) -> Vec<(f64, bool)> {
    let out = output_within(
        Command::new("ffprobe").args(["-v", "error", "-select_streams", "v:0", "-show_entries", "packet=dts_time,flags", "-of", "csv=p=0"]).arg(path),
        HELPER_LIMIT,
    );
    parse_packets(&String::from_utf8_lossy(&out.stdout))
}

/// moto's S3 server on a free loopback port, stopped on drop. `None` when the suite runs without
/// one (scripts/test.sh installs it and sets TWITCHER_TEST_MOTO_SERVER to its path).
pub struct Moto {
    _server: Guarded,
    pub endpoint: String,
}

impl Moto {
    pub fn start() -> Option<Self> {
        let Some(program) = std::env::var_os("TWITCHER_TEST_MOTO_SERVER") else {
            eprintln!("skipped: needs the S3 server that scripts/test.sh installs (TWITCHER_TEST_MOTO_SERVER)");
            return None;
        };
        let port = free_port();
        let server = Guarded::spawn(
            Command::new(program).args(["-H", "127.0.0.1", "-p", &port.to_string()]).stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null()),
            "moto_server",
        );
        wait_until(Duration::from_secs(20), "moto_server to listen", || std::net::TcpStream::connect(("127.0.0.1", port)).is_ok());
        Some(Self { _server: server, endpoint: format!("http://127.0.0.1:{port}") })
    }

    /// Creates a bucket with a bare request (moto does not check signatures).
    pub fn create_bucket(&self, name: &str) {
        use std::io::{Read, Write};
        let addr = self.endpoint.trim_start_matches("http://");
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        write!(s, "PUT /{name} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").unwrap();
        let mut answer = String::new();
        s.read_to_string(&mut answer).unwrap();
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    }
}

pub fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle.as_bytes())
}

/// The PostgreSQL database for the data dir `data_dir`, when the suite runs on PostgreSQL
/// (`TWITCHER_TEST_POSTGRES=1` inside `pg_virtualenv`, which exports `PGHOST`, `PGPORT`,
/// `PGUSER`, `PGPASSWORD`); `None` on SQLite. One database per data dir, made on first use, so a
/// test's processes that open the same data dir share it and tests running side by side do not.
pub fn postgres_database(data_dir: &Path) -> Option<String> {
    std::env::var_os("TWITCHER_TEST_POSTGRES")?;
    let var = |name: &str| std::env::var(name).unwrap_or_else(|_| panic!("TWITCHER_TEST_POSTGRES needs {name} (run inside pg_virtualenv)"));
    std::fs::create_dir_all(data_dir).expect("the data dir can be made");
    let dir = std::fs::canonicalize(data_dir).expect("the data dir exists");
    // FNV-1a of the path: stable between processes and builds (std's hasher promises neither).
    let hash = dir.as_os_str().as_encoded_bytes().iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3));
    let name = format!("twitcher_{hash:016x}");
    static MADE: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
    let mut made = MADE.lock().unwrap_or_else(|e| e.into_inner());
    if !made.contains(&name) {
        let created = output_within(Command::new("createdb").arg(&name), HELPER_LIMIT);
        let stderr = String::from_utf8_lossy(&created.stderr);
        assert!(created.status.success() || stderr.contains("already exists"), "createdb {name}: {stderr}");
        made.push(name.clone());
    }
    drop(made);
    let mut url = url::Url::parse("postgres://localhost").expect("static URL");
    url.set_host(Some(&var("PGHOST"))).expect("PGHOST is a host");
    url.set_port(Some(var("PGPORT").parse().expect("PGPORT is a port"))).expect("a port fits");
    url.set_username(&var("PGUSER")).expect("a user fits");
    url.set_password(Some(&var("PGPASSWORD"))).expect("a password fits");
    url.set_path(&name);
    Some(url.to_string())
}

/// Every row of the data dir's PostgreSQL database as `pg_dump` writes it, with byte columns in
/// PostgreSQL's escape format (printable bytes as themselves), so a secret stored in plaintext
/// would show as itself; `None` on SQLite.
pub fn postgres_dump(data_dir: &Path) -> Option<Vec<u8>> {
    let url = postgres_database(data_dir)?;
    let dumped = output_within(
        Command::new("pg_dump").args(["--data-only", "--dbname", &url]).env("PGOPTIONS", "-c bytea_output=escape"),
        HELPER_LIMIT,
    );
    assert!(dumped.status.success(), "pg_dump: {}", String::from_utf8_lossy(&dumped.stderr));
    Some(dumped.stdout)
}
