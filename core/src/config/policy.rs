//! `keys`, `policies` and `audit`: who may call, how much, with what data, and the record of it.

use super::read::{self, Problems, join, object};
use super::{Config, suggest};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// A virtual key: only the SHA-256 of its secret is kept.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyConfig {
    pub name: String,
    pub sha256: String,
    pub tags: BTreeMap<String, String>,
    /// Routes (or deployments) the key may call; empty means all.
    pub routes: Vec<String>,
    /// `YYYY-MM-DD` (UTC midnight) after which the key is refused.
    pub expires: Option<String>,
    /// Tags the caller may not set to another value than the key's (`permission_denied`).
    pub pin_tags: Vec<String>,
}

/// Which calls a limit or budget counts, and how they are grouped.
#[derive(Debug, Clone, PartialEq)]
pub enum Scope {
    /// One counter for every call.
    Global,
    /// One counter per virtual key.
    Key,
    /// One counter per route.
    Route,
    /// One counter per value of a tag (`team`, `user`, …); calls without the tag are not counted.
    Tag(String),
}

impl Scope {
    pub fn describe(&self) -> String {
        match self {
            Scope::Global => "global".into(),
            Scope::Key => "key".into(),
            Scope::Route => "route".into(),
            Scope::Tag(t) => format!("tag {t}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Selector {
    pub scope: Scope,
    /// Only calls whose tags match all of these are counted.
    pub when_tags: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RateLimitConfig {
    pub selector: Selector,
    pub rpm: Option<u64>,
    pub tpm: Option<u64>,
    /// When the shared store is unreachable: go on under local limits (`fail_open`), or refuse.
    /// `None` follows `state.on_unavailable`.
    pub fail_open: Option<bool>,
}

/// `state`: where policy counters live.
#[derive(Clone, PartialEq)]
pub enum StateBackendConfig {
    Memory,
    Redis {
        url: String,
        prefix: String,
        timeout: std::time::Duration,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct StateConfig {
    pub backend: StateBackendConfig,
    /// The default for policies: go on under local limits when the store is unreachable.
    pub fail_open: bool,
}

impl Default for StateConfig {
    fn default() -> Self {
        StateConfig {
            backend: StateBackendConfig::Memory,
            fail_open: false,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Window {
    Day,
    Month,
    Total,
}

#[derive(Debug, Clone, PartialEq)]
pub enum OnExceed {
    Block,
    /// Serve the call from this (cheaper) route instead.
    Fallback(String),
}

/// What a budget does with a call that may use a deployment without a price.
#[derive(Debug, Clone, PartialEq)]
pub enum OnUnpriced {
    /// Refuse the call (`invalid_config`): a missing price must not switch the budget off.
    Block,
    /// Let it through; the unpriced deployment's calls count $0.
    Allow,
    /// Count the unpriced deployment's tokens at this (priced) model's prices.
    EstimateWith(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct BudgetConfig {
    pub selector: Selector,
    pub usd: f64,
    pub window: Window,
    pub on_exceed: OnExceed,
    pub on_unpriced: OnUnpriced,
    pub fail_open: Option<bool>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GuardAction {
    Redact,
    Block,
    Log,
}

#[derive(Debug, Clone, PartialEq)]
pub enum GuardKind {
    /// Built-in PII detectors, by entity name.
    Pii { entities: Vec<String> },
    /// Custom regular expressions (a `name` says which rule fired).
    Regex { patterns: Vec<String> },
    /// Whole words or phrases, case-insensitive.
    Keywords { words: Vec<String> },
    /// A cap on the estimated prompt size.
    MaxInputTokens { limit: u64 },
}

#[derive(Debug, Clone, PartialEq)]
pub struct GuardrailConfig {
    pub name: String,
    pub kind: GuardKind,
    pub action: GuardAction,
    pub input: bool,
    pub output: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ResidencyConfig {
    pub when_tags: BTreeMap<String, String>,
    pub regions: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Policies {
    /// Refuse calls without a virtual key (`authentication`). Defaults to true once any key is
    /// configured: a caller must not escape `scope: key` limits by leaving its key out.
    pub require_key: bool,
    /// Tags every call must carry (from the key or the caller), else `invalid_request`.
    pub require_tags: Vec<String>,
    pub rate_limits: Vec<RateLimitConfig>,
    pub budgets: Vec<BudgetConfig>,
    pub guardrails: Vec<GuardrailConfig>,
    pub residency: Vec<ResidencyConfig>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditContent {
    None,
    Redacted,
}

#[derive(Clone, PartialEq)]
pub struct AuditConfig {
    pub path: PathBuf,
    pub content: AuditContent,
    /// Rotate to a new file once the current one reaches this many bytes.
    pub max_bytes: Option<u64>,
    /// The HMAC key (from the environment): records are signed when set.
    pub key: Option<String>,
    /// Replace `user` tags by a keyed hash (needs `key`).
    pub pseudonymize: bool,
    /// Each writer adds a checkpoint record after this many of its records (0: only at close).
    pub checkpoint_every: u64,
    pub fsync: AuditFsync,
    pub on_error: AuditOnError,
}

/// When appended records are forced to disk (`audit.fsync`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditFsync {
    /// After every record.
    Always,
    /// At most once a second, at every checkpoint and at close (the default).
    Interval,
    /// Left to the operating system.
    Never,
}

/// What a call does when its audit record cannot be written (`audit.on_error`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditOnError {
    /// The call fails with `internal` ("no audit, no call"; the default).
    FailClosed,
    /// The call succeeds and the failure is logged as a warning.
    Warn,
}

/// `audit.checkpoint_every` when not set.
pub const DEFAULT_CHECKPOINT_EVERY: u64 = 100;

pub const PII_ENTITIES: [&str; 8] = [
    "email",
    "phone",
    "credit_card",
    "iban",
    "us_ssn",
    "ipv4",
    "ipv6",
    "api_key",
];
const KEY_KEYS: [&str; 6] = ["sha256", "tags", "routes", "expires", "description", "pin_tags"];
const POLICY_KEYS: [&str; 6] = [
    "rate_limits",
    "budgets",
    "guardrails",
    "residency",
    "require_key",
    "require_tags",
];
const LIMIT_KEYS: [&str; 4] = ["scope", "rpm", "tpm", "on_unavailable"];
const BUDGET_KEYS: [&str; 6] = ["scope", "usd", "window", "on_exceed", "on_unpriced", "on_unavailable"];
const STATE_KEYS: [&str; 5] = ["backend", "url", "prefix", "timeout", "on_unavailable"];

fn read_fail_mode(map: &serde_json::Map<String, Value>, path: &str, p: &mut Problems) -> Option<bool> {
    match read::string(map, path, "on_unavailable", p).as_deref() {
        None => None,
        Some("fail_open") => Some(true),
        Some("fail_closed") => Some(false),
        Some(other) => {
            let near = suggest::hint(other, ["fail_open", "fail_closed"]);
            p.push(
                &join(path, "on_unavailable"),
                format!("unknown mode `{other}`{near} (fail_open or fail_closed)"),
            );
            None
        }
    }
}

pub(super) fn read_state(v: Option<&Value>, p: &mut Problems) -> StateConfig {
    let mut state = StateConfig::default();
    let Some(map) = v
        .filter(|v| !v.is_null())
        .and_then(|v| object(v, "state", &STATE_KEYS, p))
    else {
        return state;
    };
    state.fail_open = read_fail_mode(map, "state", p).unwrap_or(false);
    match read::string(map, "state", "backend", p).as_deref() {
        None | Some("memory") => {}
        Some("redis") | Some("valkey") => match read::required_string(map, "state", "url", p) {
            Some(url)
                if url.starts_with("redis://") || url.starts_with("rediss://") || url.starts_with("valkey://") =>
            {
                state.backend = StateBackendConfig::Redis {
                    url: url.replacen("valkey://", "redis://", 1),
                    prefix: read::string(map, "state", "prefix", p).unwrap_or_else(|| "sg:".into()),
                    timeout: read::duration(map, "state", "timeout", p)
                        .unwrap_or(std::time::Duration::from_millis(250)),
                };
            }
            Some(_) => p.push(
                "state.url",
                "must be a redis:// or rediss:// URL, like `redis://127.0.0.1:6379/0`",
            ),
            None => {}
        },
        Some(other) => {
            let near = suggest::hint(other, ["memory", "redis"]);
            p.push(
                "state.backend",
                format!("unknown backend `{other}`{near} (memory or redis)"),
            );
        }
    }
    state
}
const GUARD_KEYS: [&str; 8] = [
    "name", "type", "entities", "patterns", "words", "limit", "action", "apply_to",
];
const RESIDENCY_KEYS: [&str; 2] = ["when", "regions"];
const SCOPE_KEYS: [&str; 3] = ["tag", "tags", "kind"];
const AUDIT_KEYS: [&str; 8] = [
    "path",
    "content",
    "max_bytes",
    "key",
    "pseudonymize",
    "checkpoint_every",
    "fsync",
    "on_error",
];

pub(super) fn read_keys(v: Option<&Value>, config: &Config, p: &mut Problems) -> BTreeMap<String, KeyConfig> {
    let mut keys = BTreeMap::new();
    let targets: Vec<&str> = config
        .routes
        .keys()
        .chain(config.deployments.keys())
        .map(String::as_str)
        .collect();
    for (name, v) in read::named_map(v, "keys", p) {
        let path = join("keys", name);
        let Some(map) = object(v, &path, &KEY_KEYS, p) else {
            continue;
        };
        let Some(sha) = read::required_string(map, &path, "sha256", p) else {
            continue;
        };
        let sha = sha.to_lowercase();
        if sha.len() != 64 || !sha.chars().all(|c| c.is_ascii_hexdigit()) {
            p.push(
                &join(&path, "sha256"),
                "must be the 64 hex digits of the key's SHA-256 (store the hash, never the key)",
            );
        }
        let routes = read::string_list(map, &path, "routes", p);
        for (i, r) in routes.iter().enumerate() {
            if r == "all" && !targets.contains(&"all") {
                continue;
            }
            if let Some(d) = config.deployments.get(r)
                && !d.callable
                && !config.routes.contains_key(r)
            {
                p.push(
                    &format!("{path}.routes[{i}]"),
                    format!("`{r}` is a deployment that is not callable by name; set `deployments.{r}.callable: true` or list a route"),
                );
            }
            if !targets.contains(&r.as_str()) {
                let near = suggest::hint(r, targets.iter().copied());
                p.push(
                    &format!("{path}.routes[{i}]"),
                    format!("no route or deployment named `{r}`{near}"),
                );
            }
        }
        let expires = read::string(map, &path, "expires", p);
        if let Some(e) = &expires
            && crate::policy::clock::parse_date(e).is_none()
        {
            p.push(
                &join(&path, "expires"),
                format!("`{e}` is not a date; write it as YYYY-MM-DD"),
            );
        }
        let tags: BTreeMap<String, String> = read::string_map(map, &path, "tags", p).into_iter().collect();
        let pin_tags = read::string_list(map, &path, "pin_tags", p);
        for t in &pin_tags {
            if !tags.contains_key(t) {
                p.push(
                    &join(&path, "pin_tags"),
                    format!("`{t}` is pinned but the key sets no value for it; add `{t}` under the key's `tags`"),
                );
            }
        }
        keys.insert(
            name.clone(),
            KeyConfig {
                name: name.clone(),
                sha256: sha,
                tags,
                routes,
                expires,
                pin_tags,
            },
        );
    }
    keys
}

fn read_selector(map: &serde_json::Map<String, Value>, path: &str, p: &mut Problems) -> Selector {
    let spath = join(path, "scope");
    match map.get("scope") {
        None | Some(Value::Null) => Selector {
            scope: Scope::Global,
            when_tags: BTreeMap::new(),
        },
        Some(Value::String(s)) => {
            let scope = match s.as_str() {
                "global" => Scope::Global,
                "key" => Scope::Key,
                "route" => Scope::Route,
                "team" | "user" => Scope::Tag(s.clone()),
                other => {
                    let near = suggest::hint(other, ["global", "key", "route", "team", "user"]);
                    p.push(
                        &spath,
                        format!("unknown scope `{other}`{near}; use global, key, route, team, user or {{tag: NAME}}"),
                    );
                    Scope::Global
                }
            };
            Selector {
                scope,
                when_tags: BTreeMap::new(),
            }
        }
        Some(v) => {
            let Some(m) = object(v, &spath, &SCOPE_KEYS, p) else {
                return Selector {
                    scope: Scope::Global,
                    when_tags: BTreeMap::new(),
                };
            };
            let scope = match (
                read::string(m, &spath, "tag", p),
                read::string(m, &spath, "kind", p).as_deref(),
            ) {
                (Some(tag), _) => Scope::Tag(tag),
                (None, Some("key")) => Scope::Key,
                (None, Some("route")) => Scope::Route,
                _ => Scope::Global,
            };
            Selector {
                scope,
                when_tags: read::string_map(m, &spath, "tags", p).into_iter().collect(),
            }
        }
    }
}

fn list<'a>(
    map: &'a serde_json::Map<String, Value>,
    key: &str,
    path: &str,
    p: &mut Problems,
) -> Vec<(String, &'a Value)> {
    match map.get(key) {
        None | Some(Value::Null) => vec![],
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, v)| (format!("{path}.{key}[{i}]"), v))
            .collect(),
        Some(_) => {
            p.push(&join(path, key), "expected a list");
            vec![]
        }
    }
}

pub(super) fn read_policies(v: Option<&Value>, config: &Config, p: &mut Problems) -> Policies {
    let mut policies = Policies {
        require_key: !config.keys.is_empty(),
        ..Policies::default()
    };
    let Some(v) = v.filter(|v| !v.is_null()) else {
        return policies;
    };
    let Some(map) = object(v, "policies", &POLICY_KEYS, p) else {
        return policies;
    };
    match map.get("require_key") {
        None | Some(Value::Null) => {}
        Some(Value::Bool(b)) => policies.require_key = *b,
        Some(_) => p.push("policies.require_key", "must be true or false"),
    }
    if policies.require_key && config.keys.is_empty() {
        p.push(
            "policies.require_key",
            "is true but no `keys` are configured, so every call would be refused; add keys or remove it",
        );
    }
    policies.require_tags = read::string_list(map, "policies", "require_tags", p);
    for (path, v) in list(map, "rate_limits", "policies", p) {
        let Some(m) = object(v, &path, &LIMIT_KEYS, p) else {
            continue;
        };
        let (rpm, tpm) = (read::whole(m, &path, "rpm", p), read::whole(m, &path, "tpm", p));
        if rpm.is_none() && tpm.is_none() {
            p.push(&path, "a rate limit needs `rpm`, `tpm` or both");
        }
        if rpm == Some(0) || tpm == Some(0) {
            p.push(
                &path,
                "a limit of 0 would refuse every call; remove the limit or set it above 0",
            );
        }
        policies.rate_limits.push(RateLimitConfig {
            selector: read_selector(m, &path, p),
            rpm,
            tpm,
            fail_open: read_fail_mode(m, &path, p),
        });
    }
    for (path, v) in list(map, "budgets", "policies", p) {
        let Some(m) = object(v, &path, &BUDGET_KEYS, p) else {
            continue;
        };
        let usd = read::number(m, &path, "usd", p);
        if usd.is_none() && !m.contains_key("usd") {
            p.push(&join(&path, "usd"), "is required: the budget in US dollars");
        }
        let window = match read::string(m, &path, "window", p).as_deref() {
            None | Some("total") => Window::Total,
            Some("day") => Window::Day,
            Some("month") => Window::Month,
            Some(other) => {
                let near = suggest::hint(other, ["day", "month", "total"]);
                p.push(
                    &join(&path, "window"),
                    format!("unknown window `{other}`{near} (day, month or total)"),
                );
                Window::Total
            }
        };
        let on_exceed = match m.get("on_exceed") {
            None | Some(Value::Null) => OnExceed::Block,
            Some(Value::String(s)) if s == "block" => OnExceed::Block,
            Some(Value::Object(o)) if o.contains_key("fallback") => {
                let route = o["fallback"].as_str().unwrap_or("").to_owned();
                if !config.routes.contains_key(&route) {
                    let near = suggest::hint(&route, config.routes.keys().map(String::as_str));
                    p.push(
                        &join(&path, "on_exceed.fallback"),
                        format!("no route named `{route}`{near}"),
                    );
                }
                OnExceed::Fallback(route)
            }
            Some(_) => {
                p.push(&join(&path, "on_exceed"), "use `block` or `{fallback: ROUTE}`");
                OnExceed::Block
            }
        };
        let on_unpriced = match m.get("on_unpriced") {
            None | Some(Value::Null) => OnUnpriced::Block,
            Some(Value::String(s)) if s == "block" => OnUnpriced::Block,
            Some(Value::String(s)) if s == "allow" => OnUnpriced::Allow,
            Some(Value::Object(o)) if o.len() == 1 && o.get("estimate_with").is_some_and(Value::is_string) => {
                OnUnpriced::EstimateWith(o["estimate_with"].as_str().unwrap_or("").to_owned())
            }
            Some(_) => {
                p.push(
                    &join(&path, "on_unpriced"),
                    "use `block` (the default), `allow` or `{estimate_with: MODEL}` (a priced model)",
                );
                OnUnpriced::Block
            }
        };
        policies.budgets.push(BudgetConfig {
            selector: read_selector(m, &path, p),
            usd: usd.unwrap_or(0.0),
            window,
            on_exceed,
            on_unpriced,
            fail_open: read_fail_mode(m, &path, p),
        });
    }
    for (i, (path, v)) in list(map, "guardrails", "policies", p).into_iter().enumerate() {
        let Some(m) = object(v, &path, &GUARD_KEYS, p) else {
            continue;
        };
        let kind = match read::string(m, &path, "type", p).as_deref() {
            Some("pii") => {
                let mut entities = read::string_list(m, &path, "entities", p);
                if entities.is_empty() {
                    entities = PII_ENTITIES.iter().map(|e| (*e).to_owned()).collect();
                }
                for e in &entities {
                    if !PII_ENTITIES.contains(&e.as_str()) {
                        let near = suggest::hint(e, PII_ENTITIES);
                        p.push(
                            &join(&path, "entities"),
                            format!("unknown entity `{e}`{near} (known: {})", PII_ENTITIES.join(", ")),
                        );
                    }
                }
                GuardKind::Pii { entities }
            }
            Some("regex") => {
                let patterns = read::string_list(m, &path, "patterns", p);
                for pat in &patterns {
                    if let Err(e) = regex::Regex::new(pat) {
                        p.push(
                            &join(&path, "patterns"),
                            format!("`{pat}` is not a valid regular expression: {e}"),
                        );
                    }
                }
                GuardKind::Regex { patterns }
            }
            Some("keywords") => GuardKind::Keywords {
                words: read::string_list(m, &path, "words", p),
            },
            Some("max_input_tokens") => GuardKind::MaxInputTokens {
                limit: read::whole(m, &path, "limit", p).unwrap_or(u64::MAX),
            },
            other => {
                let known = ["pii", "regex", "keywords", "max_input_tokens"];
                let near = other.map(|o| suggest::hint(o, known)).unwrap_or_default();
                p.push(
                    &join(&path, "type"),
                    format!("unknown or missing guardrail type{near} (known: {})", known.join(", ")),
                );
                continue;
            }
        };
        let action = match read::string(m, &path, "action", p).as_deref() {
            None | Some("block") => GuardAction::Block,
            Some("redact") => GuardAction::Redact,
            Some("log") => GuardAction::Log,
            Some(other) => {
                let near = suggest::hint(other, ["redact", "block", "log"]);
                p.push(
                    &join(&path, "action"),
                    format!("unknown action `{other}`{near} (redact, block or log)"),
                );
                GuardAction::Block
            }
        };
        if action == GuardAction::Redact && matches!(kind, GuardKind::MaxInputTokens { .. }) {
            p.push(&join(&path, "action"), "max_input_tokens can only `block` or `log`");
        }
        let apply = read::string_list(m, &path, "apply_to", p);
        for (k, a) in apply.iter().enumerate() {
            if a != "input" && a != "output" {
                // A typo here would silently switch the rule off for one side.
                let near = suggest::hint(a, ["input", "output"]);
                p.push(
                    &format!("{path}.apply_to[{k}]"),
                    format!("unknown side `{a}`{near} (input or output)"),
                );
            }
        }
        let (input, output) = if apply.is_empty() {
            (true, true)
        } else {
            (apply.iter().any(|a| a == "input"), apply.iter().any(|a| a == "output"))
        };
        let name = read::string(m, &path, "name", p).unwrap_or_else(|| format!("guardrails[{i}]"));
        policies.guardrails.push(GuardrailConfig {
            name,
            kind,
            action,
            input,
            output,
        });
    }
    for (path, v) in list(map, "residency", "policies", p) {
        let Some(m) = object(v, &path, &RESIDENCY_KEYS, p) else {
            continue;
        };
        let when_tags = m
            .get("when")
            .and_then(|w| object(w, &join(&path, "when"), &["tags"], p))
            .map(|w| {
                read::string_map(w, &join(&path, "when"), "tags", p)
                    .into_iter()
                    .collect()
            })
            .unwrap_or_default();
        let regions = read::string_list(m, &path, "regions", p);
        if regions.is_empty() {
            p.push(&join(&path, "regions"), "list the regions data may go to, like [eu]");
        }
        policies.residency.push(ResidencyConfig { when_tags, regions });
    }
    policies
}

pub(super) fn read_audit(v: Option<&Value>, p: &mut Problems) -> Option<AuditConfig> {
    let v = v.filter(|v| !v.is_null())?;
    let map = object(v, "audit", &AUDIT_KEYS, p)?;
    let path = read::required_string(map, "audit", "path", p)?;
    let content = match read::string(map, "audit", "content", p).as_deref() {
        None | Some("none") => AuditContent::None,
        Some("redacted") => AuditContent::Redacted,
        Some(other) => {
            p.push(
                "audit.content",
                format!("unknown content mode `{other}` (none or redacted)"),
            );
            AuditContent::None
        }
    };
    let key = read::string(map, "audit", "key", p).filter(|k| !k.is_empty());
    let pseudonymize = map.get("pseudonymize").and_then(Value::as_bool).unwrap_or(false);
    if pseudonymize && key.is_none() {
        p.push(
            "audit.pseudonymize",
            "needs `audit.key` (a keyed hash cannot be reversed without it)",
        );
    }
    let fsync = match read::string(map, "audit", "fsync", p).as_deref() {
        None | Some("interval") => AuditFsync::Interval,
        Some("always") => AuditFsync::Always,
        Some("never") => AuditFsync::Never,
        Some(other) => {
            p.push(
                "audit.fsync",
                format!("unknown fsync mode `{other}` (always, interval or never)"),
            );
            AuditFsync::Interval
        }
    };
    let on_error = match read::string(map, "audit", "on_error", p).as_deref() {
        None | Some("fail_closed") => AuditOnError::FailClosed,
        Some("warn") => AuditOnError::Warn,
        Some(other) => {
            p.push(
                "audit.on_error",
                format!("unknown mode `{other}` (fail_closed or warn)"),
            );
            AuditOnError::FailClosed
        }
    };
    Some(AuditConfig {
        path: PathBuf::from(path),
        content,
        max_bytes: read::whole(map, "audit", "max_bytes", p),
        key,
        pseudonymize,
        checkpoint_every: read::whole(map, "audit", "checkpoint_every", p).unwrap_or(DEFAULT_CHECKPOINT_EVERY),
        fsync,
        on_error,
    })
}
