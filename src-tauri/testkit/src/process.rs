//! Child processes of tests that can neither outlive the test nor hang it.
//!
//! A `std::process::Child` is not killed when dropped, and `wait()` has no deadline: a test that
//! panics between a spawn and its cleanup leaves nginx or a D-Bus daemon running, and a child that
//! never exits stalls the run. So every service a test starts is a [`Guarded`] child: asked to end
//! with SIGTERM when dropped, then killed after a grace period together with every process it
//! started (nginx's workers), found in /proc, and reaped. One-shot programs (ffmpeg, ffprobe,
//! openssl) run through [`output_within`], which kills them at a deadline.
//!
//! Children stay in the test's process group on purpose: cargo nextest gives every test a deadline
//! (.config/nextest.toml) and at that deadline signals the test's whole process group, which is
//! the one way to end children of a test process that is itself killed (no `Drop` runs then).

use std::io::Read;
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

use wait_timeout::ChildExt;

/// The deadline of one `twitcher` command in the CLI tests (a prepare or a short stream included).
pub const COMMAND_LIMIT: Duration = Duration::from_secs(120);

/// How long a service gets to end after SIGTERM before its group is killed.
const GRACE: Duration = Duration::from_secs(5);

/// A child process, ended (with everything it started) when dropped.
pub struct Guarded {
    child: Child,
    what: String,
    done: bool,
}

impl Guarded {
    /// Spawns `command`. `what` names it in panics ("nginx").
    pub fn spawn(command: &mut Command, what: &str) -> Self {
        let child = command.spawn().unwrap_or_else(|e| panic!("could not start {what}: {e}"));
        Self { child, what: what.to_string(), done: false }
    }

    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// The child's stdout, when it was piped (taken once).
    pub fn take_stdout(&mut self) -> Option<std::process::ChildStdout> {
        self.child.stdout.take()
    }

    pub fn take_stdin(&mut self) -> Option<std::process::ChildStdin> {
        self.child.stdin.take()
    }

    pub fn take_stderr(&mut self) -> Option<std::process::ChildStderr> {
        self.child.stderr.take()
    }

    /// True until the child has exited.
    pub fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Waits for the child to exit by itself, at most `limit`; past it the group is killed and
    /// the test fails naming the program.
    pub fn wait_within(&mut self, limit: Duration) -> ExitStatus {
        match self.child.wait_timeout(limit).expect("wait") {
            Some(status) => {
                self.done = true;
                status
            }
            None => {
                self.end();
                panic!("{} did not exit within {} s", self.what, limit.as_secs_f32());
            }
        }
    }

    /// Waits up to `limit` for the child to exit by itself and returns what it printed on the
    /// pipes the test did not take; past `limit` it is ended and the test fails.
    pub fn output_within(&mut self, limit: Duration) -> Output {
        let stdout = drain(self.child.stdout.take());
        let stderr = drain(self.child.stderr.take());
        let status = self.wait_within(limit);
        Output { status, stdout: stdout.join().unwrap(), stderr: stderr.join().unwrap() }
    }

    /// SIGKILLs the child alone, as a crash would, and reaps it: what it started is left to its
    /// own devices (a test of what dies with its parent).
    pub fn crash(&mut self) {
        #[cfg(unix)]
        signal(self.child.id() as libc::pid_t, libc::SIGKILL);
        #[cfg(not(unix))]
        let _ = self.child.kill();
        self.wait_within(GRACE);
    }

    /// Asks the child to end (SIGTERM), waits up to [`GRACE`], then SIGKILLs it and every process
    /// it started, and reaps it. Safe to call more than once.
    pub fn end(&mut self) {
        if self.done {
            return;
        }
        self.done = true;
        self.end_tree();
    }

    /// Windows (where the suite's services do not run: the test command is Linux's; the
    /// installers workflow builds this crate for the core's and CLI's unit tests): the child alone.
    #[cfg(not(unix))]
    fn end_tree(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait_timeout(GRACE);
    }

    #[cfg(unix)]
    fn end_tree(&mut self) {
        let leader = self.child.id() as libc::pid_t;
        // Taken before the signal: once the leader is gone its children are reparented to init.
        let tree = descendants(leader);
        signal(leader, libc::SIGTERM);
        if !matches!(self.child.wait_timeout(GRACE), Ok(Some(_))) {
            signal(leader, libc::SIGKILL);
            let _ = self.child.wait_timeout(GRACE);
        }
        let alive = |(pid, started): &(libc::pid_t, String)| stat(*pid).is_some_and(|s| s.1 == *started && s.2 != "Z");
        let tree: Vec<_> = tree.into_iter().filter(alive).collect();
        tree.iter().for_each(|(pid, _)| signal(*pid, libc::SIGKILL));
        // SIGKILL is not instant: return once they are gone, so the caller can rely on it.
        let deadline = std::time::Instant::now() + GRACE;
        while tree.iter().any(alive) && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Guarded {
    fn drop(&mut self) {
        self.end();
    }
}

#[cfg(unix)]
fn signal(pid: libc::pid_t, signal: libc::c_int) {
    // SAFETY: kill(2) has no memory effects; a pid that is gone gives ESRCH, which is fine here.
    unsafe {
        libc::kill(pid, signal);
    }
}

/// (parent pid, start time, state) of a process from /proc; the start time tells it from a
/// reused pid, and a zombie ("Z") has already ended.
#[cfg(unix)]
fn stat(pid: libc::pid_t) -> Option<(libc::pid_t, String, String)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces and parentheses: the fields start after the last ')'.
    let fields: Vec<&str> = text[text.rfind(')')? + 2..].split(' ').collect();
    Some((fields.get(1)?.parse().ok()?, fields.get(19)?.to_string(), fields.first()?.to_string()))
}

/// Every living descendant of `root`, with its start time.
#[cfg(unix)]
fn descendants(root: libc::pid_t) -> Vec<(libc::pid_t, String)> {
    let all: Vec<(libc::pid_t, libc::pid_t, String)> = std::fs::read_dir("/proc")
        .map(|dir| {
            dir.flatten()
                .filter_map(|e| e.file_name().to_str()?.parse().ok())
                .filter_map(|pid| stat(pid).map(|(parent, started, _)| (pid, parent, started)))
                .collect()
        })
        .unwrap_or_default();
    let mut found = Vec::new();
    let mut frontier = vec![root];
    while let Some(parent) = frontier.pop() {
        for (pid, _, started) in all.iter().filter(|(_, p, _)| *p == parent) {
            found.push((*pid, started.clone()));
            frontier.push(*pid);
        }
    }
    found
}

fn drain(pipe: Option<impl Read + Send + 'static>) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(mut pipe) = pipe {
            let _ = pipe.read_to_end(&mut buf);
        }
        buf
    })
}

/// Runs `command` to completion with its output captured, killing it (and its group) and failing
/// the test if it takes longer than `limit`.
pub fn output_within(command: &mut Command, limit: Duration) -> Output {
    let what = format!("{:?}", command.get_program());
    command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    Guarded::spawn(command, &what).output_within(limit)
}

/// Polls `check` every 50 ms until it is true; fails the test naming `what` after `limit`.
pub fn wait_until(limit: Duration, what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !check() {
        assert!(Instant::now() < deadline, "timed out after {} s waiting for {what}", limit.as_secs_f32());
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The pids of `parent`'s children running `name` (or the bundle's `twitcher-name` sidecar), from /proc.
pub fn children_named(parent: u32, name: &str) -> Vec<i32> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else { continue };
        // pid (comm) state ppid …; comm may hold spaces and parentheses: split at the last ')'.
        let Some((head, tail)) = stat.rsplit_once(')') else { continue };
        let comm = head.split_once('(').map(|(_, c)| c).unwrap_or("");
        let ppid: u32 = tail.split_whitespace().nth(1).and_then(|p| p.parse().ok()).unwrap_or(0);
        if ppid == parent && (comm == name || comm.strip_prefix("twitcher-") == Some(name)) {
            found.extend(entry.file_name().to_str().and_then(|p| p.parse::<i32>().ok()));
        }
    }
    found
}
