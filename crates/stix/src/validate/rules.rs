//! The rule catalogue: every rule id the validator emits, its severity,
//! the section of STIX 2.1 it comes from, and the check names of the OASIS
//! reference validator (stix2-validator) it corresponds to, so that the
//! reference's `--disable`/`--enable` options can be expressed. The same
//! table is rendered in docs/stix-validation.md.

use std::collections::BTreeSet;

use crate::Severity;

/// One rule.
#[derive(Debug, Clone, Copy)]
pub struct Rule {
    pub id: &'static str,
    pub severity: Severity,
    /// Where the specification says so.
    pub section: &'static str,
    /// The reference validator's check name, or "" when it has none.
    pub reference_check: &'static str,
    pub summary: &'static str,
}

const fn error(id: &'static str, section: &'static str, summary: &'static str) -> Rule {
    Rule {
        id,
        severity: Severity::Error,
        section,
        reference_check: "",
        summary,
    }
}

const fn warning(
    id: &'static str,
    section: &'static str,
    reference_check: &'static str,
    summary: &'static str,
) -> Rule {
    Rule {
        id,
        severity: Severity::Warning,
        section,
        reference_check,
        summary,
    }
}

/// Every rule, errors first.
pub static RULES: &[Rule] = &[
    error(
        "pattern-syntax",
        "§9",
        "The STIX pattern of an indicator does not parse.",
    ),
    error(
        "pattern-invalid",
        "§9",
        "The STIX pattern parses but breaks a rule of the language (e.g. a hash value that does not fit its algorithm).",
    ),
    error(
        "not-an-object",
        "§3",
        "A STIX object (and a bundle entry) is a JSON object.",
    ),
    error(
        "required-property",
        "§3.2, per type",
        "A property the specification requires is missing.",
    ),
    error(
        "property-type",
        "§2, per type",
        "A property holds the wrong JSON type (string, integer, boolean, list, object...).",
    ),
    error(
        "value-range",
        "per type",
        "An integer or number is outside its allowed range (confidence 0-100, ports 0-65535, counts...).",
    ),
    error("empty-list", "§2.6", "A list property is empty."),
    error(
        "empty-dictionary",
        "§2.7",
        "A dictionary property (or extensions) is empty.",
    ),
    error(
        "dictionary-key",
        "§2.7",
        "A dictionary key is longer than 250 characters or uses characters other than ASCII letters, digits, '-' and '_'.",
    ),
    error(
        "timestamp-format",
        "§3.3",
        "A timestamp is not RFC 3339 in UTC (YYYY-MM-DDTHH:MM:SS[.s+]Z).",
    ),
    error(
        "timestamp-range",
        "§3.3",
        "A timestamp names a date or time that does not exist (month 13, 31 April, hour 99...).",
    ),
    error(
        "timestamp-precision",
        "§3.2",
        "created/modified (and object_modified) are not precise to the millisecond.",
    ),
    error(
        "timestamp-order",
        "§3.2, per type",
        "modified before created, last_seen before first_seen, valid_until not after valid_from, stop_time not after start_time, last_observed before first_observed, end before start.",
    ),
    error(
        "identifier-format",
        "§2.9",
        "An identifier is not type--UUID with an RFC 4122 UUID.",
    ),
    error(
        "id-type-mismatch",
        "§2.9",
        "The type part of id differs from the object's type.",
    ),
    error(
        "reference-type",
        "§3.2, per type",
        "A reference property points to a type it may not (created_by_ref to identity, object_marking_refs to marking-definition, relationship ends, sighting refs, SCO refs...).",
    ),
    error(
        "closed-vocabulary",
        "§10, per type",
        "A value of an enumeration (opinion, encryption_algorithm, extension_type, socket types, registry data types...) is not one of the allowed values.",
    ),
    error(
        "hash-value",
        "§2.5",
        "A hash of a known algorithm (MD5, SHA-1, SHA-256, SHA-512, SHA3-256, SHA3-512, SSDEEP, TLSH) is malformed.",
    ),
    error(
        "hash-algorithm-name",
        "§2.5",
        "A custom hash algorithm name is not 3-250 ASCII letters, digits, '-' or '_'.",
    ),
    error(
        "external-reference-content",
        "§2.5",
        "An external reference has none of description, url, external_id.",
    ),
    error(
        "external-reference-id",
        "§2.5",
        "source_name cve/capec without a CVE-/CAPEC- external_id, or a CVE id under another source_name.",
    ),
    error(
        "granular-marking-ref-or-lang",
        "§7.2.3",
        "A granular marking has both or neither of marking_ref and lang.",
    ),
    error(
        "selector-unresolved",
        "§7.2.3.1",
        "A granular-marking selector does not resolve in the object (missing key, index out of range, indexing a non-list, a key of a non-object).",
    ),
    error(
        "hex-format",
        "§2.4",
        "A hex property is not an even number of hex digits.",
    ),
    error("binary-format", "§2.2", "A binary property is not base64."),
    error("url-format", "§2.12", "A url is not an absolute URI."),
    error(
        "language-tag",
        "§3.2, §7.1, §6.14",
        "lang, language-content keys or software languages are not RFC 5646 tags.",
    ),
    error(
        "type-format",
        "§3.1",
        "A type name is not 3-250 characters of a-z, 0-9 and single hyphens starting with a letter.",
    ),
    error("reserved-type", "§11.2", "The type 'action' is reserved."),
    error(
        "property-name",
        "§3.1",
        "A property name is not 3-250 characters of a-z, 0-9 and '_' starting with a letter.",
    ),
    error(
        "reserved-property",
        "§3.1",
        "severity, action, username and phone_numbers are reserved.",
    ),
    error(
        "custom-property-forbidden",
        "§11.1 (option strict_properties)",
        "A custom property while custom properties are not accepted.",
    ),
    error(
        "custom-type-forbidden",
        "§11.2 (option strict_types)",
        "A custom object type while custom types are not accepted.",
    ),
    error(
        "stix-2.0-object",
        "§3.2",
        "An SDO/SRO without spec_version, or with spec_version 2.0: STIX 2.0 content.",
    ),
    error(
        "spec-version",
        "§3.2",
        "spec_version is something other than \"2.1\".",
    ),
    error("bundle-in-bundle", "§8", "A bundle inside a bundle."),
    error(
        "malware-family-name",
        "§4.11",
        "A malware family (is_family true) without a name.",
    ),
    error(
        "malware-analysis-result",
        "§4.12",
        "A malware-analysis with neither result nor analysis_sco_refs.",
    ),
    error(
        "location-content",
        "§4.10",
        "A location without region, country or latitude+longitude.",
    ),
    error(
        "location-coordinates",
        "§4.10",
        "latitude without longitude (or the reverse), or precision without both.",
    ),
    error(
        "observed-data-content",
        "§4.14",
        "observed-data with both or neither of objects and object_refs.",
    ),
    error(
        "relationship-type-format",
        "§5.1",
        "relationship_type is not lowercase ASCII letters, digits and hyphens.",
    ),
    error(
        "marking-self-reference",
        "§7.2.2, §7.2.3",
        "A marking-definition marks itself.",
    ),
    error(
        "marking-definition-content",
        "§7.2.1",
        "A marking-definition without extensions lacks definition_type/definition, or a statement lacks its text.",
    ),
    error(
        "tlp-marking",
        "§7.2.1.4; TLP 2.0 extension",
        "A TLP 1.0 marking that is not one of the four official objects, or a TLP 2.0 marking whose level is unknown or does not match its id.",
    ),
    error(
        "extension-key",
        "§3.2, §7.3",
        "An extensions key that is neither an extension-definition id nor a predefined/custom *-ext name.",
    ),
    error(
        "extension-properties-misuse",
        "§7.3",
        "extension_properties on an extension-definition that is not a toplevel-property-extension.",
    ),
    error(
        "extension-empty",
        "§6 (SCO extensions)",
        "A predefined SCO extension without any of its properties.",
    ),
    error(
        "sco-id-version",
        "§2.9",
        "A process, or an SCO without any ID contributing property, whose id is not UUIDv4.",
    ),
    error(
        "artifact-content",
        "§6.1",
        "artifact: not exactly one of payload_bin/url; url without hashes; decryption_key without encryption_algorithm.",
    ),
    error(
        "email-message-body",
        "§6.6",
        "body with is_multipart true, or body_multipart with is_multipart false.",
    ),
    error(
        "file-content",
        "§6.7",
        "A file with neither hashes nor name.",
    ),
    error(
        "ip-address",
        "§6.8, §6.9",
        "ipv4-addr/ipv6-addr value is not an address or CIDR block.",
    ),
    error(
        "mac-address",
        "§6.10",
        "mac-addr value is not lowercase colon-delimited MAC-48.",
    ),
    error(
        "sco-content",
        "§6.11, §6.15, §6.17, §6.18",
        "A process, user-account, windows-registry-key or x509-certificate with no property of its own.",
    ),
    error(
        "cpe-format",
        "§6.14",
        "software cpe is not a CPE 2.3 formatted string.",
    ),
    error(
        "charset-name",
        "§6.4, §6.7",
        "path_enc/name_enc is not an IANA character set name.",
    ),
    error(
        "network-traffic-endpoints",
        "§6.12",
        "network-traffic with neither src_ref nor dst_ref.",
    ),
    error(
        "network-traffic-active",
        "§6.12",
        "end present while is_active is true.",
    ),
    warning(
        "open-vocab-format",
        "§10",
        "open-vocab-format",
        "An open-vocabulary value is not lowercase words joined by hyphens.",
    ),
    warning(
        "dictionary-key-case",
        "§2.7",
        "observable-dictionary-keys",
        "A dictionary key in a cyber-observable is not lowercase.",
    ),
    warning(
        "hash-key-length",
        "§2.5",
        "hash-length",
        "A custom hash algorithm name is longer than 30 characters.",
    ),
    warning(
        "kill-chain-name-format",
        "§2.8",
        "kill-chain-names",
        "kill_chain_name/phase_name are not lowercase words joined by hyphens.",
    ),
    warning(
        "external-reference-hashes",
        "§2.5",
        "extref-hashes",
        "An external reference with a url has no hashes.",
    ),
    warning(
        "custom-property-without-extension",
        "§11.1, §7.3",
        "extensions-use",
        "A custom property not defined through an extension-definition.",
    ),
    warning(
        "custom-object-without-extension",
        "§11.2, §7.3",
        "extensions-use",
        "A custom object type not defined through an extension-definition (new-sdo/new-sco/new-sro).",
    ),
    warning(
        "custom-extension-without-definition",
        "§7.3, §11.3",
        "extensions-use",
        "A custom *-ext extension (or a non-property extension on a predefined SCO) instead of a property-extension.",
    ),
    warning(
        "custom-marking-without-extension",
        "§7.2.1",
        "extensions-use",
        "A custom marking-definition that does not use extensions.",
    ),
    warning(
        "custom-name-prefix",
        "§11",
        "custom-prefix-lax",
        "A custom property does not start with x_, or a custom type/extension with x-.",
    ),
    warning(
        "custom-name-source",
        "§11",
        "custom-prefix",
        "A custom name lacks a source identifier (x_<source>_<name>, x-<source>-<name>).",
    ),
    warning(
        "uuid-version",
        "§2.9",
        "uuid-check",
        "An SDO/SRO/meta id is not UUIDv4, or an SCO id not UUIDv5.",
    ),
    warning(
        "sco-deterministic-id",
        "§2.9",
        "",
        "An SCO's UUIDv5 id differs from the one its ID contributing properties determine.",
    ),
    warning(
        "bundle-spec-version",
        "§8",
        "",
        "A bundle carries spec_version (a STIX 2.0 property).",
    ),
    warning(
        "duplicate-id",
        "§8",
        "duplicate-ids",
        "Two objects in a bundle have the same id and modified.",
    ),
    warning(
        "indicator-name-description",
        "§4.7",
        "indicator-properties",
        "An indicator lacks name or description.",
    ),
    warning(
        "pattern-warning",
        "§9",
        "",
        "The STIX pattern uses an unknown object type or property, or a constant that does not fit its operator.",
    ),
    warning(
        "malware-analysis-product",
        "§4.12",
        "malware-analysis-product",
        "malware-analysis product is not lowercase words joined by hyphens.",
    ),
    warning(
        "country-code",
        "§4.10",
        "countries",
        "location country is not an ISO 3166-1 alpha-2 code.",
    ),
    warning(
        "deprecated-property",
        "§4.14",
        "deprecated-properties",
        "observed-data uses the deprecated objects property.",
    ),
    warning(
        "observable-object-key",
        "§4.14",
        "observable-object-keys",
        "A key of observed-data objects is not a non-negative integer.",
    ),
    warning(
        "relationship-type-suggested",
        "§5.1, per type",
        "relationship-types",
        "A relationship type (or its source/target) is not among those the spec suggests.",
    ),
    warning(
        "extension-definition-description",
        "§7.3",
        "extension-description",
        "An extension-definition without description.",
    ),
    warning(
        "toplevel-extension-properties",
        "§7.3",
        "extension-properties",
        "A toplevel-property-extension definition without extension_properties.",
    ),
    warning(
        "mime-type",
        "§6.1, §6.7",
        "mime-type",
        "mime_type is not of the form type/subtype with an IANA top-level type.",
    ),
    warning(
        "windows-process-priority",
        "§6.11.1",
        "windows-process-priority-format",
        "windows-process-ext priority does not end in _CLASS.",
    ),
    warning(
        "network-traffic-ports",
        "§6.12",
        "network-traffic-ports",
        "network-traffic lacks src_port or dst_port.",
    ),
    warning(
        "protocol-name",
        "§6.12",
        "protocols",
        "A protocol is not a lowercase IANA-style service name.",
    ),
    warning(
        "http-request-header",
        "§6.12.1",
        "http-request-headers",
        "An http-request-ext request_header key is not an HTTP request header.",
    ),
    warning(
        "socket-option",
        "§6.12.3",
        "socket-options",
        "A socket-ext options key is not a known socket option.",
    ),
    warning(
        "pdf-doc-info",
        "§6.7.3",
        "pdf-doc-info",
        "A pdf-ext document_info_dict key is not a PDF information key.",
    ),
    warning(
        "vocab-account-type",
        "§10",
        "account-type",
        "A value outside the account-type-ov open vocabulary.",
    ),
    warning(
        "vocab-attack-motivation",
        "§10",
        "attack-motivation",
        "A value outside the attack-motivation-ov open vocabulary.",
    ),
    warning(
        "vocab-attack-resource-level",
        "§10",
        "attack-resource-level",
        "A value outside the attack-resource-level-ov open vocabulary.",
    ),
    warning(
        "vocab-grouping-context",
        "§10",
        "grouping-context",
        "A value outside the grouping-context-ov open vocabulary.",
    ),
    warning(
        "vocab-hash-algorithm",
        "§10",
        "hash-algo",
        "A value outside the hash-algorithm-ov open vocabulary.",
    ),
    warning(
        "vocab-identity-class",
        "§10",
        "identity-class",
        "A value outside the identity-class-ov open vocabulary.",
    ),
    warning(
        "vocab-implementation-language",
        "§10",
        "implementation-languages",
        "A value outside the implementation-language-ov open vocabulary.",
    ),
    warning(
        "vocab-indicator-type",
        "§10",
        "indicator-types",
        "A value outside the indicator-type-ov open vocabulary.",
    ),
    warning(
        "vocab-industry-sector",
        "§10",
        "industry-sector",
        "A value outside the industry-sector-ov open vocabulary.",
    ),
    warning(
        "vocab-infrastructure-type",
        "§10",
        "infrastructure-types",
        "A value outside the infrastructure-type-ov open vocabulary.",
    ),
    warning(
        "vocab-malware-result",
        "§10",
        "malware-result",
        "A value outside the malware-result-ov open vocabulary.",
    ),
    warning(
        "vocab-malware-capabilities",
        "§10",
        "malware-capabilities",
        "A value outside the malware-capabilities-ov open vocabulary.",
    ),
    warning(
        "vocab-malware-type",
        "§10",
        "malware-types",
        "A value outside the malware-type-ov open vocabulary.",
    ),
    warning(
        "vocab-pattern-type",
        "§10",
        "indicator-pattern-types",
        "A value outside the pattern-type-ov open vocabulary.",
    ),
    warning(
        "vocab-processor-architecture",
        "§10",
        "processor-architecture",
        "A value outside the processor-architecture-ov open vocabulary.",
    ),
    warning(
        "vocab-region",
        "§10",
        "region",
        "A value outside the region-ov open vocabulary.",
    ),
    warning(
        "vocab-report-type",
        "§10",
        "report-types",
        "A value outside the report-type-ov open vocabulary.",
    ),
    warning(
        "vocab-threat-actor-type",
        "§10",
        "threat-actor-types",
        "A value outside the threat-actor-type-ov open vocabulary.",
    ),
    warning(
        "vocab-threat-actor-role",
        "§10",
        "threat-actor-role",
        "A value outside the threat-actor-role-ov open vocabulary.",
    ),
    warning(
        "vocab-threat-actor-sophistication",
        "§10",
        "threat-actor-sophistication",
        "A value outside the threat-actor-sophistication-ov open vocabulary.",
    ),
    warning(
        "vocab-tool-type",
        "§10",
        "tool-types",
        "A value outside the tool-type-ov open vocabulary.",
    ),
    warning(
        "vocab-windows-pebinary-type",
        "§10",
        "windows-pebinary-type",
        "A value outside the windows-pebinary-type-ov open vocabulary.",
    ),
    warning(
        "vocab-marking-definition-type",
        "§10",
        "marking-definition-type",
        "A value outside the marking-definition-type open vocabulary.",
    ),
];

/// The reference validator's check groups and numeric codes.
const GROUPS: &[(&str, &str, &[&str])] = &[
    (
        "1",
        "format-checks",
        &[
            "custom-prefix",
            "custom-prefix-lax",
            "uuid-check",
            "open-vocab-format",
            "kill-chain-names",
            "observable-object-keys",
            "observable-dictionary-keys",
            "malware-analysis-product",
            "windows-process-priority-format",
            "hash-length",
        ],
    ),
    (
        "2",
        "approved-values",
        &[
            "marking-definition-type",
            "relationship-types",
            "duplicate-ids",
            "all-vocabs",
            "all-external-sources",
        ],
    ),
    (
        "210",
        "all-vocabs",
        &[
            "attack-motivation",
            "attack-resource-level",
            "identity-class",
            "indicator-types",
            "industry-sector",
            "malware-types",
            "report-types",
            "threat-actor-types",
            "threat-actor-role",
            "threat-actor-sophistication",
            "tool-types",
            "region",
            "grouping-context",
            "implementation-languages",
            "infrastructure-types",
            "malware-capabilities",
            "processor-architecture",
            "malware-result",
            "hash-algo",
            "windows-pebinary-type",
            "account-type",
            "indicator-pattern-types",
        ],
    ),
    (
        "270",
        "all-external-sources",
        &[
            "mime-type",
            "protocols",
            "ipfix",
            "http-request-headers",
            "socket-options",
            "pdf-doc-info",
            "countries",
        ],
    ),
];

/// Numeric codes of the reference validator's single checks.
const CODES: &[(&str, &str)] = &[
    ("101", "custom-prefix"),
    ("102", "custom-prefix-lax"),
    ("103", "uuid-check"),
    ("111", "open-vocab-format"),
    ("121", "kill-chain-names"),
    ("141", "observable-object-keys"),
    ("142", "observable-dictionary-keys"),
    ("143", "malware-analysis-product"),
    ("149", "windows-process-priority-format"),
    ("150", "hash-length"),
    ("201", "marking-definition-type"),
    ("202", "relationship-types"),
    ("203", "duplicate-ids"),
    ("211", "attack-motivation"),
    ("212", "attack-resource-level"),
    ("213", "identity-class"),
    ("214", "indicator-types"),
    ("215", "industry-sector"),
    ("216", "malware-types"),
    ("218", "report-types"),
    ("219", "threat-actor-types"),
    ("220", "threat-actor-role"),
    ("221", "threat-actor-sophistication"),
    ("222", "tool-types"),
    ("223", "region"),
    ("225", "grouping-context"),
    ("226", "implementation-languages"),
    ("227", "infrastructure-types"),
    ("228", "malware-capabilities"),
    ("230", "processor-architecture"),
    ("231", "malware-result"),
    ("241", "hash-algo"),
    ("243", "windows-pebinary-type"),
    ("244", "account-type"),
    ("245", "indicator-pattern-types"),
    ("271", "mime-type"),
    ("272", "protocols"),
    ("273", "ipfix"),
    ("274", "http-request-headers"),
    ("275", "socket-options"),
    ("276", "pdf-doc-info"),
    ("277", "countries"),
    ("301", "network-traffic-ports"),
    ("302", "extref-hashes"),
    ("303", "indicator-properties"),
    ("304", "deprecated-properties"),
    ("305", "extension-description"),
    ("306", "extension-properties"),
    ("401", "extensions-use"),
];

/// Looks a rule up by id.
pub fn rule(id: &str) -> Option<&'static Rule> {
    RULES.iter().find(|rule| rule.id == id)
}

/// Expands rule ids, reference check names, groups, codes and `all` into
/// the warning rule ids they switch. Unknown names expand to nothing.
pub(crate) fn expand(names: &BTreeSet<String>) -> BTreeSet<&'static str> {
    let mut out = BTreeSet::new();
    for name in names {
        expand_one(name, &mut out, 0);
    }
    out
}

fn expand_one(name: &str, out: &mut BTreeSet<&'static str>, depth: usize) {
    if depth > 4 {
        return;
    }
    if name == "all" {
        out.extend(
            RULES
                .iter()
                .filter(|r| r.severity == Severity::Warning)
                .map(|r| r.id),
        );
        return;
    }
    if let Some((_, check)) = CODES.iter().find(|(code, _)| *code == name) {
        expand_one(check, out, depth + 1);
        return;
    }
    if let Some((_, _, members)) = GROUPS
        .iter()
        .find(|(code, group, _)| *code == name || *group == name)
    {
        for member in *members {
            expand_one(member, out, depth + 1);
        }
        return;
    }
    for rule in RULES {
        if rule.severity == Severity::Warning && (rule.id == name || rule.reference_check == name) {
            out.insert(rule.id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_kebab_case() {
        let mut seen = BTreeSet::new();
        for rule in RULES {
            assert!(seen.insert(rule.id), "duplicate rule {}", rule.id);
            assert!(
                rule.id.bytes().all(|b| b.is_ascii_lowercase()
                    || b.is_ascii_digit()
                    || b == b'-'
                    || b == b'.'),
                "{}",
                rule.id
            );
        }
    }

    /// Every rule id the validator's sources emit is in the catalogue.
    #[test]
    fn catalogue_covers_every_emitted_rule() {
        let sources = [
            include_str!("custom.rs"),
            include_str!("extension.rs"),
            include_str!("marking.rs"),
            include_str!("objects.rs"),
            include_str!("pattern.rs"),
            include_str!("props.rs"),
            include_str!("sco.rs"),
            include_str!("vocab.rs"),
        ];
        let mut found = 0;
        for source in sources {
            for call in [
                "ctx.error(",
                "ctx.warn(",
                "Finding::warning(",
                "Finding::error(",
            ] {
                for (at, _) in source.match_indices(call) {
                    let rest = source
                        .get(at + call.len()..)
                        .unwrap_or_default()
                        .trim_start();
                    let Some(literal) = rest.strip_prefix('"') else {
                        continue;
                    };
                    let Some(end) = literal.find('"') else {
                        continue;
                    };
                    let id = literal.get(..end).unwrap_or_default();
                    assert!(
                        rule(id).is_some(),
                        "rule '{id}' is emitted but not in the catalogue"
                    );
                    found += 1;
                }
            }
        }
        assert!(found > 50, "only {found} emitted rules found");
        for vocabulary in crate::validate::vocab::ALL_OPEN {
            assert!(rule(vocabulary.rule).is_some(), "{}", vocabulary.rule);
        }
    }

    #[test]
    fn reference_names_expand() {
        let names = |list: &[&str]| {
            list.iter()
                .map(|s| (*s).to_owned())
                .collect::<BTreeSet<_>>()
        };
        let expanded = expand(&names(&["custom-prefix"]));
        assert_eq!(expanded, ["custom-name-source"].into_iter().collect());
        assert!(expand(&names(&["all-vocabs"])).contains("vocab-region"));
        assert!(expand(&names(&["101"])).contains("custom-name-source"));
        assert_eq!(expand(&names(&["extensions-use"])).len(), 4);
        assert!(expand(&names(&["all"])).contains("pattern-warning"));
    }
}
