//! The committed include/sluicegate.h must be exactly what cbindgen generates from the source.

#[path = "../header.rs"]
mod header;

#[test]
fn committed_header_is_current() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let expected = header::generate(dir, env!("CARGO_PKG_VERSION")).expect("cbindgen runs");
    let path = dir.join("../include/sluicegate.h");
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == expected,
        "{} is stale; regenerate it with `cargo build -p sluicegate-c --features header` and commit it",
        path.display()
    );
}
