//! Files private to their owner. The data dir holds the database (sealed secrets, but also titles,
//! account names, stream logs), the library, thumbnails, prepared media and logs: nobody else on
//! the machine has a reason to read them. On Unix the processes create files with umask 077, and
//! opening a data dir tightens what an older version (or a copy) left readable: the dir itself
//! 0700, directories in it 0700, files 0600. Symbolic links are not followed. On Windows a
//! profile's data dir already inherits an ACL limited to its user (and the administrators);
//! nothing is changed there, except for the key file ([`owner_only`]), which must not depend on
//! where the data dir was put.

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

/// Makes one file readable and writable by the current user only, whatever its folder grants:
/// mode 0600 on Unix; on Windows a protected ACL (nothing inherited) with one entry, full access
/// for the user running Twitcher. For the data key's file, set before the key is written into it.
pub(crate) fn owner_only(path: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
    }
    #[cfg(windows)]
    {
        windows_acl::owner_only(path)
    }
    #[cfg(not(any(unix, windows)))]
    {
        let _ = path;
        Ok(())
    }
}

#[cfg(windows)]
mod windows_acl {
    use std::io;
    use std::os::windows::ffi::OsStrExt;
    use std::path::Path;

    use windows_sys::Win32::Foundation::{CloseHandle, LocalFree, HANDLE};
    use windows_sys::Win32::Security::Authorization::{
        ConvertSidToStringSidW, ConvertStringSecurityDescriptorToSecurityDescriptorW, SDDL_REVISION_1,
    };
    use windows_sys::Win32::Security::{
        GetTokenInformation, SetFileSecurityW, TokenUser, DACL_SECURITY_INFORMATION, PROTECTED_DACL_SECURITY_INFORMATION,
        PSECURITY_DESCRIPTOR, TOKEN_QUERY, TOKEN_USER,
    };
    use windows_sys::Win32::System::Threading::{GetCurrentProcess, OpenProcessToken};

    pub(super) fn owner_only(path: &Path) -> io::Result<()> {
        // D:P — a protected DACL (no entries inherited from the folder); (A;;FA;;;SID) — allow
        // full file access to that SID. Nothing else: not the folder's groups, not Everyone.
        let sddl: Vec<u16> = format!("D:P(A;;FA;;;{})", user_sid()?).encode_utf16().chain([0]).collect();
        let file: Vec<u16> = path.as_os_str().encode_wide().chain([0]).collect();
        // SAFETY: both strings are NUL-terminated UTF-16 that outlive the calls; the descriptor
        // the conversion allocates is freed with LocalFree, as its documentation asks.
        unsafe {
            let mut descriptor: PSECURITY_DESCRIPTOR = std::ptr::null_mut();
            if ConvertStringSecurityDescriptorToSecurityDescriptorW(sddl.as_ptr(), SDDL_REVISION_1, &mut descriptor, std::ptr::null_mut()) == 0 {
                return Err(io::Error::last_os_error());
            }
            let set = SetFileSecurityW(file.as_ptr(), DACL_SECURITY_INFORMATION | PROTECTED_DACL_SECURITY_INFORMATION, descriptor);
            let error = io::Error::last_os_error();
            LocalFree(descriptor);
            if set == 0 {
                return Err(error);
            }
        }
        Ok(())
    }

    /// The SID of the user this process runs as, in its text form (`S-1-5-21-…`).
    fn user_sid() -> io::Result<String> {
        // SAFETY: the token handle is closed on every path; TOKEN_USER is read from a buffer of
        // the size the first call asked for, aligned for pointers (u64s); the SID string the
        // conversion allocates is read up to its NUL and freed with LocalFree.
        unsafe {
            let mut token: HANDLE = std::ptr::null_mut();
            if OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &mut token) == 0 {
                return Err(io::Error::last_os_error());
            }
            let mut len = 0u32;
            GetTokenInformation(token, TokenUser, std::ptr::null_mut(), 0, &mut len);
            let mut buffer = vec![0u64; (len as usize).div_ceil(8)];
            let read = GetTokenInformation(token, TokenUser, buffer.as_mut_ptr().cast(), len, &mut len);
            let error = io::Error::last_os_error();
            CloseHandle(token);
            if read == 0 {
                return Err(error);
            }
            let user = &*(buffer.as_ptr() as *const TOKEN_USER);
            let mut text: *mut u16 = std::ptr::null_mut();
            if ConvertSidToStringSidW(user.User.Sid, &mut text) == 0 {
                return Err(io::Error::last_os_error());
            }
            let chars = (0..).take_while(|&i| *text.add(i) != 0).count();
            let sid = String::from_utf16_lossy(std::slice::from_raw_parts(text, chars));
            LocalFree(text.cast());
            Ok(sid)
        }
    }
}
