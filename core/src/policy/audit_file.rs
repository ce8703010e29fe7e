//! The audit log's files on disk: reading the end of a log without reading all of it (a log can
//! be large), telling a whole last line from one torn by a crash mid-write, and naming the
//! files of a rotated log.

use std::fs::{File, Metadata};
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

/// The end of a log file.
#[derive(Debug, Default)]
pub(crate) struct Tail {
    /// The file's length in bytes.
    pub len: u64,
    /// The last line that ends with a newline (without it).
    pub last: Option<String>,
    /// What follows the last newline, when the file does not end with one: a line torn by a
    /// crash or a failed write.
    pub torn: Option<Vec<u8>>,
}

/// Reads the end of `path` (a missing file is empty).
pub(crate) fn tail(path: &Path) -> std::io::Result<Tail> {
    let mut file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Tail::default()),
        Err(e) => return Err(e),
    };
    let len = file.metadata()?.len();
    let mut window: u64 = 64 * 1024;
    loop {
        let start = len.saturating_sub(window);
        file.seek(SeekFrom::Start(start))?;
        let mut buf = Vec::new();
        Read::by_ref(&mut file).take(len - start).read_to_end(&mut buf)?;
        if let Some(tail) = split_tail(&buf, start == 0, len) {
            return Ok(tail);
        }
        window *= 4;
    }
}

/// The tail found in the last bytes of a file, or `None` when they do not reach back far
/// enough to hold the whole last line (and `at_start` says there is nothing before them).
fn split_tail(buf: &[u8], at_start: bool, len: u64) -> Option<Tail> {
    let whole_end = match buf.iter().rposition(|&b| b == b'\n') {
        Some(i) => i + 1,
        None if at_start => 0,
        None => return None,
    };
    let torn = (whole_end < buf.len()).then(|| buf[whole_end..].to_vec());
    let last = if whole_end == 0 {
        None
    } else {
        let body = &buf[..whole_end - 1];
        match body.iter().rposition(|&b| b == b'\n') {
            Some(i) => Some(&body[i + 1..]),
            None if at_start => Some(body),
            None => return None,
        }
        .map(|l| String::from_utf8_lossy(l).into_owned())
    };
    Some(Tail { len, last, torn })
}

/// Whether two metadata describe the same file (a rotation replaces the file at the path).
pub(crate) fn same_file(a: &Metadata, b: &Metadata) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        a.dev() == b.dev() && a.ino() == b.ino()
    }
    #[cfg(not(unix))]
    {
        let _ = (a, b);
        true
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

/// The number of lines in a log's files (for a log written before records carried `seq`).
pub(crate) fn count_lines(files: &[PathBuf]) -> std::io::Result<u64> {
    let mut n = 0;
    for file in files {
        match std::fs::read(file) {
            Ok(bytes) => n += bytecount(&bytes),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

fn bytecount(bytes: &[u8]) -> u64 {
    bytes.iter().filter(|&&b| b == b'\n').count() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_whole_last_line_and_a_torn_one_are_told_apart() {
        let t = split_tail(b"{\"a\":1}\n{\"b\":2}\n", true, 16).unwrap();
        assert_eq!(t.last.as_deref(), Some("{\"b\":2}"));
        assert!(t.torn.is_none());
        let t = split_tail(b"{\"a\":1}\n{\"b\":2}\n{\"c\":", true, 21).unwrap();
        assert_eq!(t.last.as_deref(), Some("{\"b\":2}"));
        assert_eq!(t.torn.as_deref(), Some(&b"{\"c\":"[..]));
        let t = split_tail(b"{\"c\":", true, 5).unwrap();
        assert!(t.last.is_none() && t.torn.is_some());
        // A window that starts inside the last line must grow.
        assert!(split_tail(b"b\":2}\n", false, 100).is_none());
        assert!(split_tail(b"torn", false, 100).is_none());
    }
}
