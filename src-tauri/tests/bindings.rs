//! The committed TypeScript bindings must match what the Rust commands generate. When this fails,
//! regenerate with `TWITCHER_WRITE_BINDINGS=1 cargo test --test bindings` and commit the file.

use std::path::Path;

#[test]
fn committed_typescript_bindings_match_the_rust_commands() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let committed_path = root.join(twitcher_desktop::BINDINGS_PATH);
    if std::env::var_os("TWITCHER_WRITE_BINDINGS").is_some() {
        twitcher_desktop::export_bindings(&committed_path).expect("export bindings");
    }
    let fresh_dir = tempfile::tempdir().unwrap();
    let fresh_path = fresh_dir.path().join("bindings.ts");
    twitcher_desktop::export_bindings(&fresh_path).expect("export bindings");
    let fresh = std::fs::read_to_string(&fresh_path).unwrap();
    let committed = std::fs::read_to_string(&committed_path).unwrap_or_default();
    assert!(
        fresh == committed,
        "{} is stale: run `TWITCHER_WRITE_BINDINGS=1 cargo test --test bindings` and commit it",
        twitcher_desktop::BINDINGS_PATH
    );
}
