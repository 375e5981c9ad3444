//! Files private to their owner. The data dir holds the database (sealed secrets, but also titles,
//! account names, stream logs), the library, thumbnails, prepared media and logs: nobody else on
//! the machine has a reason to read them. On Unix the processes create files with umask 077, and
//! opening a data dir tightens what an older version (or a copy) left readable: the dir itself
//! 0700, directories in it 0700, files 0600. Symbolic links are not followed. On Windows a
//! profile's data dir already inherits an ACL limited to its user; nothing is changed there.

use std::path::Path;

/// New files and directories of this process: owner only. Called first thing by each binary
/// (the window, the CLI): the core does not change a library user's process-wide settings.
pub fn restrict_new_files() {
    #[cfg(unix)]
    // SAFETY: umask only swaps the process's file mode creation mask.
    unsafe {
        libc::umask(0o077);
    }
}

/// Takes group and other permissions off the data dir and everything in it; returns how many
/// entries changed.
pub fn tighten(data_dir: &Path) -> std::io::Result<usize> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mut changed = 0;
        let mut pending = vec![data_dir.to_path_buf()];
        while let Some(dir) = pending.pop() {
            changed += private(&dir, 0o700)?;
            for entry in std::fs::read_dir(&dir)? {
                let entry = entry?;
                let kind = entry.file_type()?;
                if kind.is_dir() {
                    pending.push(entry.path());
                } else if kind.is_file() {
                    changed += private(&entry.path(), 0o600)?;
                }
            }
        }
        fn private(path: &Path, mode: u32) -> std::io::Result<usize> {
            let now = std::fs::symlink_metadata(path)?.permissions().mode();
            if now & 0o077 == 0 {
                return Ok(0);
            }
            // Keep the owner's bits (an executable stays executable for its owner).
            std::fs::set_permissions(path, std::fs::Permissions::from_mode((now & 0o700) | (mode & 0o700)))?;
            Ok(1)
        }
        Ok(changed)
    }
    #[cfg(not(unix))]
    {
        let _ = data_dir;
        Ok(0)
    }
}
