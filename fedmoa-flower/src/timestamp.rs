//! ISO-8601 UTC timestamps for the `flwr-timestamp` header, written from `SystemTime`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Formats `t` as `YYYY-MM-DDTHH:MM:SS.ffffff+00:00` (what Python's
/// `datetime.fromisoformat` reads). Times before 1970 are clamped to the epoch.
pub fn iso8601_utc(t: SystemTime) -> String {
    let since = t.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO);
    let secs = since.as_secs();
    let micros = since.subsec_micros();
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{micros:06}+00:00",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// Seconds since the Unix epoch as `f64` (Flower's `created_at`).
pub fn unix_secs(t: SystemTime) -> f64 {
    t.duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs_f64()
}

/// Proleptic Gregorian date of day `days` after 1970-01-01 (Howard Hinnant's
/// `civil_from_days`, restricted to non-negative days).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468; // days since 0000-03-01
    let era = z / 146_097;
    let doe = z - era * 146_097; // day of era, [0, 146096]
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // [0, 399]
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // [0, 365], from March 1st
    let mp = (5 * doy + 2) / 153; // month from March, [0, 11]
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + u64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: u64, micros: u32) -> SystemTime {
        UNIX_EPOCH + Duration::new(secs, micros * 1000)
    }

    #[test]
    fn formats_known_instants() {
        assert_eq!(iso8601_utc(at(0, 0)), "1970-01-01T00:00:00.000000+00:00");
        // 2000-02-29 (leap day, century divisible by 400): 11016 days after the epoch
        // (30 years = 10957 days incl. 7 leap days, + 31 Jan + 28 Feb) → 951782400 s,
        // plus 12:34:56 = 45296 s.
        assert_eq!(
            iso8601_utc(at(951_782_400 + 45_296, 7)),
            "2000-02-29T12:34:56.000007+00:00"
        );
        // 1795604263 s = 20782 days (20782·86400 = 1795564800) + 39463 s (10:57:43);
        // Python: datetime(2026,11,25,10,57,43,tzinfo=utc).timestamp() == 1795604263.
        assert_eq!(
            iso8601_utc(at(1_795_604_263, 123_456)),
            "2026-11-25T10:57:43.123456+00:00"
        );
        // 2100-03-01: 2100 is not a leap year, so Feb 28 is followed by Mar 1.
        // datetime(2100,3,1,tzinfo=utc).timestamp() == 4107542400.
        assert_eq!(
            iso8601_utc(at(4_107_542_400, 0)),
            "2100-03-01T00:00:00.000000+00:00"
        );
        assert_eq!(
            iso8601_utc(at(4_107_542_400 - 1, 0)),
            "2100-02-28T23:59:59.000000+00:00"
        );
    }

    #[test]
    fn unix_secs_keeps_fractions() {
        assert_eq!(unix_secs(at(10, 500_000)), 10.5);
    }
}
