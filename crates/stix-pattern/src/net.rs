//! IPv4 addresses and CIDR blocks for ISSUBSET / ISSUPERSET.
//!
//! Addresses are read the way the C library's `inet_aton` reads them (what
//! the reference matcher uses): one to four parts, each decimal, octal
//! (leading `0`) or hex (`0x`), the last part filling the remaining bytes.

/// A 32-bit address, or `None` when it is not one.
pub(crate) fn parse_ipv4(s: &str) -> Option<u32> {
    // inet_aton stops at the first whitespace and ignores what follows.
    let s = s.split([' ', '\t', '\n', '\u{b}', '\u{c}', '\r']).next()?;
    let mut parts = Vec::with_capacity(4);
    for part in s.split('.') {
        if parts.len() == 4 {
            return None;
        }
        parts.push(parse_part(part)?);
    }
    let (last, init) = parts.split_last()?;
    let mut value: u64 = 0;
    for &p in init {
        if p > 0xff {
            return None;
        }
        value = (value << 8) | p;
    }
    let remaining_bits = 8 * (4 - init.len() as u32);
    if remaining_bits < 64 && *last >= (1u64 << remaining_bits) {
        return None;
    }
    value = (value << remaining_bits) | last;
    u32::try_from(value).ok()
}

fn parse_part(p: &str) -> Option<u64> {
    let (digits, radix) = if let Some(hex) = p.strip_prefix("0x").or_else(|| p.strip_prefix("0X")) {
        (hex, 16)
    } else if p.len() > 1 && p.starts_with('0') {
        (p.get(1..)?, 8)
    } else {
        (p, 10)
    };
    if radix == 16 && digits.is_empty() {
        // "0x" alone reads as zero in inet_aton.
        return Some(0);
    }
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    u64::from_str_radix(digits, radix)
        .ok()
        .filter(|&v| v <= u64::from(u32::MAX))
}

/// `a.b.c.d/n` with 1 ≤ n ≤ 32, as (address, prefix length).
pub(crate) fn parse_cidr(s: &str) -> Option<(u32, u32)> {
    let (ip, prefix) = s.split_once('/')?;
    let ip = parse_ipv4(ip)?;
    if prefix.is_empty() || !prefix.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let prefix: u32 = prefix.parse().ok()?;
    (1..=32).contains(&prefix).then_some((ip, prefix))
}

/// An address (prefix 32) or a CIDR block.
pub(crate) fn parse_ip_or_cidr(s: &str) -> Option<(u32, u32)> {
    if s.contains('/') {
        parse_cidr(s)
    } else {
        parse_ipv4(s).map(|ip| (ip, 32))
    }
}

/// Whether `inner` lies within `outer`.
pub(crate) fn contains(outer: (u32, u32), inner: (u32, u32)) -> bool {
    if outer.1 > inner.1 {
        return false;
    }
    let mask = if outer.1 == 0 {
        0
    } else {
        u32::MAX << (32 - outer.1)
    };
    inner.0 & mask == outer.0 & mask
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_inet_aton_forms() {
        assert_eq!(parse_ipv4("1.2.3.4"), Some(0x0102_0304));
        assert_eq!(parse_ipv4("1.2"), Some(0x0100_0002));
        assert_eq!(parse_ipv4("0x7f.1"), Some(0x7f00_0001));
        assert_eq!(parse_ipv4("010.0.0.1"), Some(0x0800_0001));
        assert_eq!(parse_ipv4("1.2.3.4 trailing"), Some(0x0102_0304));
        assert_eq!(parse_ipv4("256.1.1.1"), None);
        assert_eq!(parse_ipv4("1.2.3.4.5"), None);
        assert_eq!(parse_ipv4("a.b.c.d"), None);
    }

    #[test]
    fn cidr_containment() {
        let net = parse_cidr("192.168.0.0/16").unwrap_or((0, 0));
        assert!(contains(
            net,
            parse_ip_or_cidr("192.168.3.4").unwrap_or((0, 0))
        ));
        assert!(!contains(
            net,
            parse_ip_or_cidr("192.169.3.4").unwrap_or((0, 0))
        ));
        assert!(!contains(
            net,
            parse_ip_or_cidr("192.168.0.0/8").unwrap_or((0, 0))
        ));
        assert_eq!(parse_cidr("1.2.3.4/0"), None);
        assert_eq!(parse_cidr("1.2.3.4"), None);
    }
}
