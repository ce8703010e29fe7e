//! Generates include/sluicegate.h from this crate; shared by build.rs (feature `header`) and
//! tests/header.rs, which fails when the committed header is stale.

use std::path::Path;

/// The header text for the crate in `crate_dir`, with version macros for `version`.
pub fn generate(crate_dir: &Path, version: &str) -> Result<String, String> {
    let mut config = cbindgen::Config::from_file(crate_dir.join("cbindgen.toml"))?;
    let mut parts = version.split(['.', '-', '+']).map(|p| p.parse::<u32>().unwrap_or(0));
    let (major, minor, patch) = (
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
    );
    config.after_includes = Some(format!(
        "\n#define SG_VERSION \"{version}\"\n#define SG_VERSION_MAJOR {major}\n#define SG_VERSION_MINOR {minor}\n#define SG_VERSION_PATCH {patch}\n"
    ));
    let bindings = cbindgen::Builder::new()
        .with_crate(crate_dir)
        .with_config(config)
        .generate()
        .map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    bindings.write(&mut out);
    String::from_utf8(out).map_err(|e| e.to_string())
}
