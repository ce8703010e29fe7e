//! Runs every contract vector against the Rust core, one at a time (they set env variables).

use sluicegate_contract::{run_vector, vector_files};

#[test]
fn every_vector_passes() {
    let mut files = vector_files();
    assert!(files.len() >= 12, "expected at least 12 vectors, found {}", files.len());
    // `SG_VECTORS=a,b` runs only those vectors (while working on them).
    if let Ok(only) = std::env::var("SG_VECTORS")
        && !only.trim().is_empty()
    {
        let only: Vec<&str> = only.split(',').map(str::trim).collect();
        files.retain(|f| only.iter().any(|o| f.file_stem().is_some_and(|s| s == *o)));
    }
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
