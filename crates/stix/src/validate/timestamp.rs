//! Timestamps (STIX 2.1 §3.3 `timestamp`): RFC 3339, UTC, upper-case `T`
//! and `Z`, a real calendar date.

/// A parsed timestamp, ordered chronologically.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Timestamp {
    year: u16,
    month: u8,
    day: u8,
    hour: u8,
    minute: u8,
    second: u8,
    /// Fraction of a second in nanoseconds (digits past the 9th ignored).
    nanos: u32,
    /// How many fraction digits were written.
    pub fraction_digits: u16,
}

/// Why a string is not a timestamp.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TimestampError {
    Format,
    OutOfRange,
}

fn digits(bytes: &[u8]) -> Option<u32> {
    if bytes.is_empty() || !bytes.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(
        bytes
            .iter()
            .fold(0u32, |acc, b| acc * 10 + u32::from(b - b'0')),
    )
}

fn is_leap(year: u32) -> bool {
    (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400)
}

pub(crate) fn parse(text: &str) -> Result<Timestamp, TimestampError> {
    let b = text.as_bytes();
    // YYYY-MM-DDTHH:MM:SS is 19 bytes, then optional .fraction, then Z.
    if b.len() < 20 || b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') {
        return Err(TimestampError::Format);
    }
    if b.get(10) != Some(&b'T') || b.get(13) != Some(&b':') || b.get(16) != Some(&b':') {
        return Err(TimestampError::Format);
    }
    if b.last() != Some(&b'Z') {
        return Err(TimestampError::Format);
    }
    let field = |from: usize, to: usize| b.get(from..to).and_then(digits);
    let (Some(year), Some(month), Some(day), Some(hour), Some(minute), Some(second)) = (
        field(0, 4),
        field(5, 7),
        field(8, 10),
        field(11, 13),
        field(14, 16),
        field(17, 19),
    ) else {
        return Err(TimestampError::Format);
    };
    let rest = b.get(19..b.len() - 1).unwrap_or_default();
    let (nanos, fraction_digits) = match rest {
        [] => (0, 0),
        [b'.', fraction @ ..] => {
            if fraction.is_empty() || !fraction.iter().all(u8::is_ascii_digit) {
                return Err(TimestampError::Format);
            }
            let mut nanos = 0u32;
            for i in 0..9 {
                nanos = nanos * 10 + fraction.get(i).map_or(0, |d| u32::from(d - b'0'));
            }
            (nanos, u16::try_from(fraction.len()).unwrap_or(u16::MAX))
        }
        _ => return Err(TimestampError::Format),
    };
    let days_in_month = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(year) => 29,
        2 => 28,
        _ => return Err(TimestampError::OutOfRange),
    };
    // A leap second (60) is legal RFC 3339 but no STIX tool can represent it.
    if day == 0 || day > days_in_month || hour > 23 || minute > 59 || second > 59 {
        return Err(TimestampError::OutOfRange);
    }
    let narrow = |v: u32| u8::try_from(v).unwrap_or(u8::MAX);
    Ok(Timestamp {
        year: u16::try_from(year).unwrap_or(u16::MAX),
        month: narrow(month),
        day: narrow(day),
        hour: narrow(hour),
        minute: narrow(minute),
        second: narrow(second),
        nanos,
        fraction_digits,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_orders() {
        let a = parse("2016-04-06T20:03:48.000Z");
        let b = parse("2016-04-06T20:03:48.000123Z");
        assert!(matches!((a, b), (Ok(a), Ok(b)) if a < b));
        assert_eq!(
            parse("2016-04-06T20:03:48Z").map(|t| t.fraction_digits),
            Ok(0)
        );
        assert!(parse("2016-02-29T00:00:00Z").is_ok());
        assert_eq!(
            parse("2017-02-29T00:00:00Z"),
            Err(TimestampError::OutOfRange)
        );
        assert_eq!(
            parse("2016-04-31T00:00:00Z"),
            Err(TimestampError::OutOfRange)
        );
        assert_eq!(
            parse("2016-03-12T99:17:27.000Z"),
            Err(TimestampError::OutOfRange)
        );
        assert_eq!(
            parse("2016-13-12T08:17:27.000Z"),
            Err(TimestampError::OutOfRange)
        );
        assert_eq!(parse("2016-04-06 20:03:48Z"), Err(TimestampError::Format));
        assert_eq!(
            parse("2016-04-06T20:03:48+00:00"),
            Err(TimestampError::Format)
        );
        assert_eq!(parse("2016-04-06T20:03:48.Z"), Err(TimestampError::Format));
        assert_eq!(
            parse("2016-04-06T20:03:48.000z"),
            Err(TimestampError::Format)
        );
    }
}
