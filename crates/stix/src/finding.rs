//! Findings: what the validator (or the reader) says about one object.
//!
//! Findings are values, not errors: they feed TAXII status failures, CLI
//! output and the release pipeline.

use serde::Serialize;
use std::fmt;

/// How bad a finding is. `Error` is a MUST of the specification broken;
/// `Warning` is a SHOULD (or a best practice) not followed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Warning,
    Error,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Warning => "warning",
            Severity::Error => "error",
        })
    }
}

/// One thing wrong with one object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub severity: Severity,
    /// Stable rule id, e.g. `required-property`. Never changes once shipped:
    /// operators filter and script on it.
    pub rule: &'static str,
    /// JSON path inside the object, e.g. `$.granular_markings[0].selectors[1]`.
    pub path: String,
    /// What is wrong, in words an analyst understands.
    pub message: String,
}

impl Finding {
    pub fn error(rule: &'static str, path: impl Into<String>, message: impl Into<String>) -> Self {
        Finding {
            severity: Severity::Error,
            rule,
            path: path.into(),
            message: message.into(),
        }
    }

    pub fn warning(
        rule: &'static str,
        path: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Finding {
            severity: Severity::Warning,
            rule,
            path: path.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} [{}] {}: {}",
            self.severity, self.rule, self.path, self.message
        )
    }
}

/// Appends one object key to a JSON path in the form findings use: keys of
/// letters, digits, `_` and `-` follow a dot (`$.a.b`), any other key is
/// quoted (`$['a b']`) with `'` and `\\` escaped. The reader and the
/// validator both write paths through this, so they read the same.
pub(crate) fn push_path_key(out: &mut String, key: &str) {
    let plain = !key.is_empty()
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if plain {
        out.push('.');
        out.push_str(key);
        return;
    }
    out.push_str("['");
    for c in key.chars() {
        if c == '\'' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push_str("']");
}
