//! Semantic checks on a parsed pattern.
//!
//! Errors are the rules under which the OASIS validator (stix2-patterns)
//! rejects a pattern that parses: malformed hash values and, in 2.1, the
//! same qualifier twice on one bracketed expression. Everything else is a
//! warning: unknown object types and properties (custom ones are allowed),
//! constants that cannot work with their operator, qualifier values that
//! can never be satisfied.

use crate::StixVersion;
use crate::ast::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

/// One result of checking a pattern.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Finding {
    pub severity: Severity,
    /// Stable rule id, e.g. `hash-value`.
    pub rule: &'static str,
    /// Byte offset into the pattern, where known (syntax errors).
    pub offset: Option<usize>,
    pub message: String,
}

impl Finding {
    fn error(rule: &'static str, message: String) -> Self {
        Finding {
            severity: Severity::Error,
            rule,
            offset: None,
            message,
        }
    }
    fn warning(rule: &'static str, message: String) -> Self {
        Finding {
            severity: Severity::Warning,
            rule,
            offset: None,
            message,
        }
    }
}

impl Pattern {
    /// Semantic findings, errors first.
    pub fn check(&self) -> Vec<Finding> {
        let mut findings = Vec::new();
        if self.version == StixVersion::V21 {
            check_duplicate_qualifiers(&self.root, &mut findings);
        }
        check_qualifiers(&self.root, &mut findings);
        self.for_each_comparison(|c| check_comparison(c, self.version, &mut findings));
        findings.sort_by_key(|f| f.severity != Severity::Error);
        findings
    }
}

fn for_each_observation<'a>(root: &'a ObservationExpr, mut f: impl FnMut(&'a ObservationExpr)) {
    let mut stack = vec![root];
    while let Some(node) = stack.pop() {
        f(node);
        match node {
            ObservationExpr::Bracket(_) => {}
            ObservationExpr::Group(inner) => stack.push(inner),
            ObservationExpr::Qualified { expr, .. } => stack.push(expr),
            ObservationExpr::And(v) | ObservationExpr::Or(v) | ObservationExpr::FollowedBy(v) => {
                stack.extend(v.iter().rev())
            }
        }
    }
}

/// 2.1: `[..] WITHIN 1 SECONDS WITHIN 2 SECONDS` is an error, while the same
/// on a parenthesised group is allowed (the reference validator's rule).
fn check_duplicate_qualifiers(root: &ObservationExpr, findings: &mut Vec<Finding>) {
    for_each_observation(root, |node| {
        if let ObservationExpr::Qualified { expr, qualifiers } = node
            && matches!(**expr, ObservationExpr::Bracket(_))
        {
            for (i, q) in qualifiers.iter().enumerate() {
                let repeated = qualifiers
                    .iter()
                    .take(i)
                    .any(|p| std::mem::discriminant(p) == std::mem::discriminant(q));
                if repeated {
                    findings.push(Finding::error(
                        "duplicate-qualifier",
                        format!(
                            "{} appears twice on one observation expression",
                            q.kind_name()
                        ),
                    ));
                }
            }
        }
    });
}

fn check_qualifiers(root: &ObservationExpr, findings: &mut Vec<Finding>) {
    for_each_observation(root, |node| {
        let ObservationExpr::Qualified { qualifiers, .. } = node else {
            return;
        };
        for q in qualifiers {
            match q {
                Qualifier::Within(n) if n.as_f64() <= 0.0 => findings.push(Finding::warning(
                    "qualifier-value",
                    format!("WITHIN {} SECONDS: the window must be positive", n.as_str()),
                )),
                Qualifier::Repeats(n) if n.as_i128().is_none_or(|v| v < 1) => {
                    findings.push(Finding::warning(
                        "qualifier-value",
                        format!(
                            "REPEATS {} TIMES: the count must be a positive integer",
                            n.as_str()
                        ),
                    ))
                }
                Qualifier::StartStop { start, stop } => match (start.micros(), stop.micros()) {
                    (Some(a), Some(b)) if a >= b => findings.push(Finding::warning(
                        "qualifier-value",
                        format!(
                            "START t'{}' is not before STOP t'{}': nothing can match",
                            start.as_str(),
                            stop.as_str()
                        ),
                    )),
                    (a, b) => {
                        for (t, v) in [(start, a), (stop, b)] {
                            if v.is_none() {
                                findings.push(invalid_timestamp(t));
                            }
                        }
                    }
                },
                _ => {}
            }
        }
    });
}

fn invalid_timestamp(t: &TimestampText) -> Finding {
    Finding::warning(
        "timestamp-value",
        format!("t'{}' is not a real date and time", t.as_str()),
    )
}

fn check_comparison(c: &Comparison, version: StixVersion, findings: &mut Vec<Finding>) {
    check_hash_value(c, findings);
    check_object_type(&c.path, version, findings);
    for step in &c.path.steps {
        if let PathStep::Index(n) = step
            && n.as_str().starts_with('-')
        {
            findings.push(Finding::warning(
                "list-index",
                format!(
                    "{}: list indexes count from 0; a negative index never matches",
                    c.path
                ),
            ));
        }
    }
    let literals: Vec<&Literal> = match &c.operand {
        Operand::Literal(l) => vec![l],
        Operand::Set(items) => items.iter().collect(),
        Operand::None => Vec::new(),
    };
    for l in &literals {
        if let Literal::Timestamp(t) = l
            && t.micros().is_none()
        {
            findings.push(invalid_timestamp(t));
        }
    }
    match (&c.operator, &c.operand) {
        (Operator::In, Operand::Set(items)) if !homogeneous(items) => {
            findings.push(Finding::warning(
                "operand-type",
                format!(
                    "{}: the set mixes constant types, which cannot be compared",
                    c.path
                ),
            ))
        }
        (Operator::IsSubset, Operand::Literal(Literal::Str(s)))
            if crate::net::parse_cidr(s).is_none() =>
        {
            findings.push(Finding::warning(
                "operand-type",
                format!(
                    "{} ISSUBSET '{s}': the operand must be a CIDR block like 10.0.0.0/8",
                    c.path
                ),
            ))
        }
        (Operator::IsSuperset, Operand::Literal(Literal::Str(s)))
            if crate::net::parse_ip_or_cidr(s).is_none() =>
        {
            findings.push(Finding::warning(
                "operand-type",
                format!(
                    "{} ISSUPERSET '{s}': the operand must be an IPv4 address or CIDR block",
                    c.path
                ),
            ))
        }
        (Operator::Matches, Operand::Literal(Literal::Str(s))) => {
            if let Err(e) = crate::matcher::compile_text_regex(s) {
                findings.push(Finding::warning(
                    "operand-type",
                    format!(
                        "{} MATCHES: the regular expression does not compile: {e}",
                        c.path
                    ),
                ))
            }
        }
        _ => {}
    }
}

/// Whether all constants of a set are of one type (integers and floats mix).
pub(crate) fn homogeneous(items: &[Literal]) -> bool {
    let class = |l: &Literal| match l {
        Literal::Int(_) | Literal::Float(_) => 0,
        Literal::Str(_) => 1,
        Literal::Bool(_) => 2,
        Literal::Binary(_) | Literal::Hex(_) => 3,
        Literal::Timestamp(_) => 4,
    };
    let all_numbers = items.iter().all(|l| class(l) == 0);
    let first = items.first().map(std::mem::discriminant);
    all_numbers
        || items
            .iter()
            .all(|l| Some(std::mem::discriminant(l)) == first)
}

/// The written form of a constant with its quotes removed, as the
/// reference validator compares it against hash formats.
fn unquoted_text(operand: &Operand) -> String {
    fn push(text: &mut String, l: &Literal) {
        match l {
            Literal::Str(s) => {
                for c in s.chars() {
                    match c {
                        '\\' => text.push_str("\\\\"),
                        '\'' => text.push('\\'),
                        c => text.push(c),
                    }
                }
            }
            Literal::Binary(s) => {
                text.push('b');
                text.push_str(s);
            }
            Literal::Hex(s) => {
                text.push('h');
                text.push_str(s);
            }
            Literal::Timestamp(t) => {
                text.push('t');
                text.push_str(t.as_str());
            }
            other => text.push_str(&other.to_string()),
        }
    }
    let mut text = String::new();
    match operand {
        Operand::Literal(l) => push(&mut text, l),
        Operand::Set(items) => {
            // The reference sees the set's text without whitespace.
            text.push('(');
            for (i, l) in items.iter().enumerate() {
                if i > 0 {
                    text.push(',');
                }
                push(&mut text, l);
            }
            text.push(')');
        }
        Operand::None => {}
    }
    text
}

/// `file:hashes.'SHA-256' = 'f00'` is invalid: a value under a known hash
/// algorithm must have that algorithm's form.
fn check_hash_value(c: &Comparison, findings: &mut Vec<Finding>) {
    if matches!(c.operand, Operand::None)
        || !c.path.steps.iter().any(|s| s.key_name() == Some("hashes"))
    {
        return;
    }
    let Some(PathStep::Key { name, .. }) = c.path.steps.last() else {
        return;
    };
    let algorithm: String = name
        .to_uppercase()
        .chars()
        .filter(|&ch| ch != '-' && ch != '\'')
        .collect();
    let value = unquoted_text(&c.operand);
    let ok = match algorithm.as_str() {
        "MD5" => hex_exactly(&value, &[32]),
        "MD6" => md6_prefix(&value),
        "RIPEMD160" | "SHA1" => hex_exactly(&value, &[40]),
        "SHA224" | "SHA3224" => hex_exactly(&value, &[56]),
        "SHA256" | "SHA3256" => hex_exactly(&value, &[64]),
        "SHA384" | "SHA3384" => hex_exactly(&value, &[96]),
        "SHA512" | "SHA3512" | "WHIRLPOOL" => hex_exactly(&value, &[128]),
        "SSDEEP" => {
            let v = strip_final_newline(&value);
            (1..=128).contains(&v.chars().count())
                && v.chars()
                    .all(|ch| ch.is_ascii_alphanumeric() || matches!(ch, '/' | '+' | ':' | '.'))
        }
        _ => true,
    };
    if !ok {
        findings.push(Finding::error(
            "hash-value",
            format!("'{value}' is not a valid {name} hash"),
        ));
    }
}

/// Python's `$` also matches before one final newline.
fn strip_final_newline(s: &str) -> &str {
    s.strip_suffix('\n').unwrap_or(s)
}

fn hex_exactly(value: &str, lengths: &[usize]) -> bool {
    let v = strip_final_newline(value);
    lengths.contains(&v.len()) && v.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The reference's MD6 expression only anchors its first alternative, so in
/// effect it asks for 32 hex digits at the start.
fn md6_prefix(value: &str) -> bool {
    let hex_run =
        |s: &str, n: usize| s.len() >= n && s.bytes().take(n).all(|b| b.is_ascii_hexdigit());
    hex_run(value, 32)
        || value
            .strip_prefix("\n    ")
            .is_some_and(|rest| hex_run(rest, 64))
}

fn check_object_type(path: &ObjectPath, version: StixVersion, findings: &mut Vec<Finding>) {
    let ty = path.object_type.as_str();
    if let Some(properties) = sco_properties(ty) {
        let first = path.first_property();
        let known = properties.contains(&first) || COMMON_PROPERTIES.contains(&first);
        if !known && !first.starts_with("x_") {
            findings.push(Finding::warning(
                "unknown-property",
                format!(
                    "{path}: '{first}' is not a property of {ty} (custom properties start with x_)"
                ),
            ));
        }
        return;
    }
    if version == StixVersion::V21 && NON_SCO_TYPES.contains(&ty) {
        findings.push(Finding::warning(
            "not-observable",
            format!(
                "{path}: {ty} is not a cyber-observable type and never appears in observed data"
            ),
        ));
        return;
    }
    let well_formed = (3..=250).contains(&ty.len())
        && ty
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && ty.bytes().next().is_some_and(|b| b.is_ascii_lowercase());
    if !well_formed {
        findings.push(Finding::warning(
            "object-type-name",
            format!("{path}: '{ty}' breaks the type naming rules (3-250 of a-z, 0-9, '-', starting with a letter)"),
        ));
    } else if !ty.starts_with("x-") {
        findings.push(Finding::warning(
            "unknown-object-type",
            format!("{path}: '{ty}' is not a STIX cyber-observable type (custom types usually start with x-)"),
        ));
    }
}

/// STIX 2.1 object types that are not cyber observables (the reference
/// matcher never lets a pattern select them).
pub(crate) fn is_non_sco_type(ty: &str) -> bool {
    NON_SCO_TYPES.contains(&ty)
}

const COMMON_PROPERTIES: &[&str] = &[
    "type",
    "id",
    "spec_version",
    "object_marking_refs",
    "granular_markings",
    "defanged",
    "extensions",
];

const NON_SCO_TYPES: &[&str] = &[
    "attack-pattern",
    "bundle",
    "campaign",
    "course-of-action",
    "extension-definition",
    "grouping",
    "identity",
    "incident",
    "indicator",
    "infrastructure",
    "intrusion-set",
    "language-content",
    "location",
    "malware",
    "malware-analysis",
    "marking-definition",
    "note",
    "observed-data",
    "opinion",
    "relationship",
    "report",
    "sighting",
    "threat-actor",
    "tool",
    "vulnerability",
];

/// Properties of the STIX 2.0 and 2.1 cyber-observable types (both
/// versions' names, so a pattern written for either is not flagged).
fn sco_properties(ty: &str) -> Option<&'static [&'static str]> {
    Some(match ty {
        "artifact" => &[
            "mime_type",
            "payload_bin",
            "url",
            "hashes",
            "encryption_algorithm",
            "decryption_key",
        ],
        "autonomous-system" => &["number", "name", "rir"],
        "directory" => &[
            "path",
            "path_enc",
            "ctime",
            "mtime",
            "atime",
            "created",
            "modified",
            "accessed",
            "contains_refs",
        ],
        "domain-name" => &["value", "resolves_to_refs"],
        "email-addr" => &["value", "display_name", "belongs_to_ref"],
        "email-message" => &[
            "is_multipart",
            "date",
            "content_type",
            "from_ref",
            "sender_ref",
            "to_refs",
            "cc_refs",
            "bcc_refs",
            "message_id",
            "subject",
            "received_lines",
            "additional_header_fields",
            "body",
            "body_multipart",
            "raw_email_ref",
        ],
        "file" => &[
            "hashes",
            "size",
            "name",
            "name_enc",
            "magic_number_hex",
            "mime_type",
            "ctime",
            "mtime",
            "atime",
            "created",
            "modified",
            "accessed",
            "is_encrypted",
            "encryption_algorithm",
            "decryption_key",
            "parent_directory_ref",
            "contains_refs",
            "content_ref",
        ],
        "ipv4-addr" | "ipv6-addr" => &["value", "resolves_to_refs", "belongs_to_refs"],
        "mac-addr" => &["value"],
        "mutex" => &["name"],
        "network-traffic" => &[
            "start",
            "end",
            "is_active",
            "src_ref",
            "dst_ref",
            "src_port",
            "dst_port",
            "protocols",
            "src_byte_count",
            "dst_byte_count",
            "src_packets",
            "dst_packets",
            "ipfix",
            "src_payload_ref",
            "dst_payload_ref",
            "encapsulates_refs",
            "encapsulated_by_ref",
        ],
        "process" => &[
            "is_hidden",
            "pid",
            "name",
            "created",
            "created_time",
            "cwd",
            "arguments",
            "command_line",
            "environment_variables",
            "opened_connection_refs",
            "creator_user_ref",
            "binary_ref",
            "image_ref",
            "parent_ref",
            "child_refs",
        ],
        "software" => &["name", "cpe", "swid", "languages", "vendor", "version"],
        "url" => &["value"],
        "user-account" => &[
            "user_id",
            "credential",
            "password_last_changed",
            "account_login",
            "account_type",
            "display_name",
            "is_service_account",
            "is_privileged",
            "can_escalate_privs",
            "is_disabled",
            "account_created",
            "account_expires",
            "credential_last_changed",
            "account_first_login",
            "account_last_login",
        ],
        "windows-registry-key" => &[
            "key",
            "values",
            "modified",
            "modified_time",
            "creator_user_ref",
            "number_of_subkeys",
        ],
        "x509-certificate" => &[
            "is_self_signed",
            "hashes",
            "version",
            "serial_number",
            "signature_algorithm",
            "issuer",
            "validity_not_before",
            "validity_not_after",
            "subject",
            "subject_public_key_algorithm",
            "subject_public_key_modulus",
            "subject_public_key_exponent",
            "x509_v3_extensions",
        ],
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use crate::{PatternLimits, Severity, StixVersion, is_valid, validate};

    fn rules(pattern: &str) -> Vec<(&'static str, Severity)> {
        validate(pattern, StixVersion::V21, &PatternLimits::default())
            .into_iter()
            .map(|f| (f.rule, f.severity))
            .collect()
    }

    #[test]
    fn hash_values_must_fit_their_algorithm() {
        assert!(!is_valid(&validate(
            "[file:hashes.'SHA-256' = 'f00']",
            StixVersion::V21,
            &PatternLimits::default()
        )));
        assert!(is_valid(&validate(
            "[file:hashes.MD5 = 'cead3f77f6cda6ec00f57d76c9a6879f']",
            StixVersion::V21,
            &PatternLimits::default()
        )));
        // The set's written text never looks like a hash.
        assert!(
            rules("[file:hashes.MD5 IN ('cead3f77f6cda6ec00f57d76c9a6879f')]")
                .contains(&("hash-value", Severity::Error))
        );
        assert!(rules("[file:hashes.x = 'f00']").is_empty());
    }

    #[test]
    fn duplicate_qualifiers_only_on_brackets() {
        assert!(
            rules("[file:name = 'a'] WITHIN 5 SECONDS WITHIN 6 SECONDS")
                .contains(&("duplicate-qualifier", Severity::Error))
        );
        assert!(rules("([file:name = 'a']) WITHIN 5 SECONDS WITHIN 6 SECONDS").is_empty());
    }

    #[test]
    fn warnings_do_not_invalidate() {
        let found = rules(
            "[x_thing:a = 1] REPEATS 0 TIMES AND [file:nope = 1] START t'2020-01-01T00:00:00Z' STOP t'2019-01-01T00:00:00Z'",
        );
        assert!(found.contains(&("object-type-name", Severity::Warning)));
        assert!(found.contains(&("unknown-property", Severity::Warning)));
        assert_eq!(
            found
                .iter()
                .filter(|(r, _)| *r == "qualifier-value")
                .count(),
            2
        );
        assert!(found.iter().all(|(_, s)| *s == Severity::Warning));
    }

    #[test]
    fn operand_types_fit_operators() {
        assert!(
            rules("[ipv4-addr:value ISSUBSET '10.0.0.1']")
                .contains(&("operand-type", Severity::Warning))
        );
        assert!(rules("[file:size IN (1, 'a')]").contains(&("operand-type", Severity::Warning)));
        assert!(rules("[file:size IN (1, 2.5)]").is_empty());
        assert!(rules("[file:name MATCHES '(']").contains(&("operand-type", Severity::Warning)));
    }
}
