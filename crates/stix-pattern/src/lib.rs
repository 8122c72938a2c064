//! STIX patterning language (STIX 2.1 part 9, and the 2.0 dialect): lexer,
//! parser, syntax tree, printer, semantic checks and matcher.
//!
//! The crate does no I/O and keeps no global state. Every input is treated
//! as hostile: its length and nesting are bounded by [`PatternLimits`],
//! operator chains are parsed without recursion, and matching runs under a
//! work budget, so no pattern or observation can panic or hang it.
//!
//! ```
//! use stix_pattern::{PatternLimits, StixVersion};
//! let pattern = stix_pattern::parse(
//!     "[file:name = 'a.exe'] WITHIN 5 SECONDS",
//!     StixVersion::V21,
//!     &PatternLimits::default(),
//! )
//! .unwrap();
//! assert_eq!(pattern.to_string(), "[file:name = 'a.exe'] WITHIN 5 SECONDS");
//! ```

#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

pub mod ast;
mod check;
mod inspect;
mod lexer;
pub mod matcher;
mod net;
mod parser;
mod printer;
mod timestamp;

use std::fmt;
use std::str::FromStr;

pub use ast::Pattern;
pub use check::{Finding, Severity};
pub use inspect::Inspection;
pub use matcher::{MatchError, MatchOptions, MatchOutcome, match_observations};

/// Which dialect of the language to accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum StixVersion {
    /// STIX 2.0: no `EXISTS`.
    V20,
    #[default]
    V21,
}

impl StixVersion {
    pub fn as_str(self) -> &'static str {
        match self {
            StixVersion::V20 => "2.0",
            StixVersion::V21 => "2.1",
        }
    }
}

impl fmt::Display for StixVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for StixVersion {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "2.0" => Ok(StixVersion::V20),
            "2.1" => Ok(StixVersion::V21),
            other => Err(format!(
                "unknown STIX version '{other}' (expected 2.0 or 2.1)"
            )),
        }
    }
}

/// Bounds on untrusted pattern text. The workspace's `stix::Limits` carries
/// the configured numbers (`max_pattern_bytes`, `max_pattern_depth`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PatternLimits {
    /// Longest pattern accepted, in bytes.
    pub max_bytes: usize,
    /// Deepest nesting of brackets and parentheses (capped at 128 whatever
    /// is asked, to keep stack use bounded).
    pub max_depth: usize,
}

impl Default for PatternLimits {
    fn default() -> Self {
        PatternLimits {
            max_bytes: 1024 * 1024,
            max_depth: 256,
        }
    }
}

/// A pattern that does not parse: where, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}, column {column}: {kind}")]
pub struct PatternError {
    /// Byte offset into the pattern text.
    pub offset: usize,
    /// 1-based line and column (in characters) of `offset`.
    pub line: usize,
    pub column: usize,
    pub kind: PatternErrorKind,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatternErrorKind {
    #[error("expected {expected}, found {found}")]
    Syntax { expected: String, found: String },
    #[error("pattern is longer than {max_bytes} bytes")]
    TooLong { max_bytes: usize },
    #[error("brackets and parentheses nest deeper than {max_depth}")]
    TooDeep { max_depth: usize },
    #[error("a pattern must start with '[' (after any opening parentheses)")]
    MissingBracket,
}

impl PatternError {
    pub(crate) fn new(text: &str, offset: usize, kind: PatternErrorKind) -> Self {
        let before = text.get(..offset).unwrap_or(text);
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = before.get(line_start..).map_or(0, |l| l.chars().count()) + 1;
        PatternError {
            offset,
            line,
            column,
            kind,
        }
    }
}

/// Parses pattern text.
pub fn parse(
    text: &str,
    version: StixVersion,
    limits: &PatternLimits,
) -> Result<Pattern, PatternError> {
    parser::parse(text, version, limits)
}

/// Parses and checks a pattern in one call: a syntax error comes back as an
/// error finding (rule `syntax`), so the pattern is valid exactly when no
/// finding has [`Severity::Error`]. This is what `indicator.pattern`
/// validation calls.
pub fn validate(text: &str, version: StixVersion, limits: &PatternLimits) -> Vec<Finding> {
    match parse(text, version, limits) {
        Ok(pattern) => pattern.check(),
        Err(e) => vec![Finding {
            severity: Severity::Error,
            rule: "syntax",
            offset: Some(e.offset),
            message: e.to_string(),
        }],
    }
}

/// True when `findings` (from [`validate`] or [`Pattern::check`]) hold no error.
pub fn is_valid(findings: &[Finding]) -> bool {
    findings.iter().all(|f| f.severity != Severity::Error)
}
