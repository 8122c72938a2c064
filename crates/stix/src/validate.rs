//! The STIX 2.1 validator: every MUST of the specification an error, every
//! SHOULD (and the best practices of the OASIS reference validator) a
//! warning, each finding with a stable rule id and a JSON path.
//!
//! Layout: [`types`] is the property table per type, [`props`] checks one
//! value against its kind, [`objects`] holds the per-type rules, [`sco`] the
//! cyber-observable rules and deterministic ids, [`custom`] the naming rules
//! for custom content, [`extension`] the `extensions` dictionary and
//! extension-definitions, [`marking`] marking-definitions and granular
//! markings, [`pattern`] the hook for the pattern parser. The catalogue of
//! rule ids is [`rules::RULES`].

mod custom;
mod extension;
mod ident;
mod marking;
mod objects;
mod path;
mod pattern;
mod props;
pub mod rules;
mod sco;
mod tables;
mod timestamp;
mod types;
mod vocab;

use std::collections::BTreeSet;

use serde_json::Value;

use crate::{Finding, Severity};

pub(crate) use path::Path;

/// What to check and how strictly. `Options::default()` means the
/// specification's rules with SHOULDs reported as warnings.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Rule ids, or check names of the OASIS reference validator (e.g.
    /// `custom-prefix`, `all-vocabs`), whose warnings are switched off.
    /// Errors (MUSTs) cannot be switched off.
    pub disabled: BTreeSet<String>,
    /// When not empty, only warnings of these rule ids or reference check
    /// names are reported (the reference validator's `--enable` without
    /// `--disable`).
    pub enabled: BTreeSet<String>,
    /// Report every warning as an error.
    pub strict: bool,
    /// Custom object types are errors instead of being accepted.
    pub strict_types: bool,
    /// Custom properties are errors instead of being accepted.
    pub strict_properties: bool,
}

/// Validates single STIX objects (or a bundle and everything in it).
/// Cheap to share between threads.
#[derive(Debug, Clone, Default)]
pub struct Validator {
    options: Options,
    /// `options.disabled` expanded to rule ids.
    disabled_rules: BTreeSet<&'static str>,
    /// `options.enabled` expanded to rule ids (empty: all enabled).
    enabled_rules: BTreeSet<&'static str>,
}

impl Validator {
    pub fn new(options: Options) -> Self {
        let disabled_rules = rules::expand(&options.disabled);
        let enabled_rules = if options.disabled.is_empty() {
            rules::expand(&options.enabled)
        } else {
            // The reference validator lets `--disable` win and adds the
            // enabled checks back on top; expressed as "not disabled".
            BTreeSet::new()
        };
        let disabled_rules = if options.disabled.is_empty() {
            disabled_rules
        } else {
            let enabled = rules::expand(&options.enabled);
            disabled_rules.difference(&enabled).copied().collect()
        };
        Validator {
            options,
            disabled_rules,
            enabled_rules,
        }
    }

    pub fn options(&self) -> &Options {
        &self.options
    }

    /// Every finding for one object, errors and warnings, in a stable order
    /// (the order the checks run in, which follows the object's keys). An
    /// object is valid when no finding has `Severity::Error`. A bundle is
    /// checked with every object in it, paths `$.objects[i]...`.
    pub fn validate(&self, object: &Value) -> Vec<Finding> {
        let mut ctx = Ctx {
            findings: Vec::new(),
            validator: self,
        };
        objects::check_top(&mut ctx, object, &Path::ROOT);
        ctx.findings
    }

    /// True when `findings` (as returned by [`Validator::validate`]) hold no
    /// error.
    pub fn is_valid(findings: &[Finding]) -> bool {
        findings.iter().all(|f| f.severity != Severity::Error)
    }

    fn keeps_warning(&self, rule: &'static str) -> bool {
        if self.disabled_rules.contains(rule) {
            return false;
        }
        self.enabled_rules.is_empty() || self.enabled_rules.contains(rule)
    }
}

/// Where findings collect while one object is checked.
pub(crate) struct Ctx<'v> {
    findings: Vec<Finding>,
    validator: &'v Validator,
}

impl Ctx<'_> {
    pub(crate) fn options(&self) -> &Options {
        &self.validator.options
    }

    pub(crate) fn error(&mut self, rule: &'static str, path: &Path<'_>, message: String) {
        self.findings
            .push(Finding::error(rule, path.render(), message));
    }

    pub(crate) fn warn(&mut self, rule: &'static str, path: &Path<'_>, message: String) {
        if !self.validator.keeps_warning(rule) {
            return;
        }
        let mut finding = Finding::warning(rule, path.render(), message);
        if self.validator.options.strict {
            finding.severity = Severity::Error;
        }
        self.findings.push(finding);
    }

    /// A finding made elsewhere (the pattern hook), with the options applied.
    pub(crate) fn emit(&mut self, mut finding: Finding) {
        if finding.severity == Severity::Warning {
            if !self.validator.keeps_warning(finding.rule) {
                return;
            }
            if self.validator.options.strict {
                finding.severity = Severity::Error;
            }
        }
        self.findings.push(finding);
    }

    /// Whether a warning rule would be reported; lets costly checks skip work.
    pub(crate) fn wants(&self, rule: &'static str) -> bool {
        self.validator.keeps_warning(rule)
    }
}

#[cfg(test)]
pub(crate) mod test_support {
    use super::*;

    /// Validates `input` with default options and asserts the sorted, deduplicated
    /// rule ids of the findings equal `expected`.
    pub(crate) fn check(input: &str, expected: &[&str]) {
        check_with(Options::default(), input, expected);
    }

    pub(crate) fn is_identifier(text: &str) -> bool {
        ident::parse_id(text).is_some()
    }

    pub(crate) fn check_with(options: Options, input: &str, expected: &[&str]) {
        let value: Value = match serde_json::from_str(input) {
            Ok(value) => value,
            Err(error) => panic!("test input is not JSON: {error}"),
        };
        let findings = Validator::new(options).validate(&value);
        let got: BTreeSet<&str> = findings.iter().map(|f| f.rule).collect();
        let want: BTreeSet<&str> = expected.iter().copied().collect();
        assert_eq!(got, want, "findings: {findings:#?}");
    }
}
