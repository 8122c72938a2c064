//! The syntax tree of a pattern.
//!
//! Chains of one binary operator are n-ary nodes (`And(vec![a, b, c])`), so
//! a pattern with thousands of `OR`s is a wide tree, not a deep one: only
//! parentheses and brackets add depth, and the parser bounds that.
//! Numeric, binary and timestamp literals keep the text they were written
//! with, so printing gives back what was parsed and checks that look at the
//! written form (hash values) see it.

use crate::StixVersion;

/// A parsed pattern.
#[derive(Debug, Clone, PartialEq)]
pub struct Pattern {
    pub version: StixVersion,
    pub root: ObservationExpr,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ObservationExpr {
    /// `[ comparison ]`
    Bracket(ComparisonExpr),
    /// `( observation )`: kept because qualifiers on a group and on a
    /// bracket are checked differently.
    Group(Box<ObservationExpr>),
    And(Vec<ObservationExpr>),
    Or(Vec<ObservationExpr>),
    FollowedBy(Vec<ObservationExpr>),
    /// An expression with one or more qualifiers, in the order written.
    Qualified {
        expr: Box<ObservationExpr>,
        qualifiers: Vec<Qualifier>,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub enum Qualifier {
    /// `WITHIN n SECONDS`; `n` as written (integer or float, maybe `+`).
    Within(NumberText),
    /// `REPEATS n TIMES`.
    Repeats(NumberText),
    /// `START t'..' STOP t'..'`.
    StartStop {
        start: TimestampText,
        stop: TimestampText,
    },
}

impl Qualifier {
    pub fn kind_name(&self) -> &'static str {
        match self {
            Qualifier::Within(_) => "WITHIN",
            Qualifier::Repeats(_) => "REPEATS",
            Qualifier::StartStop { .. } => "START/STOP",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum ComparisonExpr {
    Test(Comparison),
    /// `( comparison )`
    Group(Box<ComparisonExpr>),
    And(Vec<ComparisonExpr>),
    Or(Vec<ComparisonExpr>),
}

/// One property test: `path [NOT] op operand`, or `[NOT] EXISTS path`.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    pub path: ObjectPath,
    pub negated: bool,
    pub operator: Operator,
    pub operand: Operand,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operator {
    Eq,
    Neq,
    Lt,
    Le,
    Gt,
    Ge,
    In,
    Like,
    Matches,
    IsSubset,
    IsSuperset,
    Exists,
}

impl Operator {
    pub fn as_str(self) -> &'static str {
        match self {
            Operator::Eq => "=",
            Operator::Neq => "!=",
            Operator::Lt => "<",
            Operator::Le => "<=",
            Operator::Gt => ">",
            Operator::Ge => ">=",
            Operator::In => "IN",
            Operator::Like => "LIKE",
            Operator::Matches => "MATCHES",
            Operator::IsSubset => "ISSUBSET",
            Operator::IsSuperset => "ISSUPERSET",
            Operator::Exists => "EXISTS",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    Literal(Literal),
    /// `IN ( ... )`; may be empty.
    Set(Vec<Literal>),
    /// `EXISTS` takes no operand.
    None,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    Int(NumberText),
    Float(NumberText),
    /// The string's value (escapes resolved).
    Str(String),
    Bool(bool),
    /// `b'...'`: the base64 text between the quotes.
    Binary(String),
    /// `h'...'`: the hex digits between the quotes.
    Hex(String),
    Timestamp(TimestampText),
}

/// A number as written (`+5`, `-0.5`, `12`), parsed on demand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NumberText(pub String);

impl NumberText {
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// The value as an integer, if it is one that fits.
    pub fn as_i128(&self) -> Option<i128> {
        self.0.parse().ok()
    }
    pub fn as_f64(&self) -> f64 {
        self.0.parse().unwrap_or(f64::NAN)
    }
}

/// The text between the quotes of `t'...'`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimestampText(pub String);

impl TimestampText {
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// Microseconds since the Unix epoch, or `None` for dates the grammar
    /// lets through but the calendar does not (`2024-02-30`, second `60`).
    pub fn micros(&self) -> Option<i64> {
        crate::timestamp::parse_micros(&self.0)
    }
}

/// `type:step.step[0].step`
#[derive(Debug, Clone, PartialEq)]
pub struct ObjectPath {
    pub object_type: String,
    /// Never empty: the first step is always a key.
    pub steps: Vec<PathStep>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum PathStep {
    /// A property name; `quoted` when written as a string literal.
    Key { name: String, quoted: bool },
    /// `[n]`, as written (may carry a sign).
    Index(NumberText),
    /// `[*]`
    AnyIndex,
}

impl PathStep {
    pub fn key_name(&self) -> Option<&str> {
        match self {
            PathStep::Key { name, .. } => Some(name),
            _ => None,
        }
    }
}

impl ObjectPath {
    /// The first property name (`name` in `file:name`).
    pub fn first_property(&self) -> &str {
        self.steps
            .first()
            .and_then(PathStep::key_name)
            .unwrap_or("")
    }
}

impl Pattern {
    /// Calls `f` on every comparison, left to right.
    pub fn for_each_comparison<'a>(&'a self, mut f: impl FnMut(&'a Comparison)) {
        let mut obs_stack = vec![&self.root];
        let mut comp_stack: Vec<&ComparisonExpr> = Vec::new();
        while let Some(node) = obs_stack.pop() {
            match node {
                ObservationExpr::Bracket(c) => {
                    comp_stack.push(c);
                    while let Some(c) = comp_stack.pop() {
                        match c {
                            ComparisonExpr::Test(t) => f(t),
                            ComparisonExpr::Group(inner) => comp_stack.push(inner),
                            ComparisonExpr::And(v) | ComparisonExpr::Or(v) => {
                                comp_stack.extend(v.iter().rev())
                            }
                        }
                    }
                }
                ObservationExpr::Group(inner) => obs_stack.push(inner),
                ObservationExpr::Qualified { expr, .. } => obs_stack.push(expr),
                ObservationExpr::And(v)
                | ObservationExpr::Or(v)
                | ObservationExpr::FollowedBy(v) => obs_stack.extend(v.iter().rev()),
            }
        }
    }
}
