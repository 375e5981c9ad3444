//! The guarantees the test suites lean on: a guarded child never outlives its guard, and a
//! program that hangs fails its test at the deadline instead of stalling the run.

use std::process::Command;
use std::time::{Duration, Instant};

use twitcher_testkit::{output_within, Guarded};

/// The pids of the processes `sh` started, read from the file it wrote them to.
fn pids_written(file: &std::path::Path) -> Vec<i32> {
    twitcher_testkit::wait_until(Duration::from_secs(10), "the children's pids", || {
        std::fs::read_to_string(file).is_ok_and(|t| t.lines().count() == 2)
    });
    std::fs::read_to_string(file).unwrap().lines().map(|l| l.trim().parse().unwrap()).collect()
}

fn alive(pid: i32) -> bool {
    // A zombie (reparented and not reaped yet) is gone for our purpose.
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| !s[s.rfind(')').unwrap() + 2..].starts_with('Z'))
}

#[test]
fn a_dropped_guard_ends_the_child_and_every_process_it_started() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("pids");
    let script = format!("sleep 300 & echo $! > {f}; sleep 300 & echo $! >> {f}; wait", f = file.display());
    let guard = Guarded::spawn(Command::new("sh").args(["-c", &script]), "sh");
    let leader = guard.id() as i32;
    let children = pids_written(&file);
    assert!(children.iter().all(|&p| alive(p)));
    drop(guard);
    assert!(!alive(leader), "the child itself");
    for pid in children {
        assert!(!alive(pid), "grandchild {pid} outlived the guard");
    }
}

#[test]
fn a_child_that_ignores_sigterm_is_killed_after_the_grace_period() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("pids");
    // An ignored signal stays ignored across exec: both sleeps ignore SIGTERM too.
    let script = format!("trap '' TERM; sleep 300 & echo $! > {f}; sleep 300 & echo $! >> {f}; wait", f = file.display());
    let mut guard = Guarded::spawn(Command::new("sh").args(["-c", &script]), "sh");
    let children = pids_written(&file);
    let started = Instant::now();
    guard.end();
    assert!(started.elapsed() < Duration::from_secs(15), "ended within the grace period and a kill");
    assert!(!guard.running());
    for pid in children {
        assert!(!alive(pid), "{pid} survived");
    }
}

#[test]
#[should_panic(expected = "did not exit within")]
fn a_program_that_hangs_fails_its_test_at_the_deadline() {
    output_within(Command::new("sleep").arg("300"), Duration::from_millis(500));
}

#[test]
fn a_program_that_finishes_in_time_gives_its_output() {
    let out = output_within(Command::new("sh").args(["-c", "echo out; echo err >&2; exit 3"]), Duration::from_secs(30));
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(out.stdout, b"out\n");
    assert_eq!(out.stderr, b"err\n");
}
