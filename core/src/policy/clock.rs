//! Calendar arithmetic for key expiry and budget windows, in UTC, without a date library.

/// Days since 1970-01-01 for a civil date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m as i64 + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

/// The civil date of a day number.
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719468;
    let era = z.div_euclid(146097);
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// `YYYY-MM-DD` as seconds since the epoch at UTC midnight.
pub fn parse_date(text: &str) -> Option<i64> {
    let mut parts = text.trim().split('-');
    let y: i64 = parts.next()?.parse().ok()?;
    let m: u32 = parts.next()?.parse().ok()?;
    let d: u32 = parts.next()?.parse().ok()?;
    if parts.next().is_some() || !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    Some(days_from_civil(y, m, d) * 86400)
}

/// A `since` for usage reports, in unix seconds: unix seconds as text, a date (`2026-11-01`, or
/// the date part of an RFC 3339 time) or a duration ago (`1h`, `30m`). The one reading of `since` for the `usage`
/// call in every language and for `sluicegate usage --since`.
pub fn parse_since(text: &str) -> Option<f64> {
    if let Ok(seconds) = text.trim().parse::<f64>() {
        return seconds.is_finite().then_some(seconds);
    }
    if let Some(day) = parse_date(text.get(..10).unwrap_or(text)) {
        return Some(day as f64);
    }
    let ago = crate::config::parse_duration(text).ok()?;
    Some(now_secs() - ago.as_secs_f64())
}

/// What `since` accepts, for error messages.
pub const SINCE_FORMS: &str = "a date (2026-11-01), unix seconds, or a duration ago like `1h`";

/// Milliseconds added to this process's clock: a test hook standing for a host whose clock is
/// off (shared state must not depend on it).
static SKEW_MS: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(0);

/// Test hook: pretend this process's clock is `secs` ahead (negative: behind).
#[doc(hidden)]
pub fn set_skew(secs: f64) {
    SKEW_MS.store((secs * 1000.0) as i64, std::sync::atomic::Ordering::Relaxed);
}

pub fn now_secs() -> f64 {
    let skew = SKEW_MS.load(std::sync::atomic::Ordering::Relaxed) as f64 / 1000.0;
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
        + skew
}

/// RFC 3339 UTC timestamp with milliseconds.
pub fn rfc3339(secs: f64) -> String {
    let whole = secs.floor() as i64;
    let (y, m, d) = civil_from_days(whole.div_euclid(86400));
    let rem = whole.rem_euclid(86400);
    let ms = ((secs - whole as f64) * 1000.0).floor() as u32;
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{ms:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// The id of the day (`2026-11-28`) or month (`2026-11`) a time falls in.
pub fn window_id(secs: f64, monthly: bool) -> String {
    let (y, m, d) = civil_from_days((secs.floor() as i64).div_euclid(86400));
    if monthly {
        format!("{y:04}-{m:02}")
    } else {
        format!("{y:04}-{m:02}-{d:02}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_round_trip() {
        assert_eq!(parse_date("1970-01-01"), Some(0));
        assert_eq!(parse_date("2027-01-01"), Some(1798761600));
        assert_eq!(window_id(1798761600.0 - 1.0, true), "2026-12");
        assert_eq!(rfc3339(1798761600.5), "2027-01-01T00:00:00.500Z");
        assert_eq!(parse_date("2027-13-01"), None);
    }
}
