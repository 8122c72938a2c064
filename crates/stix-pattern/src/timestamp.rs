//! Timestamps as microseconds since the Unix epoch (UTC).
//!
//! STIX timestamps are `YYYY-MM-DDTHH:MM:SS[.s+]Z`. The reference matcher
//! reads them with Python's `strptime`, which also takes one-digit fields
//! and drops digits past the sixth of the fraction; that leniency is
//! reproduced for values read from observed data, so the same inputs match.

/// Parses a timestamp; `None` when it is malformed or not a real instant
/// (month 13, February 30, second 60, year 0).
pub(crate) fn parse_micros(s: &str) -> Option<i64> {
    if s.chars().any(char::is_lowercase) {
        return None;
    }
    let b = s.as_bytes();
    let mut pos = 0;
    let year = fixed_digits(b, &mut pos, 4)?;
    expect(b, &mut pos, b'-')?;
    let month = field(
        b,
        &mut pos,
        |a, b| a == 1 && b <= 2 || a == 0 && b >= 1,
        |a| a >= 1,
    )?;
    expect(b, &mut pos, b'-')?;
    let day = if b.get(pos) == Some(&b' ') {
        pos += 1;
        let d = single_digit(b, &mut pos)?;
        if d == 0 {
            return None;
        }
        d
    } else {
        field(
            b,
            &mut pos,
            |a, b| a == 3 && b <= 1 || a == 1 || a == 2 || a == 0 && b >= 1,
            |a| a >= 1,
        )?
    };
    expect(b, &mut pos, b'T')?;
    let hour = field(b, &mut pos, |a, b| a == 2 && b <= 3 || a <= 1, |_| true)?;
    expect(b, &mut pos, b':')?;
    let minute = field(b, &mut pos, |a, _| a <= 5, |_| true)?;
    expect(b, &mut pos, b':')?;
    let second = field(b, &mut pos, |a, b| a == 6 && b <= 1 || a <= 5, |_| true)?;
    let mut micros = 0i64;
    if b.get(pos) == Some(&b'.') {
        pos += 1;
        let frac_digits = b
            .get(pos..)
            .map_or(0, |r| r.iter().take_while(|c| c.is_ascii_digit()).count());
        let rest = b.get(pos + frac_digits..)?;
        // Python keeps six digits when more than six are followed by 'Z'.
        let kept = if frac_digits > 6 && rest == b"Z" {
            6
        } else {
            frac_digits
        };
        if !(1..=6).contains(&kept) {
            return None;
        }
        for k in 0..6 {
            let digit = if k < kept {
                i64::from(b.get(pos + k)? - b'0')
            } else {
                0
            };
            micros = micros * 10 + digit;
        }
        pos += frac_digits;
    }
    expect(b, &mut pos, b'Z')?;
    if pos != b.len() || year == 0 || second > 59 || day > days_in_month(year, month) {
        return None;
    }
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + hour * 3600 + minute * 60 + second;
    Some(secs * 1_000_000 + micros)
}

fn expect(b: &[u8], pos: &mut usize, c: u8) -> Option<()> {
    if b.get(*pos) == Some(&c) {
        *pos += 1;
        Some(())
    } else {
        None
    }
}

fn single_digit(b: &[u8], pos: &mut usize) -> Option<i64> {
    let d = b.get(*pos).filter(|c| c.is_ascii_digit())?;
    *pos += 1;
    Some(i64::from(d - b'0'))
}

fn fixed_digits(b: &[u8], pos: &mut usize, n: usize) -> Option<i64> {
    let mut v = 0;
    for _ in 0..n {
        v = v * 10 + single_digit(b, pos)?;
    }
    Some(v)
}

/// A two-digit field if the two digits fit `two`, else a one-digit field.
fn field(b: &[u8], pos: &mut usize, two: fn(u8, u8) -> bool, one: fn(u8) -> bool) -> Option<i64> {
    let digit = |k: usize| b.get(k).filter(|c| c.is_ascii_digit()).map(|c| c - b'0');
    match (digit(*pos), digit(*pos + 1)) {
        (Some(a), Some(c)) if two(a, c) => {
            *pos += 2;
            Some(i64::from(a) * 10 + i64::from(c))
        }
        (Some(a), _) if one(a) => {
            *pos += 1;
            Some(i64::from(a))
        }
        _ => None,
    }
}

fn is_leap(y: i64) -> bool {
    y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(y) => 29,
        2 => 28,
        _ => 0,
    }
}

/// Days since 1970-01-01 in the proleptic Gregorian calendar.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::parse_micros;

    #[test]
    fn reads_strict_and_lenient_forms() {
        assert_eq!(parse_micros("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_micros("1970-01-01T00:00:01.5Z"), Some(1_500_000));
        assert_eq!(parse_micros("1970-1-2T0:0:0Z"), Some(86_400_000_000));
        assert_eq!(parse_micros("1970-01-01T00:00:00.12345678Z"), Some(123_456));
        assert_eq!(
            parse_micros("2000-02-29T00:00:00Z"),
            Some(951_782_400_000_000)
        );
    }

    #[test]
    fn rejects_impossible_instants() {
        for s in [
            "2001-02-29T00:00:00Z",
            "2010-05-21T13:21:60Z",
            "0000-01-01T00:00:00Z",
            "2010-05-21t13:21:43Z",
            "2010-05-21T13:21:43",
            "2010-05-21T13:21:43.Z",
            "2010/05/21T13:21:43Z",
        ] {
            assert_eq!(parse_micros(s), None, "{s}");
        }
    }
}
