//! Checking an audit log (see `audit` for how it is written): the hash chain and signatures,
//! every checkpoint's count and head, that the log ends with a `close` record (a cut end does
//! not), lines torn by a crash (fenced: a warning, not tampering), the writers that appended
//! to it and whether each closed. The report is what `sluicegate audit verify` prints, as text
//! or JSON.

use crate::policy::audit::{GENESIS, line_hash, sign};
use serde::Serialize;
use serde_json::Value;
use std::path::PathBuf;

/// The records the log itself adds (not calls).
pub const META_KINDS: [&str; 4] = ["checkpoint", "close", "repair", "truncated"];

/// Whether a parsed line records a call (not a checkpoint, close, repair or truncation).
pub fn is_call_record(record: &Value) -> bool {
    !META_KINDS.contains(&record.get("kind").and_then(Value::as_str).unwrap_or(""))
}

/// Where a line is: its file and 1-based line number.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Place {
    pub file: String,
    pub line: usize,
}

impl std::fmt::Display for Place {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.file, self.line)
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Problem {
    #[serde(flatten)]
    pub at: Place,
    pub reason: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Anchor {
    #[serde(flatten)]
    pub at: Place,
    pub kind: String,
    /// The number of lines in the chain before it.
    pub records: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Torn {
    #[serde(flatten)]
    pub at: Place,
    pub bytes: usize,
    /// Whether a `repair` record fences it (otherwise it is the file's unfinished last line).
    pub fenced: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct WriterReport {
    pub id: String,
    /// Lines of every kind it wrote, and call records among them.
    pub lines: u64,
    pub records: u64,
    pub first: Place,
    pub last: Place,
    /// Whether its last line is a `close` record.
    pub closed: bool,
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct Report {
    pub files: Vec<String>,
    /// Call records (not checkpoints, close, repair or truncation records).
    pub records: u64,
    /// Every line of the chain.
    pub lines: u64,
    /// `intact` or `broken`.
    pub chain: &'static str,
    /// The first line that is not what was written, and why.
    pub first_bad: Option<Problem>,
    /// `valid`, `not_checked` (no key given) or `invalid`.
    pub signatures: &'static str,
    pub checkpoints: u64,
    pub last_checkpoint: Option<Anchor>,
    /// Whether the log ends with a `close` record.
    pub closed: bool,
    /// Lines after the last checkpoint or close: with no close at the end, these are not
    /// anchored (and lines after them may have been cut).
    pub after_last_checkpoint: u64,
    pub torn: Vec<Torn>,
    /// Where a writer found that the file had shrunk under it (lines were cut).
    pub truncations: Vec<Place>,
    pub writers: Vec<WriterReport>,
    /// The chain's last line.
    pub last_line: Option<Place>,
    /// Lines written before records carried `seq` (a log from an older version).
    pub legacy_lines: u64,
    /// The SHA-256 of the chain's last line: with `lines`, an anchor to keep outside the log and
    /// check later with `verify_report_at` (a log cut back to an earlier close is caught only so).
    pub head: String,
    /// With `verify_report_at(…, Some(n))`: the hash of line `n` of the chain, if it has one.
    pub hash_at: Option<String>,
}

impl Report {
    /// Whether the chain and signatures hold and nothing was cut. An open end (no `close`) is
    /// accepted only when `live` (a gateway is still writing the log).
    pub fn ok(&self, live: bool) -> bool {
        self.first_bad.is_none() && self.truncations.is_empty() && (self.closed || live || self.is_legacy())
    }

    /// A log written entirely by a version without checkpoints: its end cannot be checked.
    pub fn is_legacy(&self) -> bool {
        self.lines > 0 && self.legacy_lines == self.lines
    }

    /// Writers whose part of the log ended without a `close` record though others wrote after
    /// them: they crashed, were killed, or exited without dropping the gateway (not a cut).
    pub fn unclosed_writers(&self) -> impl Iterator<Item = &WriterReport> {
        self.writers
            .iter()
            .filter(|w| !w.closed && !w.id.is_empty() && Some(&w.last) != self.last_line.as_ref())
    }
}

/// Checks a chain of files (oldest first): `Ok(call records)` when the chain and signatures
/// hold and nothing was cut, or the first bad line, named. Whether the log is closed is in
/// `verify_report`.
pub fn verify(files: &[PathBuf], key: Option<&str>) -> std::result::Result<usize, String> {
    let report = verify_report(files, key)?;
    if let Some(p) = &report.first_bad {
        return Err(format!("{}: {}", p.at, p.reason));
    }
    if let Some(at) = report.truncations.first() {
        return Err(format!("{at}: {}", TRUNCATED));
    }
    Ok(report.records as usize)
}

const TRUNCATED: &str = "a writer found the file shorter than it left it: lines before this one were cut";

/// The full check of a chain of files (oldest first). `Err` only when a file cannot be read.
pub fn verify_report(files: &[PathBuf], key: Option<&str>) -> std::result::Result<Report, String> {
    verify_report_at(files, key, None)
}

/// `verify_report`, also keeping the hash of chain line `anchor` (1-based) in `hash_at`, to
/// compare with a `lines` and `head` recorded earlier.
pub fn verify_report_at(
    files: &[PathBuf],
    key: Option<&str>,
    anchor: Option<u64>,
) -> std::result::Result<Report, String> {
    verify_report_visit(files, key, anchor, None)
}

/// `verify_report_at`, reading each file line by line (memory does not grow with the log) and
/// handing every line that parses as JSON, with its place, to `visit`: the one pass that a
/// reader aggregating the log (the dashboard) shares with the check. After the first bad line
/// the check stops but the visiting goes on, so totals still cover the whole file.
pub fn verify_report_visit(
    files: &[PathBuf],
    key: Option<&str>,
    anchor: Option<u64>,
    mut visit: Option<&mut dyn FnMut(&Value, &Place)>,
) -> std::result::Result<Report, String> {
    use std::io::BufRead;
    let mut check = Check {
        anchor,
        report: Report {
            files: files.iter().map(|f| f.display().to_string()).collect(),
            chain: "intact",
            signatures: if key.is_some() { "valid" } else { "not_checked" },
            head: GENESIS.to_owned(),
            ..Report::default()
        },
        key,
        prev: GENESIS.to_owned(),
        pending_torn: None,
    };
    let mut failed = false;
    let mut buf = Vec::new();
    for file in files {
        let cannot = |e: std::io::Error| format!("{}: cannot read: {e}", file.display());
        let mut reader = std::io::BufReader::with_capacity(1 << 16, std::fs::File::open(file).map_err(cannot)?);
        let mut number = 0;
        loop {
            buf.clear();
            if reader.read_until(b'\n', &mut buf).map_err(cannot)? == 0 {
                break;
            }
            number += 1;
            // A line without its newline can only be the file's last: a write cut short.
            let unfinished = buf.last() != Some(&b'\n');
            if !unfinished {
                buf.pop();
            }
            let line = String::from_utf8_lossy(&buf);
            let at = Place {
                file: file.display().to_string(),
                line: number,
            };
            if failed {
                if let (Some(visit), Ok(record)) = (visit.as_mut(), serde_json::from_str::<Value>(&line)) {
                    visit(&record, &at);
                }
                continue;
            }
            match check.line(&line, at.clone(), unfinished) {
                Ok(Some(record)) => {
                    if let Some(visit) = visit.as_mut() {
                        visit(&record, &at);
                    }
                }
                Ok(None) => {}
                Err(reason) => {
                    check.fail(at, reason);
                    failed = true;
                    if visit.is_none() {
                        return Ok(check.report);
                    }
                }
            }
        }
        if failed {
            continue;
        }
        if let Some((at, _, _)) = check.pending_torn.take() {
            check.fail(at, "not a JSON record, and no repair record follows it".into());
            failed = true;
            if visit.is_none() {
                return Ok(check.report);
            }
        }
    }
    Ok(check.report)
}

struct Check<'k> {
    anchor: Option<u64>,
    report: Report,
    key: Option<&'k str>,
    prev: String,
    /// A line that is not JSON, waiting for the `repair` record that must follow it.
    pending_torn: Option<(Place, String, usize)>,
}

impl Check<'_> {
    fn fail(&mut self, at: Place, reason: String) {
        self.report.chain = "broken";
        if reason.contains("signature") {
            self.report.signatures = "invalid";
        }
        self.report.first_bad = Some(Problem { at, reason });
    }

    /// Checks one line: its record when it is JSON (`None` for a torn line).
    fn line(&mut self, line: &str, at: Place, unfinished: bool) -> std::result::Result<Option<Value>, String> {
        if line.trim().is_empty() {
            return Err("empty line (a record was removed or the file was edited)".into());
        }
        let mut record: Value = match serde_json::from_str(line) {
            Ok(v) => v,
            Err(e) => {
                if self.pending_torn.is_some() {
                    return Err(format!("not a JSON record: {e}"));
                }
                if unfinished {
                    // The process died mid-write; the next writer fences it.
                    self.report.torn.push(Torn {
                        at,
                        bytes: line.len(),
                        fenced: false,
                    });
                } else {
                    self.pending_torn = Some((at, line_hash(line), line.len()));
                }
                return Ok(None);
            }
        };
        let kind = record.get("kind").and_then(Value::as_str).unwrap_or("").to_owned();
        match (self.pending_torn.take(), kind.as_str()) {
            (Some((torn_at, hash, bytes)), "repair") if record["torn_sha256"].as_str() == Some(hash.as_str()) => {
                self.report.torn.push(Torn {
                    at: torn_at,
                    bytes,
                    fenced: true,
                });
            }
            (Some((torn_at, _, _)), _) => {
                return Err(format!(
                    "line {}: not a JSON record, and the line after it is not the repair record that fences it",
                    torn_at.line
                ));
            }
            (None, "repair") => {
                return Err("a repair record without the torn line it names before it (that line was removed)".into());
            }
            (None, _) => {}
        }
        if record.get("prev").and_then(Value::as_str) != Some(self.prev.as_str()) {
            return Err(
                "the chain is broken here: `prev` does not match the line before (a record was edited, removed, inserted or moved)"
                    .into(),
            );
        }
        match record.get("seq").and_then(Value::as_u64) {
            Some(seq) if seq != self.report.lines + 1 => {
                return Err(format!(
                    "`seq` is {seq} where {} was expected (records were removed or inserted)",
                    self.report.lines + 1
                ));
            }
            Some(_) => {}
            None => self.report.legacy_lines += 1,
        }
        if let Some(key) = self.key {
            let Some(Value::String(mac)) = record.as_object_mut().and_then(|o| o.shift_remove("hmac")) else {
                return Err("the record is not signed, but a key was given".into());
            };
            if sign(key, &record.to_string()) != mac {
                return Err("the signature does not match: the record was rewritten without the audit key".into());
            }
        }
        let r = &mut self.report;
        match kind.as_str() {
            "checkpoint" | "close" => {
                if record["records"].as_u64() != Some(r.lines) || record["head"].as_str() != Some(self.prev.as_str()) {
                    return Err(format!(
                        "the {kind} record does not match the chain before it (it counts {} lines; there are {})",
                        record["records"], r.lines
                    ));
                }
                r.checkpoints += 1;
                r.last_checkpoint = Some(Anchor {
                    at: at.clone(),
                    kind: kind.clone(),
                    records: r.lines,
                });
                r.after_last_checkpoint = 0;
            }
            "truncated" => {
                r.truncations.push(at.clone());
                r.after_last_checkpoint += 1;
            }
            "repair" => r.after_last_checkpoint += 1,
            _ => {
                r.records += 1;
                r.after_last_checkpoint += 1;
            }
        }
        r.closed = kind == "close";
        let id = record.get("writer").and_then(Value::as_str).unwrap_or("").to_owned();
        let is_call = !META_KINDS.contains(&kind.as_str());
        match r.writers.iter_mut().find(|w| w.id == id) {
            Some(w) => {
                w.lines += 1;
                w.records += u64::from(is_call);
                w.last = at.clone();
                w.closed = kind == "close";
            }
            None => r.writers.push(WriterReport {
                id,
                lines: 1,
                records: u64::from(is_call),
                first: at.clone(),
                last: at.clone(),
                closed: kind == "close",
            }),
        }
        r.last_line = Some(at.clone());
        r.lines += 1;
        self.prev = line_hash(line);
        r.head.clone_from(&self.prev);
        if self.anchor == Some(r.lines) {
            r.hash_at = Some(self.prev.clone());
        }
        Ok(Some(record))
    }
}
