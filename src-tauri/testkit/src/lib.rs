//! Real parts for Twitcher's tests, shared by every crate's test suite: test media made by ffmpeg,
//! an RTMP ingest (nginx with the RTMP module), an S3-compatible server (moto) and a fake Twitch
//! API ([`twitch`]: only Twitch itself is faked).
//! None of this is in the product.

pub mod twitch;

use std::path::{Path, PathBuf};

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
    let status = std::process::Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25"])
        .args(["-f", "lavfi", "-i", "sine=frequency=330:sample_rate=44100", "-t", "4", "-shortest"])
        .args(codecs)
        .args(extra)
        .arg(&out)
        .status()
        .expect("ffmpeg (Debian package ffmpeg)");
    assert!(status.success(), "ffmpeg could not make {}", out.display());
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
/// drop a publisher. Stopped on drop.
pub struct Ingest {
    child: std::process::Child,
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
        let user = if unsafe { libc::geteuid() } == 0 { "user root;" } else { "" };
        let config = format!(
            "load_module /usr/lib/nginx/modules/ngx_rtmp_module.so;\n{user}\nworker_processes 1;\ndaemon off;\n\
             pid {d}/nginx.pid;\nerror_log {d}/error.log warn;\nevents {{ worker_connections 256; }}\n\
             rtmp {{ server {{ listen 127.0.0.1:{rtmp_port}; chunk_size 4096;\n\
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
                let ok = std::process::Command::new("openssl")
                    .current_dir(dir.path())
                    .args(args)
                    .stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::null())
                    .status()
                    .expect("openssl")
                    .success();
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
        let child = spawn_nginx(&conf, rtmp_port);
        Self { child, conf, rtmp_port, http_port, tls, record_dir, _dir: dir }
    }

    pub fn server(&self) -> String {
        format!("rtmp://127.0.0.1:{}/app", self.rtmp_port)
    }

    /// Kills nginx and starts it again on the same ports, as a crashed or redeployed ingest would.
    pub fn restart(&mut self) {
        stop_nginx(&mut self.child);
        self.child = spawn_nginx(&self.conf, self.rtmp_port);
    }

    /// `rtmps://127.0.0.1:PORT/app` (only after [`Ingest::start_with_tls`]).
    pub fn tls_server(&self) -> String {
        format!("rtmps://127.0.0.1:{}/app", self.tls.as_ref().expect("started with TLS").0)
    }

    pub fn recording(&self, key: &str) -> PathBuf {
        self.record_dir.join(format!("{key}.flv"))
    }

    /// Cuts the publisher of `key` off mid-stream, as a network failure would.
    pub fn drop_publisher(&self, key: &str) {
        let mut s = std::net::TcpStream::connect(("127.0.0.1", self.http_port)).unwrap();
        use std::io::{Read, Write};
        write!(s, "GET /control/drop/publisher?app=app&name={key} HTTP/1.0\r\nHost: x\r\n\r\n").unwrap();
        let mut answer = String::new();
        s.read_to_string(&mut answer).unwrap();
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    }
}

fn spawn_nginx(conf: &Path, rtmp_port: u16) -> std::process::Child {
    let dir = conf.parent().unwrap();
    let child = std::process::Command::new("nginx")
        .arg("-c")
        .arg(conf)
        .arg("-p")
        .arg(dir)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("nginx (Debian packages nginx and libnginx-mod-rtmp)");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", rtmp_port)).is_err() {
        assert!(std::time::Instant::now() < deadline, "nginx did not start: {}", std::fs::read_to_string(dir.join("error.log")).unwrap_or_default());
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    child
}

/// SIGTERM to the master: nginx's fast shutdown, which also ends its workers (a SIGKILL would
/// leave them running, holding the port and the connections).
fn stop_nginx(child: &mut std::process::Child) {
    unsafe {
        libc::kill(child.id() as libc::pid_t, libc::SIGTERM);
    }
    let _ = child.wait();
}

impl Drop for Ingest {
    fn drop(&mut self) {
        stop_nginx(&mut self.child);
    }
}

/// Video packets of a recording: (dts seconds, keyframe), from ffprobe.
pub fn video_packets(path: &Path) -> Vec<(f64, bool)> {
    let out = std::process::Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", "v:0", "-show_entries", "packet=dts_time,flags", "-of", "csv=p=0"])
        .arg(path)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let mut parts = l.split(',');
            let dts = parts.next()?.parse().ok()?;
            Some((dts, parts.next().unwrap_or("").contains('K')))
        })
        .collect()
}

/// moto's S3 server on a free loopback port, stopped on drop. `None` when the suite runs without
/// one (scripts/test.sh installs it and sets TWITCHER_TEST_MOTO_SERVER to its path).
pub struct Moto {
    child: std::process::Child,
    pub endpoint: String,
}

impl Moto {
    pub fn start() -> Option<Self> {
        let Some(program) = std::env::var_os("TWITCHER_TEST_MOTO_SERVER") else {
            eprintln!("skipped: needs the S3 server that scripts/test.sh installs (TWITCHER_TEST_MOTO_SERVER)");
            return None;
        };
        let port = free_port();
        let child = std::process::Command::new(program)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("moto_server");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(std::time::Instant::now() < deadline, "moto_server did not start");
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        Some(Self { child, endpoint: format!("http://127.0.0.1:{port}") })
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

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle.as_bytes())
}
