//! The audit trail: one JSON line per call, append-only, hash-chained (each record holds the
//! SHA-256 of the line before it) and, with a key, signed (HMAC-SHA256), so that an edit, a
//! deletion, an insertion, a reordering, or a file rewritten from scratch is detected.
//!
//! Every line also carries `writer` (this process's writer id) and `seq` (its position in the
//! chain). Several processes (or children after `fork`) may append to one file: each append
//! takes an advisory lock on the file, re-reads the end of the file when another writer moved
//! it, and chains to whatever line is last, so the file stays one chain. Each writer adds a
//! `checkpoint` record every `checkpoint_every` records and a `close` record when the gateway is
//! dropped, so that a log whose end was cut no longer ends in a `close`. A line torn by a crash
//! is fenced (a newline and a `repair` record naming its hash) before anything is appended, and
//! a file that shrank under a writer is recorded (`truncated`). Rotation by size keeps the
//! chain across files. `audit_verify` checks all of it.

use crate::config::{AuditConfig, AuditContent, AuditFsync, AuditOnError};
use crate::error::{Error, ErrorKind, Result};
use crate::policy::audit_file::{self, same_file};
use crate::policy::clock;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub use crate::policy::audit_file::{chain_files, rotated};
pub use crate::policy::audit_verify::{
    Place, Report, is_call_record, verify, verify_report, verify_report_at, verify_report_visit,
};

/// The `prev` of the very first record.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// With `fsync: interval`, the longest time written records wait to be forced to disk (checked
/// when the next record is written; checkpoints and close always force them).
const SYNC_INTERVAL: Duration = Duration::from_secs(1);

type HmacSha256 = Hmac<Sha256>;

pub fn line_hash(line: &str) -> String {
    hex::encode(Sha256::digest(line.as_bytes()))
}

pub(crate) fn sign(key: &str, text: &str) -> String {
    let mut mac = HmacSha256::new_from_slice(key.as_bytes()).expect("HMAC takes any key length");
    mac.update(text.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// A keyed, one-way pseudonym for a user id (stable per key, meaningless without it).
pub fn pseudonym(key: &str, id: &str) -> String {
    format!("u-{}", &sign(key, id)[..16])
}

/// One process's end of the log.
struct Writer {
    file: File,
    /// The process that opened `file`: a child after `fork` opens its own (an `flock` is shared
    /// by every process holding the same open file, so an inherited one would not exclude).
    pid: u32,
    /// This writer's id in the records: `PID-MILLIS` (process id and start time).
    id: String,
    /// The file's length after this writer's last append; another length means another writer
    /// (or a crash, or an edit) moved the end, which is then read again.
    known_len: Option<u64>,
    prev: String,
    seq: u64,
    /// Whether this writer has written anything (it then owes a `close` record).
    wrote: bool,
    since_checkpoint: u64,
    synced: Instant,
    unsynced: bool,
}

impl Writer {
    fn new(file: File) -> Writer {
        let pid = std::process::id();
        let millis = (clock::now_secs() * 1000.0) as u64;
        Writer {
            file,
            pid,
            id: format!("{pid}-{millis}"),
            known_len: None,
            prev: GENESIS.to_owned(),
            seq: 0,
            wrote: false,
            since_checkpoint: 0,
            synced: Instant::now(),
            unsynced: false,
        }
    }
}

pub struct AuditLog {
    path: PathBuf,
    content: AuditContent,
    max_bytes: Option<u64>,
    key: Option<String>,
    pseudonymize: bool,
    checkpoint_every: u64,
    fsync: AuditFsync,
    on_error: AuditOnError,
    writer: Mutex<Writer>,
}

fn io_error(path: &Path, e: std::io::Error) -> Error {
    Error::new(
        ErrorKind::InvalidConfig,
        format!(
            "audit.path: cannot write the audit log `{}`: {e}; check the folder exists, is writable and has space",
            path.display()
        ),
    )
}

fn open_append(path: &Path) -> Result<File> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| io_error(path, e))
}

/// What a write adds besides the caller's record.
#[derive(Clone, Copy, PartialEq)]
enum Extra {
    None,
    Close,
}

impl AuditLog {
    /// Opens (or continues) the log at `path`: the chain resumes from its last line, and a line
    /// torn by a crash is fenced now.
    pub fn open(config: &AuditConfig, path: PathBuf) -> Result<AuditLog> {
        if let Ok(meta) = std::fs::metadata(&path)
            && !meta.is_file()
        {
            return Err(io_error(&path, std::io::Error::other("not a regular file")));
        }
        let file = open_append(&path)?;
        let log = AuditLog {
            path,
            content: config.content,
            max_bytes: config.max_bytes,
            key: config.key.clone(),
            pseudonymize: config.pseudonymize,
            checkpoint_every: config.checkpoint_every,
            fsync: config.fsync,
            on_error: config.on_error,
            writer: Mutex::new(Writer::new(file)),
        };
        {
            let mut w = log.writer.lock().unwrap_or_else(|e| e.into_inner());
            log.write(&mut w, None, Extra::None)?;
        }
        Ok(log)
    }

    pub fn content(&self) -> AuditContent {
        self.content
    }

    pub fn on_error(&self) -> AuditOnError {
        self.on_error
    }

    /// A user id as it may be written: pseudonymised when configured.
    pub fn principal_id(&self, id: &str) -> String {
        match (&self.key, self.pseudonymize) {
            (Some(key), true) => pseudonym(key, id),
            _ => id.to_owned(),
        }
    }

    /// Appends one record, already serialized as a JSON object, adding `writer`, `seq`, `prev`
    /// and, with a key, `hmac`. It is serialized before any lock is taken; only the chain
    /// fields are added under it, last, as `record["prev"] = …` would put them.
    pub fn append_line(&self, body: String) -> Result<()> {
        let mut w = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        self.write(&mut w, Some(&body), Extra::None)
    }

    /// Writes the `close` record of this process's writer (once; later appends start anew).
    pub fn close(&self) -> Result<()> {
        let mut w = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        if !w.wrote || w.pid != std::process::id() {
            return Ok(());
        }
        self.write(&mut w, None, Extra::Close)?;
        w.wrote = false;
        Ok(())
    }

    /// One append under the file lock: catch up with the file's end, fence a torn line, rotate
    /// when full, then the record, a due checkpoint or the close, in one write.
    fn write(&self, w: &mut Writer, body: Option<&str>, extra: Extra) -> Result<()> {
        if w.pid != std::process::id() {
            *w = Writer::new(open_append(&self.path)?);
        }
        let len = self.lock(w)?;
        let result = self.write_locked(w, len, body, extra);
        if result.is_err() {
            // Whatever part of the write reached the file is fenced by the next append.
            w.known_len = None;
        }
        let _ = w.file.unlock();
        result
    }

    /// Locks the file at the path (after a rotation by another process, the new one) and
    /// returns its length.
    fn lock(&self, w: &mut Writer) -> Result<u64> {
        loop {
            w.file.lock().map_err(|e| io_error(&self.path, e))?;
            let ours = w.file.metadata().map_err(|e| io_error(&self.path, e))?;
            match std::fs::metadata(&self.path) {
                Ok(at_path) if same_file(&ours, &at_path) => return Ok(ours.len()),
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(io_error(&self.path, e)),
            }
            let _ = w.file.unlock();
            w.file = open_append(&self.path)?;
            w.known_len = None;
        }
    }

    fn write_locked(&self, w: &mut Writer, mut len: u64, body: Option<&str>, extra: Extra) -> Result<()> {
        if w.known_len != Some(len) {
            let fence = self.catch_up(w, len)?;
            if !fence.is_empty() {
                self.put(w, &fence, true)?;
                len += fence.len() as u64;
                w.wrote = true;
            }
        }
        w.known_len = Some(len);
        if body.is_none() && extra == Extra::None {
            return Ok(());
        }
        if let (Some(max), true) = (self.max_bytes, len > 0)
            && len >= max
        {
            self.rotate(w)?;
        }
        let mut out = String::new();
        let mut force = extra == Extra::Close;
        if let Some(body) = body {
            self.chain(w, body, &mut out);
            w.since_checkpoint += 1;
            if self.checkpoint_every > 0 && w.since_checkpoint >= self.checkpoint_every {
                let mark = anchor("checkpoint", w);
                self.chain(w, &mark, &mut out);
                w.since_checkpoint = 0;
                force = true;
            }
        }
        if extra == Extra::Close {
            let mark = anchor("close", w);
            self.chain(w, &mark, &mut out);
        }
        self.put(w, &out, force)?;
        w.wrote = true;
        w.known_len = w.known_len.map(|n| n + out.len() as u64);
        Ok(())
    }

    /// Reads the chain's state from the end of the file (another writer, a crash or an edit
    /// moved it) and returns what must be written first: a fence for a torn line, a record of
    /// a file that shrank under this writer.
    fn catch_up(&self, w: &mut Writer, len: u64) -> Result<String> {
        let tail = audit_file::tail(&self.path).map_err(|e| io_error(&self.path, e))?;
        let shrank = w.known_len.filter(|&known| tail.len < known);
        let mut last = tail.last;
        let mut fence = String::new();
        let mut torn = None;
        if let Some(bytes) = tail.torn {
            fence.push('\n');
            let text = String::from_utf8_lossy(&bytes).into_owned();
            // A whole record that only lost its newline is kept as the last line.
            let whole = serde_json::from_str::<Value>(&text)
                .ok()
                .is_some_and(|v| v.get("prev").is_some());
            if whole {
                last = Some(text);
            } else {
                torn = Some((bytes.len(), line_hash(&text)));
            }
        }
        if len == 0 && last.is_none() {
            // A fresh file after a rotation continues the chain of the newest rotated one.
            let newest = (1..).map(|n| rotated(&self.path, n)).take_while(|p| p.exists()).last();
            if let Some(old) = newest {
                last = audit_file::tail(&old).map_err(|e| io_error(&old, e))?.last;
            }
        }
        w.prev = last.as_deref().map(line_hash).unwrap_or_else(|| GENESIS.to_owned());
        w.seq = match last.as_deref() {
            None => 0,
            Some(line) => match serde_json::from_str::<Value>(line).ok().and_then(|v| v["seq"].as_u64()) {
                Some(seq) => seq,
                // Written before records carried `seq`: their number is the number of lines.
                None => audit_file::count_lines(&chain_files(&self.path)).map_err(|e| io_error(&self.path, e))?,
            },
        };
        if let Some((bytes, hash)) = torn {
            let repair = json!({
                "ts": clock::rfc3339(clock::now_secs()),
                "kind": "repair",
                "torn_bytes": bytes,
                "torn_sha256": hash,
            });
            self.chain(w, &repair.to_string(), &mut fence);
        }
        if let Some(known) = shrank {
            let cut = json!({
                "ts": clock::rfc3339(clock::now_secs()),
                "kind": "truncated",
                "expected_bytes": known,
                "found_bytes": tail.len,
            });
            self.chain(w, &cut.to_string(), &mut fence);
        }
        Ok(fence)
    }

    /// Adds the chain fields to a record and appends it, with its newline, to `out`.
    fn chain(&self, w: &mut Writer, body: &str, out: &mut String) {
        let open = body.strip_suffix('}').unwrap_or(body);
        let comma = if open.len() > 1 { "," } else { "" };
        w.seq += 1;
        let mut line = format!(
            "{open}{comma}\"writer\":\"{}\",\"seq\":{},\"prev\":\"{}\"}}",
            w.id, w.seq, w.prev
        );
        if let Some(key) = &self.key {
            let hmac = sign(key, &line);
            line.pop();
            line.push_str(&format!(",\"hmac\":\"{hmac}\"}}"));
        }
        w.prev = line_hash(&line);
        out.push_str(&line);
        out.push('\n');
    }

    /// One write of whole lines (the file is opened for appending: it lands at the end), then
    /// forced to disk as `audit.fsync` says.
    fn put(&self, w: &mut Writer, text: &str, force: bool) -> Result<()> {
        w.file.write_all(text.as_bytes()).map_err(|e| io_error(&self.path, e))?;
        w.unsynced = true;
        let due = match self.fsync {
            AuditFsync::Always => true,
            AuditFsync::Interval => force || w.synced.elapsed() >= SYNC_INTERVAL,
            AuditFsync::Never => false,
        };
        if due {
            w.file.sync_data().map_err(|e| io_error(&self.path, e))?;
            w.synced = Instant::now();
            w.unsynced = false;
        }
        Ok(())
    }

    /// Moves the full file aside (`NAME.1`, `NAME.2`, … oldest first) and starts a new one
    /// whose first record chains to the last line of the old.
    fn rotate(&self, w: &mut Writer) -> Result<()> {
        let mut n = 1;
        while rotated(&self.path, n).exists() {
            n += 1;
        }
        if w.unsynced && self.fsync != AuditFsync::Never {
            w.file.sync_data().map_err(|e| io_error(&self.path, e))?;
        }
        std::fs::rename(&self.path, rotated(&self.path, n)).map_err(|e| io_error(&self.path, e))?;
        let file = open_append(&self.path)?;
        // Another writer may open the new file before this one writes to it: lock it first.
        file.lock().map_err(|e| io_error(&self.path, e))?;
        let _ = w.file.unlock();
        w.file = file;
        w.known_len = Some(0);
        Ok(())
    }
}

/// A checkpoint or close record: how many lines the chain holds before it and the hash of the
/// last one (what `prev` says too; written out so that the line alone is an anchor to keep).
fn anchor(kind: &str, w: &Writer) -> String {
    json!({
        "ts": clock::rfc3339(clock::now_secs()),
        "kind": kind,
        "records": w.seq,
        "head": w.prev,
    })
    .to_string()
}

impl Drop for AuditLog {
    /// The gateway is gone: this process's writer closes its part of the log.
    fn drop(&mut self) {
        if let Err(e) = self.close() {
            crate::log::warn(&format!(
                "sluicegate: the audit log's close record was not written: {}",
                e.message
            ));
        }
    }
}
