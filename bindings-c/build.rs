//! Gives the shared library its SONAME and, with the `header` feature, regenerates
//! include/sluicegate.h.

#[cfg(feature = "header")]
#[path = "header.rs"]
mod header;

fn main() {
    // Programs linked with -lsluicegate then depend on libsluicegate.so.0, the ABI version.
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libsluicegate.so.0");
    #[cfg(feature = "header")]
    {
        println!("cargo:rerun-if-changed=src");
        println!("cargo:rerun-if-changed=cbindgen.toml");
        println!("cargo:rerun-if-changed=header.rs");
        let dir = std::path::PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
        let version = std::env::var("CARGO_PKG_VERSION").expect("cargo sets CARGO_PKG_VERSION");
        let text = header::generate(&dir, &version).unwrap_or_else(|e| panic!("cbindgen failed: {e}"));
        let path = dir.join("../include/sluicegate.h");
        if std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
            std::fs::write(&path, text).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
        }
    }
}
