//! Runs every contract vector against the Rust core, one at a time (they set env variables).

use sluicegate_contract::{run_vector, vector_files};

#[test]
fn every_vector_passes() {
    let files = vector_files();
    assert!(files.len() >= 12, "expected at least 12 vectors, found {}", files.len());
    let mut failed = Vec::new();
    for file in &files {
        let name = file.file_stem().unwrap().to_string_lossy().into_owned();
        let failures = run_vector(file);
        if failures.is_empty() {
            println!("ok {name}");
        } else {
            println!("FAIL {name}:\n  {}", failures.join("\n  "));
            failed.push(name);
        }
    }
    println!(
        "vectors: {} passed, {} failed",
        files.len() - failed.len(),
        failed.len()
    );
    assert!(failed.is_empty(), "failed vectors: {failed:?}");
}
