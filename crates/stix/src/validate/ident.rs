//! Identifiers (`type--UUID`, STIX 2.1 §2.9) and names (§3.1).

/// A parsed identifier: the type part and the UUID's version nibble.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Id<'a> {
    pub type_name: &'a str,
    pub uuid: &'a str,
    pub version: u8,
}

/// Splits `type--uuid` and checks the UUID is RFC 4122 form (8-4-4-4-12 hex
/// digits, version 1–5, variant bits 10). `None` when malformed.
pub(crate) fn parse_id(id: &str) -> Option<Id<'_>> {
    let (type_name, uuid) = id.split_once("--")?;
    if !is_type_name(type_name) {
        return None;
    }
    let version = uuid_version(uuid)?;
    Some(Id {
        type_name,
        uuid,
        version,
    })
}

/// The version of a well-formed RFC 4122 UUID.
pub(crate) fn uuid_version(uuid: &str) -> Option<u8> {
    let bytes = uuid.as_bytes();
    if bytes.len() != 36 {
        return None;
    }
    for (i, b) in bytes.iter().enumerate() {
        let dash = matches!(i, 8 | 13 | 18 | 23);
        if dash != (*b == b'-') || (!dash && !b.is_ascii_hexdigit()) {
            return None;
        }
    }
    let version = (*bytes.get(14)? as char).to_digit(16)?;
    let variant = (*bytes.get(19)? as char).to_digit(16)?;
    if !(1..=5).contains(&version) || !(8..=11).contains(&variant) {
        return None;
    }
    u8::try_from(version).ok()
}

/// A type name: 3–250 characters of a–z, 0–9 and hyphen, starting with a
/// letter, no empty word between hyphens (§3.1; `--` separates identifiers).
pub(crate) fn is_type_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    (3..=250).contains(&bytes.len())
        && bytes.first().is_some_and(u8::is_ascii_lowercase)
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
        && !name.contains("--")
        && !name.ends_with('-')
}

/// A property name: 3–250 characters of a–z, 0–9 and underscore, starting
/// with a letter (§3.1).
pub(crate) fn is_property_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    (3..=250).contains(&bytes.len())
        && bytes.first().is_some_and(u8::is_ascii_lowercase)
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'_')
}

/// Open-vocabulary style: lowercase words joined by hyphens (the reference
/// validator's `open-vocab-format` check; §10 vocabulary values).
pub(crate) fn is_vocab_style(value: &str) -> bool {
    !value.is_empty()
        && value
            .bytes()
            .all(|b| !b.is_ascii_uppercase() && b != b' ' && b != b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers() {
        let id = parse_id("indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f");
        assert_eq!(id.map(|i| (i.type_name, i.version)), Some(("indicator", 4)));
        assert!(parse_id("indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3").is_none());
        assert!(parse_id("indicator--8e2e2d2b-17d4-0cbf-938f-98ee46b3cd3f").is_none());
        assert!(parse_id("indicator--8e2e2d2b-17d4-4cbf-738f-98ee46b3cd3f").is_none());
        assert!(parse_id("corpor@tion--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f").is_none());
        assert!(parse_id("8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f").is_none());
    }

    #[test]
    fn names() {
        assert!(is_type_name("x-example-com-thing"));
        assert!(!is_type_name("corpo_ration"));
        assert!(!is_type_name("ab"));
        assert!(!is_type_name("a--b"));
        assert!(is_property_name("x_foo"));
        assert!(!is_property_name("x-foo"));
        assert!(!is_property_name("9ome_custom_stuff"));
        assert!(!is_property_name("mp"));
    }
}
