//! One property value against its kind (STIX 2.1 §2 data types).

use std::sync::LazyLock;

use regex::Regex;
use serde_json::{Map, Value};

use super::custom;
use super::ident::{self, is_vocab_style};
use super::tables;
use super::timestamp::{self, TimestampError};
use super::types::{self, Family, Kind, Prop, Targets};
use super::vocab;
use super::{Ctx, Path};

/// Where an object of properties sits, for the messages and the rules on
/// properties the table does not know.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Scope<'a> {
    /// Human name of the container, e.g. `file`, `ntfs-ext`, `external reference`.
    pub name: &'a str,
    /// Inside a cyber-observable object (dictionary key case rules apply).
    pub in_sco: bool,
}

/// Checks the properties of a nested object: required ones present, known
/// ones of the right kind, unknown ones by the custom-property rules.
pub(crate) fn check_members(
    ctx: &mut Ctx<'_>,
    props: &[Prop],
    map: &Map<String, Value>,
    path: &Path<'_>,
    scope: Scope<'_>,
) {
    for prop in props {
        if prop.required && !map.contains_key(prop.name) {
            ctx.error(
                "required-property",
                &path.key(prop.name),
                format!(
                    "the {} is missing its required property '{}'",
                    scope.name, prop.name
                ),
            );
        }
    }
    for (key, value) in map {
        let child = path.key(key);
        match types::find_prop(props, key) {
            Some(prop) => check_value(ctx, prop, value, &child, scope),
            None => custom::nested_property(ctx, key, value, &child, scope),
        }
    }
}

pub(crate) fn check_value(
    ctx: &mut Ctx<'_>,
    prop: &Prop,
    value: &Value,
    path: &Path<'_>,
    scope: Scope<'_>,
) {
    let name = prop.name;
    match prop.kind {
        Kind::Str => {
            if !value.is_string() {
                type_error(ctx, path, name, "a string");
            }
        }
        Kind::StrList => {
            if let Some(items) = list(ctx, value, path, name, "a list of strings") {
                for (i, item) in items.iter().enumerate() {
                    if !item.is_string() {
                        type_error(ctx, &path.index(i), name, "a string");
                    }
                }
            }
        }
        Kind::Bool => {
            if !value.is_boolean() {
                type_error(ctx, path, name, "a boolean (true or false)");
            }
        }
        Kind::Int => {
            if integer(value).is_none() {
                type_error(ctx, path, name, "an integer");
            }
        }
        Kind::IntRange(low, high) => match integer(value) {
            None => type_error(ctx, path, name, "an integer"),
            Some(n) if n < i128::from(low) || n > i128::from(high) => ctx.error(
                "value-range",
                path,
                if high == i64::MAX {
                    format!("'{name}' must be at least {low}, not {n}")
                } else {
                    format!("'{name}' must be between {low} and {high}, not {n}")
                },
            ),
            Some(_) => {}
        },
        Kind::Number => {
            if !value.is_number() {
                type_error(ctx, path, name, "a number");
            }
        }
        Kind::NumRange(low, high) => match value.as_f64() {
            None => type_error(ctx, path, name, "a number"),
            Some(n) if n < low || n > high => ctx.error(
                "value-range",
                path,
                if high == f64::MAX {
                    format!("'{name}' must be at least {low}, not {n}")
                } else {
                    format!("'{name}' must be between {low} and {high}, not {n}")
                },
            ),
            Some(_) => {}
        },
        Kind::Timestamp => {
            timestamp_value(ctx, value, path, name, false);
        }
        Kind::TimestampMillis => {
            timestamp_value(ctx, value, path, name, true);
        }
        Kind::Ref(targets) => reference(ctx, value, path, name, targets),
        Kind::RefList(targets) => {
            if let Some(items) = list(ctx, value, path, name, "a list of identifiers") {
                for (i, item) in items.iter().enumerate() {
                    reference(ctx, item, &path.index(i), name, targets);
                }
            }
        }
        Kind::Open(vocabulary) => open_value(ctx, value, path, name, vocabulary),
        Kind::OpenList(vocabulary) => {
            if let Some(items) = list(ctx, value, path, name, "a list of strings") {
                for (i, item) in items.iter().enumerate() {
                    open_value(ctx, item, &path.index(i), name, vocabulary);
                }
            }
        }
        Kind::Closed(allowed) => closed_value(ctx, value, path, name, allowed),
        Kind::ClosedList(allowed) => {
            if let Some(items) = list(ctx, value, path, name, "a list of strings") {
                for (i, item) in items.iter().enumerate() {
                    closed_value(ctx, item, &path.index(i), name, allowed);
                }
            }
        }
        Kind::Dict => dictionary(ctx, value, path, name, scope.in_sco),
        Kind::HeaderDict => {
            dictionary(ctx, value, path, name, false);
            for (header, values) in value.as_object().into_iter().flatten() {
                let header_path = path.key(header);
                if let Some(items) = list(ctx, values, &header_path, header, "a list of strings") {
                    for (i, item) in items.iter().enumerate() {
                        if !item.is_string() {
                            type_error(ctx, &header_path.index(i), header, "a string");
                        }
                    }
                }
            }
        }
        Kind::Hashes => hashes(ctx, value, path, name),
        Kind::KillChainPhases => {
            if let Some(items) = list(ctx, value, path, name, "a list of kill-chain-phase objects")
            {
                for (i, item) in items.iter().enumerate() {
                    kill_chain_phase(ctx, item, &path.index(i));
                }
            }
        }
        Kind::ExternalReferences => {
            if let Some(items) = list(
                ctx,
                value,
                path,
                name,
                "a list of external-reference objects",
            ) {
                for (i, item) in items.iter().enumerate() {
                    external_reference(ctx, item, &path.index(i));
                }
            }
        }
        Kind::GranularMarkings => {
            if let Some(items) = list(ctx, value, path, name, "a list of granular-marking objects")
            {
                for (i, item) in items.iter().enumerate() {
                    granular_marking(ctx, item, &path.index(i));
                }
            }
        }
        // Needs the whole object; see extension.rs.
        Kind::Extensions | Kind::Any => {}
        Kind::Hex => {
            if let Some(text) = string(ctx, value, path, name)
                && (text.is_empty()
                    || text.len() % 2 != 0
                    || !text.bytes().all(|b| b.is_ascii_hexdigit()))
            {
                ctx.error(
                        "hex-format",
                        path,
                        format!("'{name}' must be hexadecimal octets (an even number of hex digits), not '{text}'"),
                    );
            }
        }
        Kind::Binary => {
            if let Some(text) = string(ctx, value, path, name)
                && !is_base64(text)
            {
                ctx.error(
                    "binary-format",
                    path,
                    format!("'{name}' must be base64-encoded binary data"),
                );
            }
        }
        Kind::Url => {
            if let Some(text) = string(ctx, value, path, name)
                && !is_uri(text)
            {
                ctx.error(
                    "url-format",
                    path,
                    format!("'{name}' must be an RFC 3986 URL with a scheme, not '{text}'"),
                );
            }
        }
        Kind::Lang => {
            if let Some(text) = string(ctx, value, path, name)
                && !is_language_tag(text)
            {
                ctx.error(
                    "language-tag",
                    path,
                    format!("'{text}' is not an RFC 5646 language tag"),
                );
            }
        }
        Kind::Object(members) => match value.as_object() {
            Some(map) => check_members(ctx, members, map, path, Scope { name, ..scope }),
            None => type_error(ctx, path, name, "an object"),
        },
        Kind::ObjectList(members) => {
            if let Some(items) = list(ctx, value, path, name, "a list of objects") {
                for (i, item) in items.iter().enumerate() {
                    match item.as_object() {
                        Some(map) => check_members(
                            ctx,
                            members,
                            map,
                            &path.index(i),
                            Scope { name, ..scope },
                        ),
                        None => type_error(ctx, &path.index(i), name, "an object"),
                    }
                }
            }
        }
    }
}

pub(crate) fn type_error(ctx: &mut Ctx<'_>, path: &Path<'_>, name: &str, expected: &str) {
    ctx.error(
        "property-type",
        path,
        format!("'{name}' must be {expected}"),
    );
}

/// An integer, from any JSON number that holds one exactly.
pub(crate) fn integer(value: &Value) -> Option<i128> {
    if let Some(n) = value.as_i64() {
        return Some(i128::from(n));
    }
    value.as_u64().map(i128::from)
}

fn string<'v>(ctx: &mut Ctx<'_>, value: &'v Value, path: &Path<'_>, name: &str) -> Option<&'v str> {
    let text = value.as_str();
    if text.is_none() {
        type_error(ctx, path, name, "a string");
    }
    text
}

/// A non-empty list (§2.6: lists MUST NOT be empty).
pub(crate) fn list<'v>(
    ctx: &mut Ctx<'_>,
    value: &'v Value,
    path: &Path<'_>,
    name: &str,
    expected: &str,
) -> Option<&'v Vec<Value>> {
    match value.as_array() {
        None => {
            type_error(ctx, path, name, expected);
            None
        }
        Some(items) if items.is_empty() => {
            ctx.error(
                "empty-list",
                path,
                format!("'{name}' must not be an empty list"),
            );
            None
        }
        Some(items) => Some(items),
    }
}

/// Parses a timestamp value, reporting format, range and precision errors.
pub(crate) fn timestamp_value(
    ctx: &mut Ctx<'_>,
    value: &Value,
    path: &Path<'_>,
    name: &str,
    millis: bool,
) -> Option<timestamp::Timestamp> {
    let text = string(ctx, value, path, name)?;
    match timestamp::parse(text) {
        Ok(parsed) => {
            if millis && parsed.fraction_digits < 3 {
                ctx.error(
                    "timestamp-precision",
                    path,
                    format!("'{name}' must be precise to the millisecond (e.g. 2016-01-20T12:31:12.123Z), not '{text}'"),
                );
            }
            Some(parsed)
        }
        Err(TimestampError::Format) => {
            ctx.error(
                "timestamp-format",
                path,
                format!("'{name}' must be an RFC 3339 timestamp in UTC like 2016-01-20T12:31:12.123Z, not '{text}'"),
            );
            None
        }
        Err(TimestampError::OutOfRange) => {
            ctx.error(
                "timestamp-range",
                path,
                format!("'{name}' is not a real date and time: '{text}'"),
            );
            None
        }
    }
}

/// Is `type_name` an acceptable target for a reference of this kind?
pub(crate) fn target_allowed(targets: Targets, type_name: &str) -> bool {
    let family = types::family_of(type_name);
    match targets {
        Targets::Any => true,
        Targets::Only(allowed) => allowed.contains(&type_name),
        Targets::Sco => matches!(family, Some(Family::Sco) | None) && type_name != "bundle",
        Targets::ScoOrSro => {
            matches!(family, Some(Family::Sco | Family::Sro) | None) && type_name != "bundle"
        }
        Targets::RelationshipEnd => {
            !matches!(family, Some(Family::Sro | Family::Meta)) && type_name != "bundle"
        }
        Targets::SdoOrCustom => matches!(family, Some(Family::Sdo) | None) && type_name != "bundle",
    }
}

fn describe(targets: Targets) -> String {
    match targets {
        Targets::Any => "any object".to_owned(),
        Targets::Only(allowed) => allowed.join(" or "),
        Targets::Sco => "a cyber-observable object".to_owned(),
        Targets::ScoOrSro => "a cyber-observable or relationship object".to_owned(),
        Targets::RelationshipEnd => {
            "an SDO, SCO or custom object (not a relationship, sighting, bundle or meta object)"
                .to_owned()
        }
        Targets::SdoOrCustom => "an SDO or a custom object".to_owned(),
    }
}

pub(crate) fn reference(
    ctx: &mut Ctx<'_>,
    value: &Value,
    path: &Path<'_>,
    name: &str,
    targets: Targets,
) {
    let Some(text) = string(ctx, value, path, name) else {
        return;
    };
    match ident::parse_id(text) {
        None => ctx.error(
            "identifier-format",
            path,
            format!("'{name}' must be an identifier of the form type--UUID, not '{text}'"),
        ),
        Some(id) if !target_allowed(targets, id.type_name) => ctx.error(
            "reference-type",
            path,
            format!(
                "'{name}' must refer to {}, not to a '{}'",
                describe(targets),
                id.type_name
            ),
        ),
        Some(_) => {}
    }
}

fn open_value(
    ctx: &mut Ctx<'_>,
    value: &Value,
    path: &Path<'_>,
    name: &str,
    vocabulary: &vocab::Vocab,
) {
    let Some(text) = string(ctx, value, path, name) else {
        return;
    };
    if vocabulary.contains(text) {
        return;
    }
    ctx.warn(
        vocabulary.rule,
        path,
        format!(
            "'{name}' value '{text}' is not in the {} vocabulary",
            vocabulary.name
        ),
    );
    if !is_vocab_style(text) {
        ctx.warn(
            "open-vocab-format",
            path,
            format!("'{name}' value '{text}' should be lowercase words separated by hyphens"),
        );
    }
}

fn closed_value(ctx: &mut Ctx<'_>, value: &Value, path: &Path<'_>, name: &str, allowed: &[&str]) {
    let Some(text) = string(ctx, value, path, name) else {
        return;
    };
    if !allowed.contains(&text) {
        ctx.error(
            "closed-vocabulary",
            path,
            format!(
                "'{name}' must be one of {}, not '{text}'",
                allowed.join(", ")
            ),
        );
    }
}

/// A dictionary key: ASCII letters, digits, hyphen and underscore, at most
/// 250 characters (§2.7).
fn is_dictionary_key(key: &str) -> bool {
    key.len() <= 250
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Dictionaries under these keys hold names defined elsewhere (hash names,
/// header names, option names), so upper case there is expected.
const DICTIONARY_CASE_EXCEPTIONS: &[&str] = &[
    "hashes",
    "file_header_hashes",
    "request_header",
    "additional_header_fields",
    "document_info_dict",
    "exif_tags",
    "ipfix",
    "options",
    "environment_variables",
    "key",
    "startup_info",
];

fn dictionary(ctx: &mut Ctx<'_>, value: &Value, path: &Path<'_>, name: &str, in_sco: bool) {
    let Some(map) = value.as_object() else {
        type_error(ctx, path, name, "a dictionary (JSON object)");
        return;
    };
    if map.is_empty() {
        ctx.error(
            "empty-dictionary",
            path,
            format!("'{name}' must not be an empty dictionary"),
        );
    }
    for key in map.keys() {
        if !is_dictionary_key(key) {
            ctx.error(
                "dictionary-key",
                &path.key(key),
                format!("dictionary key '{key}' must be at most 250 ASCII letters, digits, hyphens or underscores"),
            );
        }
    }
    if in_sco && !DICTIONARY_CASE_EXCEPTIONS.contains(&name) {
        dictionary_key_case(ctx, map, path, 0);
    }
}

/// Cyber-observable dictionary keys SHOULD be lowercase (reference check
/// `observable-dictionary-keys`); nested dictionaries too, to a bounded depth.
fn dictionary_key_case(ctx: &mut Ctx<'_>, map: &Map<String, Value>, path: &Path<'_>, depth: usize) {
    if depth > 32 || !ctx.wants("dictionary-key-case") {
        return;
    }
    for (key, value) in map {
        let child = path.key(key);
        if key.bytes().any(|b| b.is_ascii_uppercase()) {
            ctx.warn(
                "dictionary-key-case",
                &child,
                format!("dictionary key '{key}' should be lowercase"),
            );
        }
        if let Some(inner) = value.as_object()
            && !DICTIONARY_CASE_EXCEPTIONS.contains(&key.as_str())
        {
            dictionary_key_case(ctx, inner, &child, depth + 1);
        }
    }
}

static HASH_FORMATS: LazyLock<[(&str, Regex); 8]> = LazyLock::new(|| {
    let hex = |n: usize| Regex::new(&format!("^[a-fA-F0-9]{{{n}}}$"));
    let build = || -> Result<[(&str, Regex); 8], regex::Error> {
        Ok([
            ("MD5", hex(32)?),
            ("SHA-1", hex(40)?),
            ("SHA-256", hex(64)?),
            ("SHA-512", hex(128)?),
            ("SHA3-256", hex(64)?),
            ("SHA3-512", hex(128)?),
            ("SSDEEP", Regex::new(r"^[a-zA-Z0-9/+:.]{1,128}$")?),
            ("TLSH", Regex::new(r"^(T1)?[a-fA-F0-9]{70}$")?),
        ])
    };
    match build() {
        Ok(formats) => formats,
        // The patterns are literals; a failure here is a bug caught by tests.
        Err(error) => unreachable!("hash format regex: {error}"),
    }
});

fn hashes(ctx: &mut Ctx<'_>, value: &Value, path: &Path<'_>, name: &str) {
    let Some(map) = value.as_object() else {
        type_error(ctx, path, name, "a hashes dictionary (JSON object)");
        return;
    };
    if map.is_empty() {
        ctx.error(
            "empty-dictionary",
            path,
            format!("'{name}' must not be an empty dictionary"),
        );
    }
    for (algorithm, hash) in map {
        let child = path.key(algorithm);
        let Some(hash) = hash.as_str() else {
            type_error(ctx, &child, algorithm, "a string (a hash value)");
            continue;
        };
        if let Some((_, format)) = HASH_FORMATS.iter().find(|(known, _)| *known == algorithm) {
            if !format.is_match(hash) {
                ctx.error(
                    "hash-value",
                    &child,
                    format!("'{hash}' is not a valid {algorithm} hash"),
                );
            }
            continue;
        }
        if !(3..=250).contains(&algorithm.len())
            || !algorithm
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            ctx.error(
                "hash-algorithm-name",
                &child,
                format!("hash algorithm name '{algorithm}' must be 3 to 250 ASCII letters, digits, hyphens or underscores"),
            );
            continue;
        }
        // x_ is the custom-name prefix; such names are deliberate.
        if algorithm.starts_with("x_") {
            continue;
        }
        ctx.warn(
            vocab::HASH_ALGORITHM.rule,
            &child,
            format!("hash algorithm '{algorithm}' is not in the hash-algorithm-ov vocabulary"),
        );
        if algorithm.len() > 30 {
            ctx.warn(
                "hash-key-length",
                &child,
                format!("hash algorithm name '{algorithm}' should be at most 30 characters"),
            );
        }
    }
}

fn kill_chain_phase(ctx: &mut Ctx<'_>, item: &Value, path: &Path<'_>) {
    let Some(map) = item.as_object() else {
        type_error(
            ctx,
            path,
            "kill_chain_phases",
            "a list of kill-chain-phase objects",
        );
        return;
    };
    check_members(
        ctx,
        types::KILL_CHAIN_PHASE,
        map,
        path,
        Scope {
            name: "kill-chain-phase",
            in_sco: false,
        },
    );
    for key in ["kill_chain_name", "phase_name"] {
        if let Some(text) = map.get(key).and_then(Value::as_str)
            && !is_vocab_style(text)
        {
            ctx.warn(
                "kill-chain-name-format",
                &path.key(key),
                format!("{key} '{text}' should be lowercase words separated by hyphens"),
            );
        }
    }
}

static CVE_ID: LazyLock<Regex> =
    LazyLock::new(|| match Regex::new(r"^CVE-\d{4}-(0\d{3}|[1-9]\d{3,})$") {
        Ok(re) => re,
        Err(error) => unreachable!("CVE regex: {error}"),
    });
static CAPEC_ID: LazyLock<Regex> = LazyLock::new(|| match Regex::new(r"^CAPEC-\d+$") {
    Ok(re) => re,
    Err(error) => unreachable!("CAPEC regex: {error}"),
});

fn external_reference(ctx: &mut Ctx<'_>, item: &Value, path: &Path<'_>) {
    let Some(map) = item.as_object() else {
        type_error(
            ctx,
            path,
            "external_references",
            "a list of external-reference objects",
        );
        return;
    };
    check_members(
        ctx,
        types::EXTERNAL_REFERENCE,
        map,
        path,
        Scope {
            name: "external reference",
            in_sco: false,
        },
    );
    if !["description", "url", "external_id"]
        .iter()
        .any(|key| map.contains_key(*key))
    {
        ctx.error(
            "external-reference-content",
            path,
            "an external reference must have at least one of description, url or external_id besides source_name".to_owned(),
        );
    }
    let source = map.get("source_name").and_then(Value::as_str);
    let external_id = map.get("external_id").and_then(Value::as_str);
    // §2.5: the cve and capec sources carry identifiers of a fixed form.
    match (source, external_id) {
        (Some("cve"), id) if !id.is_some_and(|id| CVE_ID.is_match(id)) => ctx.error(
            "external-reference-id",
            path,
            "an external reference with source_name 'cve' must have an external_id of the form CVE-YYYY-NNNN".to_owned(),
        ),
        (Some("capec"), id) if !id.is_some_and(|id| CAPEC_ID.is_match(id)) => ctx.error(
            "external-reference-id",
            path,
            "an external reference with source_name 'capec' must have an external_id of the form CAPEC-N".to_owned(),
        ),
        (source, Some(id)) if source != Some("cve") && CVE_ID.is_match(id) => ctx.error(
            "external-reference-id",
            path,
            "an external reference to a CVE must have source_name 'cve'".to_owned(),
        ),
        _ => {}
    }
    if map.contains_key("url") && !map.contains_key("hashes") {
        ctx.warn(
            "external-reference-hashes",
            path,
            format!(
                "external reference '{}' has a url but no hashes",
                source.unwrap_or_default()
            ),
        );
    }
}

fn granular_marking(ctx: &mut Ctx<'_>, item: &Value, path: &Path<'_>) {
    let Some(map) = item.as_object() else {
        type_error(
            ctx,
            path,
            "granular_markings",
            "a list of granular-marking objects",
        );
        return;
    };
    check_members(
        ctx,
        types::GRANULAR_MARKING,
        map,
        path,
        Scope {
            name: "granular marking",
            in_sco: false,
        },
    );
    if map.contains_key("marking_ref") == map.contains_key("lang") {
        ctx.error(
            "granular-marking-ref-or-lang",
            path,
            "a granular marking must have exactly one of marking_ref and lang".to_owned(),
        );
    }
}

fn is_base64(text: &str) -> bool {
    let bytes = text.as_bytes();
    let body = bytes.iter().take_while(|b| **b != b'=').count();
    let padding = bytes.len() - body;
    bytes.len().is_multiple_of(4)
        && padding <= 2
        && bytes
            .get(body..)
            .is_some_and(|tail| tail.iter().all(|b| *b == b'='))
        && bytes.get(..body).is_some_and(|head| {
            head.iter()
                .all(|b| b.is_ascii_alphanumeric() || *b == b'+' || *b == b'/')
        })
}

/// An absolute URI (RFC 3986 §3): a scheme, a colon, and no whitespace or
/// control characters.
fn is_uri(text: &str) -> bool {
    let Some((scheme, rest)) = text.split_once(':') else {
        return false;
    };
    let mut scheme_bytes = scheme.bytes();
    scheme_bytes.next().is_some_and(|b| b.is_ascii_alphabetic())
        && scheme_bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
        && !rest.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_graphic() && !b"<>\"{}|\\^`".contains(&b))
}

/// An RFC 5646 tag we recognise: a listed tag, or a tag whose primary
/// language subtag is a listed two-letter code and whose other subtags are
/// well formed.
pub(crate) fn is_language_tag(tag: &str) -> bool {
    if tables::LANGUAGE_TAGS.binary_search(&tag).is_ok() {
        return true;
    }
    let mut subtags = tag.split('-');
    let Some(primary) = subtags.next() else {
        return false;
    };
    let primary_known = primary.len() == 2
        && tables::LANGUAGE_TAGS
            .binary_search(&primary.to_ascii_lowercase().as_str())
            .is_ok();
    primary_known
        && subtags
            .all(|s| (1..=8).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helpers() {
        assert!(is_base64("aGVsbG8="));
        assert!(!is_base64("aGVsbG8"));
        assert!(!is_base64("a=bc"));
        assert!(is_uri("https://example.com/x"));
        assert!(!is_uri("www.g.com"));
        assert!(!is_uri("http://exa mple.com"));
        assert!(is_language_tag("en"));
        assert!(is_language_tag("en-US"));
        assert!(!is_language_tag("foo"));
        assert!(LazyLock::force(&HASH_FORMATS).len() == 8);
    }
}
