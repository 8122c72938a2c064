//! TAXII and STIX timestamps.
//!
//! TAXII timestamps (`date_added`, `request_timestamp`, the X-TAXII headers)
//! are emitted as RFC 3339 UTC with exactly six fractional digits, and
//! parsed leniently (any offset, any number of digits), since the spec's
//! own examples break the format. STIX `modified`/`created` values become a
//! fixed-width text with nine fractional digits, so that versions compare
//! and sort correctly as plain strings in any store.

use store::Micros;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Nanoseconds since the Unix epoch, from an RFC 3339 timestamp.
fn parse_nanos(text: &str) -> Option<i128> {
    // The `time` parser also takes a space between date and time; RFC 3339
    // (and so STIX and TAXII) wants `T`.
    if !matches!(text.as_bytes().get(10), Some(b'T' | b't')) {
        return None;
    }
    let parsed = OffsetDateTime::parse(text, &Rfc3339).ok()?;
    Some(parsed.unix_timestamp_nanos())
}

/// A TAXII timestamp as microseconds (sub-microsecond digits are dropped,
/// which keeps `added_after` exact: nothing lies between).
pub fn parse_taxii(text: &str) -> Option<Micros> {
    let nanos = parse_nanos(text)?;
    i64::try_from(nanos.div_euclid(1000)).ok()
}

/// `YYYY-MM-DDTHH:MM:SS.ssssssZ`.
pub fn format_taxii(micros: Micros) -> String {
    let Ok(moment) = OffsetDateTime::from_unix_timestamp_nanos(i128::from(micros) * 1000) else {
        // Outside the calendar `time` supports; cannot come from a clock.
        return "1970-01-01T00:00:00.000000Z".to_owned();
    };
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
        moment.year(),
        u8::from(moment.month()),
        moment.day(),
        moment.hour(),
        moment.minute(),
        moment.second(),
        moment.microsecond()
    )
}

/// A STIX timestamp as a version key: UTC, nine fractional digits, only
/// years 0000–9999 (so text order is time order). `None` if not RFC 3339.
pub fn version_key(text: &str) -> Option<String> {
    let nanos = parse_nanos(text)?;
    let moment = OffsetDateTime::from_unix_timestamp_nanos(nanos).ok()?;
    if !(0..=9999).contains(&moment.year()) {
        return None;
    }
    Some(format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:09}Z",
        moment.year(),
        u8::from(moment.month()),
        moment.day(),
        moment.hour(),
        moment.minute(),
        moment.second(),
        moment.nanosecond()
    ))
}

/// A version key as clients see it: trailing zeros dropped down to
/// millisecond precision (`.123Z`, `.123456Z`), which is STIX's usual form.
pub fn display_version(key: &str) -> String {
    let Some((seconds, fraction)) = key.strip_suffix('Z').and_then(|k| k.split_once('.')) else {
        return key.to_owned();
    };
    let trimmed = fraction.trim_end_matches('0');
    let digits = if trimmed.len() <= 3 {
        fraction.get(..3).unwrap_or(fraction)
    } else {
        trimmed
    };
    format!("{seconds}.{digits}Z")
}

/// Now, from the system clock, in microseconds.
pub fn now_micros() -> Micros {
    let nanos = OffsetDateTime::now_utc().unix_timestamp_nanos();
    i64::try_from(nanos / 1000).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn taxii_round_trip_keeps_microseconds() {
        let text = "2021-06-10T12:34:56.123456Z";
        let micros = parse_taxii(text);
        assert_eq!(micros.map(format_taxii).as_deref(), Some(text));
    }

    #[test]
    fn taxii_parse_is_lenient_but_not_loose() {
        assert_eq!(
            parse_taxii("2021-06-10T12:34:56Z")
                .map(format_taxii)
                .as_deref(),
            Some("2021-06-10T12:34:56.000000Z")
        );
        assert_eq!(
            parse_taxii("2016-11-02T12:34:34.12345Z")
                .map(format_taxii)
                .as_deref(),
            Some("2016-11-02T12:34:34.123450Z")
        );
        assert_eq!(
            parse_taxii("2021-06-10T14:34:56.1234567+02:00")
                .map(format_taxii)
                .as_deref(),
            Some("2021-06-10T12:34:56.123456Z")
        );
        for bad in [
            "yesterday",
            "2021-06-10",
            "2021-06-10 12:34:56Z",
            "",
            "2021-13-01T00:00:00Z",
        ] {
            assert_eq!(parse_taxii(bad), None, "{bad}");
        }
    }

    #[test]
    fn version_keys_sort_as_time() {
        let a = version_key("2020-01-01T00:00:00Z");
        let b = version_key("2020-01-01T00:00:00.000Z");
        let c = version_key("2020-01-01T00:00:00.0001Z");
        assert_eq!(a, b, "same instant, same key");
        assert!(b < c);
        assert_eq!(
            a.as_deref().map(display_version).as_deref(),
            Some("2020-01-01T00:00:00.000Z")
        );
        assert_eq!(
            c.as_deref().map(display_version).as_deref(),
            Some("2020-01-01T00:00:00.0001Z")
        );
        assert_eq!(version_key("not a time"), None);
    }
}
