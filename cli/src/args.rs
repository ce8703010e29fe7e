//! Command-line reading shared by every command (with `lexopt`): each command declares its
//! usage once, answers `--help`/`-h` with it, and reports a bad argument the same way
//! (`sluicegate CMD: what is wrong`, then the usage, exit status 2).

use std::ffi::OsString;
use std::fmt;

/// One command's name, one-line purpose and usage text (options one per line).
pub struct Spec {
    pub name: &'static str,
    pub about: &'static str,
    pub usage: &'static str,
}

/// Why a command stopped without success.
pub enum Failure {
    /// The command line was wrong: printed with the usage, exit status 2.
    Usage(&'static Spec, String),
    /// The command ran and failed (a bad config, a broken audit log...): exit status 1.
    Failed(String),
}

impl From<String> for Failure {
    fn from(message: String) -> Failure {
        Failure::Failed(message)
    }
}

impl From<&str> for Failure {
    fn from(message: &str) -> Failure {
        Failure::Failed(message.to_owned())
    }
}

impl fmt::Display for Spec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sluicegate {}: {}\n\nusage: {}", self.name, self.about, self.usage)
    }
}

pub type Outcome = Result<(), Failure>;

/// The arguments of one command, read with the command's [`Spec`] at hand for errors.
pub struct Args {
    spec: &'static Spec,
    parser: lexopt::Parser,
}

/// What [`Args::next`] found: an option or a positional value; `--help` is answered before.
pub enum Arg {
    Long(String),
    Short(char),
    Value(OsString),
}

impl Args {
    pub fn new(spec: &'static Spec, args: Vec<OsString>) -> Args {
        Args {
            spec,
            parser: lexopt::Parser::from_args(args),
        }
    }

    /// The next argument; `Ok(None)` at the end. `--help`/`-h` prints the usage to stdout and
    /// ends the process with status 0, as users of any command-line tool expect.
    pub fn next(&mut self) -> Result<Option<Arg>, Failure> {
        let spec = self.spec;
        let arg = self.parser.next().map_err(|e| Failure::Usage(spec, e.to_string()))?;
        Ok(match arg {
            None => None,
            Some(lexopt::Arg::Long("help")) | Some(lexopt::Arg::Short('h')) => {
                println!("{}", self.spec);
                std::process::exit(0);
            }
            Some(lexopt::Arg::Long(name)) => Some(Arg::Long(name.to_owned())),
            Some(lexopt::Arg::Short(c)) => Some(Arg::Short(c)),
            Some(lexopt::Arg::Value(v)) => Some(Arg::Value(v)),
        })
    }

    /// The value of the option just read (`--port 8080` or `--port=8080`), as text.
    pub fn value(&mut self) -> Result<String, Failure> {
        let spec = self.spec;
        let value = self.parser.value().map_err(|e| Failure::Usage(spec, e.to_string()))?;
        self.text(value)
    }

    /// The value of the option just read, parsed; `what` says what it should be.
    pub fn parsed<T: std::str::FromStr>(&mut self, option: &str, what: &str) -> Result<T, Failure> {
        let text = self.value()?;
        text.parse()
            .map_err(|_| self.wrong(format!("`--{option} {text}`: {option} takes {what}")))
    }

    /// A positional value as text.
    pub fn text(&self, value: OsString) -> Result<String, Failure> {
        value
            .into_string()
            .map_err(|v| self.wrong(format!("`{}` is not valid UTF-8", v.to_string_lossy())))
    }

    /// The error for an argument this command does not take.
    pub fn unexpected(&self, arg: Arg) -> Failure {
        self.wrong(match arg {
            Arg::Long(name) => format!("unknown option `--{name}`"),
            Arg::Short(c) => format!("unknown option `-{c}`"),
            Arg::Value(v) => format!("unexpected argument `{}`", v.to_string_lossy()),
        })
    }

    /// A usage error with this command's usage attached.
    pub fn wrong(&self, message: impl Into<String>) -> Failure {
        Failure::Usage(self.spec, message.into())
    }

    /// A required positional value that was not given.
    pub fn missing(&self, what: &str) -> Failure {
        self.wrong(format!("missing {what}"))
    }
}
