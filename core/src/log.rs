//! Log lines from the core, sent to one process-wide sink that a binding can replace (Python's
//! `logging`, a Node logger). The default writes warnings and errors to stderr. Messages never
//! carry secrets: they come from already-scrubbed errors.

use std::sync::RwLock;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Debug,
    Info,
    Warn,
    Error,
}

impl Level {
    pub fn name(self) -> &'static str {
        match self {
            Level::Debug => "debug",
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Error => "error",
        }
    }
}

type Sink = Box<dyn Fn(Level, &str) + Send + Sync>;

static SINK: RwLock<Option<Sink>> = RwLock::new(None);

/// Replaces where log lines go (`None` restores the stderr default).
pub fn set_sink(sink: Option<Sink>) {
    *SINK.write().unwrap_or_else(|e| e.into_inner()) = sink;
}

pub fn emit(level: Level, message: &str) {
    match SINK.read().unwrap_or_else(|e| e.into_inner()).as_ref() {
        Some(sink) => sink(level, message),
        None if level >= Level::Warn => eprintln!("[sluicegate {}] {message}", level.name()),
        None => {}
    }
}

pub fn warn(message: &str) {
    emit(Level::Warn, message);
}

pub fn info(message: &str) {
    emit(Level::Info, message);
}
