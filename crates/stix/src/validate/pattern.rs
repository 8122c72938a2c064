//! The hook for the `pattern` property of indicators with `pattern_type`
//! `stix`: the patterning-language parser and checks of the `stix-pattern`
//! crate, their findings translated into the validator's.

use stix_pattern::{PatternLimits, Severity, StixVersion};

use crate::{Finding, Limits};

/// Checks one STIX pattern; `path` is the JSON path of the `pattern`
/// property, `spec_version` the indicator's `pattern_version` ("2.1" when
/// absent).
pub(crate) fn check_pattern(
    pattern: &str,
    spec_version: &str,
    path: &str,
    findings: &mut Vec<Finding>,
) {
    // A pattern_version other than 2.0 is read with the 2.1 grammar, the
    // newest this validator knows; 2.0 differs only by lacking EXISTS.
    let version = if spec_version == "2.0" {
        StixVersion::V20
    } else {
        StixVersion::V21
    };
    let defaults = Limits::default();
    let limits = PatternLimits {
        max_bytes: defaults.max_pattern_bytes,
        max_depth: defaults.max_pattern_depth,
    };
    for found in stix_pattern::validate(pattern, version, &limits) {
        let rule = match (found.severity, found.rule) {
            (Severity::Error, "syntax") => "pattern-syntax",
            (Severity::Error, _) => "pattern-invalid",
            (Severity::Warning, _) => "pattern-warning",
        };
        let at = found
            .offset
            .map(|offset| format!(" (at byte {offset})"))
            .unwrap_or_default();
        let message = format!("[{}] {}{at}", found.rule, found.message);
        findings.push(match found.severity {
            Severity::Error => Finding::error(rule, path, message),
            Severity::Warning => Finding::warning(rule, path, message),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(pattern: &str) -> Vec<&'static str> {
        let mut findings = Vec::new();
        check_pattern(pattern, "2.1", "$.pattern", &mut findings);
        findings.into_iter().map(|f| f.rule).collect()
    }

    #[test]
    fn valid_pattern_has_no_errors() {
        assert!(rules("[ipv4-addr:value = '198.51.100.1']").is_empty());
    }

    #[test]
    fn syntax_error_is_an_error_with_position() {
        let mut findings = Vec::new();
        check_pattern("[ipv4-addr:value = ", "2.1", "$.pattern", &mut findings);
        assert_eq!(findings.len(), 1);
        assert_eq!(findings[0].rule, "pattern-syntax");
        assert!(
            findings[0].message.contains("byte"),
            "{}",
            findings[0].message
        );
    }

    #[test]
    fn exists_is_not_stix_2_0() {
        let mut findings = Vec::new();
        check_pattern("[EXISTS file:name]", "2.0", "$.pattern", &mut findings);
        assert!(findings.iter().any(|f| f.rule == "pattern-syntax"));
        assert!(rules("[EXISTS file:name]").is_empty());
    }
}
