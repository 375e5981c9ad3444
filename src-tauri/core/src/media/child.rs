//! What the core asks of every child process it starts (FFmpeg, ffprobe): no console window on
//! Windows, and no child outliving Twitcher however Twitcher ends (a crash, a kill, a logout).
//! Dropping a child's handle kills it everywhere (the callers' part); beyond that:
//! - Linux: the parent-death signal (SIGKILL), set in the child before it runs FFmpeg;
//! - Windows: one job object for the whole process, made to kill what is in it when its last
//!   handle closes. Twitcher holds that handle until it ends, so the kernel closes it (and kills
//!   the children) when Twitcher ends. Only the children are put in it, not Twitcher itself: a
//!   browser opened for "Connect with Twitch" must outlive the app.
//! - macOS has neither: a child is killed with its handle only.

/// Sets up a child before it starts: the parent-death signal on Linux, no console on Windows.
pub(crate) fn harden(command: &mut std::process::Command) {
    #[cfg(target_os = "linux")]
    // SAFETY: prctl is async-signal-safe and touches only the child's own state.
    unsafe {
        use std::os::unix::process::CommandExt;
        command.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    #[cfg(windows)]
    {
        use std::os::windows::process::CommandExt;
        const CREATE_NO_WINDOW: u32 = 0x0800_0000;
        command.creation_flags(CREATE_NO_WINDOW);
    }
    #[cfg(not(any(target_os = "linux", windows)))]
    let _ = command;
}

/// Ties a started child's life to Twitcher's (Windows: into the job object; elsewhere
/// [`harden`] did it already).
pub(crate) fn contain(child: &std::process::Child) {
    #[cfg(windows)]
    {
        use std::os::windows::io::AsRawHandle;
        job::assign(child.as_raw_handle());
    }
    #[cfg(not(windows))]
    let _ = child;
}

/// [`contain`] for a child started on the async runtime.
pub(crate) fn contain_async(child: &tokio::process::Child) {
    #[cfg(windows)]
    if let Some(handle) = child.raw_handle() {
        job::assign(handle);
    }
    #[cfg(not(windows))]
    let _ = child;
}

/// Runs a command to its end and collects its output, contained like every child.
pub(crate) async fn output(command: &mut tokio::process::Command) -> std::io::Result<std::process::Output> {
    let child = command.spawn()?;
    contain_async(&child);
    child.wait_with_output().await
}

#[cfg(windows)]
mod job {
    use std::os::windows::io::RawHandle;
    use std::sync::OnceLock;

    /// Never dropped (a static): its handle closes when Twitcher's process ends, and with it
    /// every child in the job ends.
    static JOB: OnceLock<Option<win32job::Job>> = OnceLock::new();

    /// Best effort: a child that cannot be put in the job still runs (killed with its handle,
    /// as on macOS), and the reason is logged (with the OS error: JobError's text alone omits it).
    pub(super) fn assign(process: RawHandle) {
        let job = JOB.get_or_init(|| {
            let mut limits = win32job::ExtendedLimitInfo::new();
            limits.limit_kill_on_job_close();
            win32job::Job::create_with_limit_info(&limits)
                .map_err(|e| tracing::warn!(error = ?e, "no job object for FFmpeg: a crashed Twitcher may leave it running"))
                .ok()
        });
        if let Some(job) = job {
            if let Err(e) = job.assign_process(process as isize) {
                tracing::warn!(error = ?e, "FFmpeg is not in Twitcher's job object: a crashed Twitcher may leave it running");
            }
        }
    }
}
