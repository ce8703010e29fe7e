//! Durations in config are strings: `250ms`, `30s`, `5m`, `1h` (a bare number means seconds).

use std::time::Duration;

/// The longest duration sluicegate accepts anywhere (ten years). Longer ones are errors, not
/// clamps: `1000000000000000000000s` is a typo or an attack, and would overflow `Duration`
/// and `Instant` arithmetic.
pub const MAX_DURATION: Duration = Duration::from_secs(3650 * 86_400);

/// A number of seconds as a duration: finite, non-negative and at most [`MAX_DURATION`].
pub fn seconds(value: f64) -> Result<Duration, String> {
    if !value.is_finite() || value < 0.0 {
        return Err(format!("{value} s must be a non-negative number of seconds"));
    }
    if value > MAX_DURATION.as_secs_f64() {
        return Err(format!(
            "{value} s is longer than the longest duration accepted (3650d, ten years)"
        ));
    }
    Ok(Duration::from_secs_f64(value))
}

pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let split = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let value: f64 = num
        .parse()
        .map_err(|_| format!("`{text}` is not a duration; write it like `250ms`, `30s`, `5m` or `1h`"))?;
    let seconds = match unit.trim() {
        "" | "s" => value,
        "ms" => value / 1000.0,
        "us" | "µs" => value / 1_000_000.0,
        "m" => value * 60.0,
        "h" => value * 3600.0,
        "d" => value * 86400.0,
        other => {
            return Err(format!(
                "`{text}` has an unknown unit `{other}`; use ms, s, m, h or d (for example `30s`)"
            ));
        }
    };
    if !seconds.is_finite() || seconds < 0.0 {
        return Err(format!("`{text}` must be a non-negative duration"));
    }
    self::seconds(seconds)
        .map_err(|_| format!("`{text}` is longer than the longest duration accepted (3650d, ten years)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units() {
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("30s").unwrap(), Duration::from_secs(30));
        assert_eq!(parse_duration("5m").unwrap(), Duration::from_secs(300));
        assert_eq!(parse_duration("2").unwrap(), Duration::from_secs(2));
        assert!(parse_duration("5 parsecs").is_err());
        assert!(parse_duration("fast").is_err());
    }

    #[test]
    fn huge_durations_are_errors_not_panics() {
        assert!(
            parse_duration("1000000000000000000000s")
                .unwrap_err()
                .contains("longest")
        );
        assert!(parse_duration("99999999999999999999999d").is_err());
        assert_eq!(parse_duration("3650d").unwrap(), MAX_DURATION);
        assert!(seconds(1e300).is_err());
        assert!(seconds(f64::MAX).is_err());
        assert!(seconds(-1.0).is_err());
        assert!(seconds(f64::NAN).is_err());
    }
}
