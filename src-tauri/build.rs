fn main() {
    tauri_build::build();
    startup_order();
}

/// Release builds on x86-64 Linux lay out the functions that start-up and an idle window run
/// next to each other (`startup-order.txt`, made by `scripts/startup-order.py`), so the few
/// MiB of code they need are not spread over the whole 24 MB of text: the kernel maps every page
/// fault in 64 KiB around it, and scattered start-up code kept ~15 MiB of the binary resident.
/// The linker there is rust-lld (Rust's default for this target since 1.90); symbols the file
/// names that a build no longer has are skipped without a warning, so a stale file costs memory,
/// never a build. `bench/window_memory.py` says how much of the file the binary still matches.
fn startup_order() {
    let file = std::path::Path::new("src-tauri/startup-order.txt");
    println!("cargo:rerun-if-changed={}", file.display());
    let target = std::env::var("TARGET").unwrap_or_default();
    let release = std::env::var("PROFILE").is_ok_and(|p| p == "release");
    if release && target == "x86_64-unknown-linux-gnu" && file.exists() {
        let path = std::fs::canonicalize(file).expect("the start-up order file's path");
        println!("cargo:rustc-link-arg-bin=twitcher-desktop=-Wl,--symbol-ordering-file={}", path.display());
        println!("cargo:rustc-link-arg-bin=twitcher-desktop=-Wl,--no-warn-symbol-ordering");
        // Relative relocations packed (DT_RELR): 1.8 MB of them were read at every start and
        // stayed resident. Only where the build's glibc (the one the binary and its .deb's
        // FFmpeg libraries are for) reads them: 2.36 and later.
        if glibc_version().is_some_and(|v| v >= (2, 36)) {
            println!("cargo:rustc-link-arg-bin=twitcher-desktop=-Wl,-z,pack-relative-relocs");
        }
    }
}

/// The build machine's glibc (`getconf GNU_LIBC_VERSION` prints "glibc 2.36").
fn glibc_version() -> Option<(u32, u32)> {
    let out = std::process::Command::new("getconf").arg("GNU_LIBC_VERSION").output().ok()?;
    let text = String::from_utf8(out.stdout).ok()?;
    let (major, minor) = text.trim().strip_prefix("glibc ")?.split_once('.')?;
    Some((major.parse().ok()?, minor.split('.').next()?.parse().ok()?))
}
