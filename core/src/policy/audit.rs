//! The audit trail: one JSON line per call, append-only, hash-chained (each record holds the
//! SHA-256 of the line before it) and, with a key, signed (HMAC-SHA256), so that an edit, a
//! deletion, an insertion, a reordering, or a file rewritten from scratch is detected.
//! Rotation by size keeps the chain across files.

use crate::config::{AuditConfig, AuditContent};
use crate::error::{Error, ErrorKind, Result};
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// The `prev` of the very first record.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

type HmacSha256 = Hmac<Sha256>;

pub fn line_hash(line: &str) -> String {
    hex::encode(Sha256::digest(line.as_bytes()))
}

fn sign(key: &str, text: &str) -> String {
    let mut mac = HmacSha256::new_from_slice(key.as_bytes()).expect("HMAC takes any key length");
    mac.update(text.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// A keyed, one-way pseudonym for a user id (stable per key, meaningless without it).
pub fn pseudonym(key: &str, id: &str) -> String {
    format!("u-{}", &sign(key, id)[..16])
}

struct Writer {
    file: File,
    prev: String,
    bytes: u64,
}

pub struct AuditLog {
    path: PathBuf,
    content: AuditContent,
    max_bytes: Option<u64>,
    key: Option<String>,
    pseudonymize: bool,
    writer: Mutex<Writer>,
}

fn io_error(path: &Path, e: std::io::Error) -> Error {
    Error::new(
        ErrorKind::InvalidConfig,
        format!(
            "audit.path: cannot write the audit log `{}`: {e}; check the folder exists and is writable",
            path.display()
        ),
    )
}

impl AuditLog {
    /// Opens (or continues) the log at `path`: the chain resumes from its last line.
    pub fn open(config: &AuditConfig, path: PathBuf) -> Result<AuditLog> {
        if let Ok(meta) = std::fs::metadata(&path)
            && !meta.is_file()
        {
            return Err(io_error(&path, std::io::Error::other("not a regular file")));
        }
        let prev = last_line(&path)
            .map_err(|e| io_error(&path, e))?
            .as_deref()
            .map(line_hash)
            .unwrap_or_else(|| GENESIS.to_owned());
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| io_error(&path, e))?;
        let bytes = file.metadata().map(|m| m.len()).unwrap_or(0);
        Ok(AuditLog {
            path,
            content: config.content,
            max_bytes: config.max_bytes,
            key: config.key.clone(),
            pseudonymize: config.pseudonymize,
            writer: Mutex::new(Writer { file, prev, bytes }),
        })
    }

    pub fn content(&self) -> AuditContent {
        self.content
    }

    /// A user id as it may be written: pseudonymised when configured.
    pub fn principal_id(&self, id: &str) -> String {
        match (&self.key, self.pseudonymize) {
            (Some(key), true) => pseudonym(key, id),
            _ => id.to_owned(),
        }
    }

    /// Appends one record, already serialized as a JSON object, adding `prev` and, with a key,
    /// `hmac`. It is serialized before the lock is taken; only the chain fields are added under
    /// it, last, as `record["prev"] = …` would put them.
    pub fn append_line(&self, body: String) -> Result<()> {
        let open = body.strip_suffix('}').unwrap_or(&body);
        let comma = if open.len() > 1 { "," } else { "" };
        let mut w = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        if let (Some(max), true) = (self.max_bytes, w.bytes > 0)
            && w.bytes >= max
        {
            self.rotate(&mut w)?;
        }
        let mut line = format!("{open}{comma}\"prev\":\"{}\"}}", w.prev);
        if let Some(key) = &self.key {
            let hmac = sign(key, &line);
            line.pop();
            line.push_str(&format!(",\"hmac\":\"{hmac}\"}}"));
        }
        line.push('\n');
        w.file.write_all(line.as_bytes()).map_err(|e| io_error(&self.path, e))?;
        w.bytes += line.len() as u64;
        w.prev = line_hash(&line[..line.len() - 1]);
        Ok(())
    }

    /// Moves the full file aside (`NAME.1`, `NAME.2`, … oldest first) and starts a new one
    /// whose first record chains to the last line of the old.
    fn rotate(&self, w: &mut Writer) -> Result<()> {
        let mut n = 1;
        while rotated(&self.path, n).exists() {
            n += 1;
        }
        std::fs::rename(&self.path, rotated(&self.path, n)).map_err(|e| io_error(&self.path, e))?;
        w.file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .map_err(|e| io_error(&self.path, e))?;
        w.bytes = 0;
        Ok(())
    }
}

/// The last non-empty line of a file, reading only its tail (a log can be large).
fn last_line(path: &Path) -> std::io::Result<Option<String>> {
    use std::io::{Read, Seek, SeekFrom};
    let mut file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let len = file.metadata()?.len();
    let mut window: u64 = 64 * 1024;
    loop {
        let start = len.saturating_sub(window);
        file.seek(SeekFrom::Start(start))?;
        let mut tail = Vec::new();
        Read::by_ref(&mut file).take(window).read_to_end(&mut tail)?;
        let text = String::from_utf8_lossy(&tail);
        let mut lines = text.lines().filter(|l| !l.trim().is_empty());
        let last = lines.next_back().map(str::to_owned);
        // The last line is whole if another line (or the file start) comes before it.
        if start == 0 || lines.next_back().is_some() {
            return Ok(last);
        }
        window *= 4;
    }
}

pub fn rotated(path: &Path, n: u32) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(format!(".{n}"));
    PathBuf::from(name)
}

/// The files of a rotated log, oldest first: `NAME.1`, `NAME.2`, …, then `NAME`.
pub fn chain_files(path: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = (1..).map(|n| rotated(path, n)).take_while(|p| p.exists()).collect();
    files.push(path.to_path_buf());
    files
}

/// Checks a chain of files (oldest first). `Ok(records)` or the first bad line, named.
pub fn verify(files: &[PathBuf], key: Option<&str>) -> std::result::Result<usize, String> {
    let mut prev = GENESIS.to_owned();
    let mut count = 0;
    for file in files {
        let text = std::fs::read_to_string(file).map_err(|e| format!("{}: cannot read: {e}", file.display()))?;
        for (i, line) in text.lines().enumerate() {
            let at = format!("{}:{}", file.display(), i + 1);
            if line.trim().is_empty() {
                return Err(format!(
                    "{at}: empty line (a record was removed or the file was edited)"
                ));
            }
            let mut record: Value = serde_json::from_str(line).map_err(|e| format!("{at}: not a JSON record: {e}"))?;
            if record.get("prev").and_then(Value::as_str) != Some(prev.as_str()) {
                return Err(format!(
                    "{at}: the chain is broken here: `prev` does not match the line before (a record was edited, removed, inserted or moved)"
                ));
            }
            if let Some(key) = key {
                let Some(Value::String(mac)) = record.as_object_mut().and_then(|o| o.shift_remove("hmac")) else {
                    return Err(format!("{at}: the record is not signed, but a key was given"));
                };
                if sign(key, &record.to_string()) != mac {
                    return Err(format!(
                        "{at}: the signature does not match: the record was rewritten without the audit key"
                    ));
                }
            }
            prev = line_hash(line);
            count += 1;
        }
    }
    Ok(count)
}
