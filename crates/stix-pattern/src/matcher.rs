//! Evaluates a pattern against observed data.
//!
//! Semantics follow the specification (STIX 2.1 §9.5–9.8) and, where it is
//! silent, the OASIS reference matcher (stix2-matcher), so both give the
//! same answers on the same inputs; the differences that remain are listed
//! in `docs/conformance-patterns.md`.
//!
//! - An *observation* is an observed-data object: `number_observed`
//!   instances spread over `[first_observed, last_observed]`. Its cyber
//!   observables are either embedded (`objects`, STIX 2.0 style) or given
//!   alongside and named by `object_refs` (STIX 2.1).
//! - A bracketed comparison expression selects observations with at least
//!   one observable (the *root*) for which the whole expression holds;
//!   `AND` inside brackets needs one root to satisfy both sides.
//! - Observation operators combine *bindings*: lists of distinct
//!   observation instances, one per bracketed expression. They are produced
//!   lazily in the reference matcher's order, so the first binding found is
//!   the one it reports, and only as many are computed as are asked for.
//!
//! Matching runs under a step budget ([`MatchOptions::max_steps`]), because
//! `REPEATS` over many observations is combinatorial.

use std::borrow::Cow;
use std::cell::Cell;
use std::cmp::Ordering;
use std::collections::{HashMap, HashSet};

use serde_json::Value;
use unicode_normalization::UnicodeNormalization;

use crate::StixVersion;
use crate::ast::*;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatchOptions {
    /// Most bindings to return; matching stops once this many are found.
    pub max_bindings: usize,
    /// Work budget (bindings considered); past it matching fails with
    /// [`MatchError::BudgetExceeded`] instead of running on.
    pub max_steps: u64,
}

impl Default for MatchOptions {
    fn default() -> Self {
        MatchOptions {
            max_bindings: 1,
            max_steps: 20_000_000,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MatchError {
    /// The pattern cannot be evaluated (a qualifier or constant no instant
    /// or count can satisfy, a regular expression that does not compile).
    #[error("pattern cannot be evaluated: {0}")]
    Pattern(String),
    /// An observed-data object lacks what matching needs.
    #[error("observation {index}: {reason}")]
    Observation { index: usize, reason: String },
    /// A value in the observed data cannot be compared as the pattern asks
    /// (a malformed timestamp or IP address, a reference that is not a string).
    #[error("observed data: {0}")]
    Data(String),
    #[error("matching needed more than {0} steps")]
    BudgetExceeded(u64),
}

/// What matched.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MatchOutcome {
    /// Each binding: indexes (into [`MatchOutcome::observation_ids`]) of the
    /// distinct observations it uses, ascending.
    pub bindings: Vec<Vec<usize>>,
    /// The id of every observation considered, in input order (`None` for
    /// observed data without an id).
    pub observation_ids: Vec<Option<String>>,
}

impl MatchOutcome {
    pub fn matched(&self) -> bool {
        !self.bindings.is_empty()
    }

    /// Bindings as observed-data ids (`observed-data[N]` for one without an id).
    pub fn binding_ids(&self) -> Vec<Vec<String>> {
        self.bindings
            .iter()
            .map(|b| {
                b.iter()
                    .map(|&i| match self.observation_ids.get(i) {
                        Some(Some(id)) => id.clone(),
                        _ => format!("observed-data[{i}]"),
                    })
                    .collect()
            })
            .collect()
    }
}

/// Parses nothing and reads nothing: evaluates `pattern` against `objects`,
/// which may mix observed-data, the cyber observables they reference, and
/// bundles holding either.
pub fn match_observations(
    pattern: &Pattern,
    objects: &[Value],
    options: &MatchOptions,
) -> Result<MatchOutcome, MatchError> {
    Matcher::new(pattern)?.run(objects, options)
}

/// A pattern prepared for matching (constants decoded, regular expressions
/// compiled), reusable across observation sets.
#[derive(Debug)]
pub struct Matcher {
    version: StixVersion,
    plan: Plan,
}

#[derive(Debug)]
enum Plan {
    Bracket(CExpr),
    And(Box<Plan>, Box<Plan>),
    Or(Box<Plan>, Box<Plan>),
    FollowedBy(Box<Plan>, Box<Plan>),
    Within(Box<Plan>, i64),
    /// The window is set when a `WITHIN` applies directly to the
    /// repetition: combinations that already span too long are pruned.
    Repeats(Box<Plan>, usize, Option<i64>),
    StartStop(Box<Plan>, i64, i64),
}

#[derive(Debug)]
enum CExpr {
    Test(Box<CTest>),
    And(Vec<CExpr>),
    Or(Vec<CExpr>),
}

#[derive(Debug)]
struct CTest {
    object_type: String,
    steps: Vec<CStep>,
    negated: bool,
    op: COp,
}

#[derive(Debug)]
enum CStep {
    Key(String),
    Index(i128),
    AnyIndex,
}

#[derive(Debug, Clone, PartialEq)]
enum Lit {
    Int(i128),
    Float(f64),
    Str(String),
    Bytes(Vec<u8>),
    Bool(bool),
    Time(i64),
}

#[derive(Debug)]
enum COp {
    Eq(Lit),
    Neq(Lit),
    Order(Operator, Lit),
    In(Vec<Lit>),
    Like {
        regex: Vec<LikeToken>,
        byte_convertible: bool,
    },
    Matches {
        source: String,
        text: regex::Regex,
        /// Compiled on first use: few values are binary.
        bytes: std::sync::OnceLock<Option<regex::bytes::Regex>>,
    },
    IsSubset(String),
    IsSuperset(String),
    Exists,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LikeToken {
    AnyRun,
    AnyOne,
    Char(char),
}

/// Chains longer than this are combined as a balanced tree instead of the
/// reference's left-deep one, so evaluation depth stays logarithmic.
const LEFT_FOLD_MAX: usize = 64;

impl Matcher {
    pub fn new(pattern: &Pattern) -> Result<Self, MatchError> {
        Ok(Matcher {
            version: pattern.version,
            plan: plan(&pattern.root)?,
        })
    }

    pub fn run(
        &self,
        objects: &[Value],
        options: &MatchOptions,
    ) -> Result<MatchOutcome, MatchError> {
        let data = Observations::read(objects, self.version)?;
        let ctx = Ctx {
            data: &data,
            version: self.version,
            steps: Cell::new(0),
            max_steps: options.max_steps,
        };
        let mut bindings = Vec::new();
        {
            let mut iter = ctx.bindings(&self.plan)?;
            while bindings.len() < options.max_bindings {
                let Some(b) = iter.next() else { break };
                let mut obs: Vec<usize> = b.iter().map(|inst| inst.0 as usize).collect();
                obs.sort_unstable();
                obs.dedup();
                bindings.push(obs);
            }
        }
        if ctx.steps.get() > ctx.max_steps {
            return Err(MatchError::BudgetExceeded(ctx.max_steps));
        }
        Ok(MatchOutcome {
            bindings,
            observation_ids: data.obs.iter().map(|o| o.id.map(str::to_string)).collect(),
        })
    }
}

fn plan(e: &ObservationExpr) -> Result<Plan, MatchError> {
    Ok(match e {
        ObservationExpr::Bracket(c) => Plan::Bracket(compile_comparison(c)?),
        ObservationExpr::Group(inner) => plan(inner)?,
        ObservationExpr::And(v) => fold(v, Plan::And)?,
        ObservationExpr::Or(v) => fold(v, Plan::Or)?,
        ObservationExpr::FollowedBy(v) => fold(v, Plan::FollowedBy)?,
        ObservationExpr::Qualified { expr, qualifiers } => {
            let mut p = plan(expr)?;
            for q in qualifiers {
                p = match q {
                    Qualifier::Within(n) => {
                        let micros = match n.as_i128() {
                            Some(i) => i.saturating_mul(1_000_000),
                            None => (n.as_f64() * 1e6).round() as i128,
                        };
                        if micros <= 0 {
                            return Err(MatchError::Pattern(format!(
                                "WITHIN {} SECONDS: the window must be positive",
                                n.as_str()
                            )));
                        }
                        let micros = i64::try_from(micros).unwrap_or(i64::MAX);
                        if let Plan::Repeats(inner, n, None) = p {
                            p = Plan::Repeats(inner, n, Some(micros));
                        }
                        Plan::Within(Box::new(p), micros)
                    }
                    Qualifier::Repeats(n) => {
                        let count = n.as_i128().unwrap_or(0);
                        if count < 1 {
                            return Err(MatchError::Pattern(format!(
                                "REPEATS {} TIMES: the count must be at least 1",
                                n.as_str()
                            )));
                        }
                        Plan::Repeats(
                            Box::new(p),
                            usize::try_from(count).unwrap_or(usize::MAX),
                            None,
                        )
                    }
                    Qualifier::StartStop { start, stop } => Plan::StartStop(
                        Box::new(p),
                        timestamp_value(start)?,
                        timestamp_value(stop)?,
                    ),
                };
            }
            p
        }
    })
}

fn fold(
    items: &[ObservationExpr],
    make: fn(Box<Plan>, Box<Plan>) -> Plan,
) -> Result<Plan, MatchError> {
    if items.len() > LEFT_FOLD_MAX {
        let (left, right) = items.split_at(items.len() / 2);
        return Ok(make(
            Box::new(fold(left, make)?),
            Box::new(fold(right, make)?),
        ));
    }
    let mut iter = items.iter();
    let Some(first) = iter.next() else {
        return Err(MatchError::Pattern("empty operator chain".to_string()));
    };
    let mut acc = plan(first)?;
    for next in iter {
        acc = make(Box::new(acc), Box::new(plan(next)?));
    }
    Ok(acc)
}

fn timestamp_value(t: &TimestampText) -> Result<i64, MatchError> {
    t.micros().ok_or_else(|| {
        MatchError::Pattern(format!("t'{}' is not a real date and time", t.as_str()))
    })
}

fn compile_comparison(c: &ComparisonExpr) -> Result<CExpr, MatchError> {
    Ok(match c {
        ComparisonExpr::Test(t) => CExpr::Test(Box::new(compile_test(t)?)),
        ComparisonExpr::Group(inner) => compile_comparison(inner)?,
        ComparisonExpr::And(v) => {
            CExpr::And(v.iter().map(compile_comparison).collect::<Result<_, _>>()?)
        }
        ComparisonExpr::Or(v) => {
            CExpr::Or(v.iter().map(compile_comparison).collect::<Result<_, _>>()?)
        }
    })
}

fn literal_value(l: &Literal) -> Result<Lit, MatchError> {
    Ok(match l {
        Literal::Int(n) => match n.as_i128() {
            Some(i) => Lit::Int(i),
            None => Lit::Float(n.as_f64()),
        },
        Literal::Float(n) => Lit::Float(n.as_f64()),
        Literal::Str(s) => Lit::Str(s.clone()),
        Literal::Bool(b) => Lit::Bool(*b),
        Literal::Binary(s) => {
            Lit::Bytes(decode_base64(s).map_err(|e| MatchError::Pattern(format!("b'{s}': {e}")))?)
        }
        Literal::Hex(s) => {
            Lit::Bytes(decode_hex(s).map_err(|e| MatchError::Pattern(format!("h'{s}': {e}")))?)
        }
        Literal::Timestamp(t) => Lit::Time(timestamp_value(t)?),
    })
}

fn compile_test(c: &Comparison) -> Result<CTest, MatchError> {
    let steps = c
        .path
        .steps
        .iter()
        .map(|s| match s {
            PathStep::Key { name, .. } => CStep::Key(name.clone()),
            // An index too large for i128 can never be within a list.
            PathStep::Index(n) => CStep::Index(n.as_i128().unwrap_or(i128::MAX)),
            PathStep::AnyIndex => CStep::AnyIndex,
        })
        .collect();
    let single = || match &c.operand {
        Operand::Literal(l) => literal_value(l),
        _ => Err(MatchError::Pattern(format!("{}: missing constant", c.path))),
    };
    let string = || match &c.operand {
        Operand::Literal(Literal::Str(s)) => Ok(s.clone()),
        _ => Err(MatchError::Pattern(format!(
            "{}: expected a string constant",
            c.path
        ))),
    };
    let op = match c.operator {
        Operator::Eq => COp::Eq(single()?),
        Operator::Neq => COp::Neq(single()?),
        Operator::Lt | Operator::Le | Operator::Gt | Operator::Ge => {
            COp::Order(c.operator, single()?)
        }
        Operator::In => {
            let Operand::Set(items) = &c.operand else {
                return Err(MatchError::Pattern(format!("{}: IN needs a set", c.path)));
            };
            if !crate::check::homogeneous(items) {
                return Err(MatchError::Pattern(format!(
                    "{}: the set mixes constant types",
                    c.path
                )));
            }
            COp::In(items.iter().map(literal_value).collect::<Result<_, _>>()?)
        }
        Operator::Like => {
            let operand: String = string()?.nfc().collect();
            COp::Like {
                byte_convertible: operand.chars().all(|ch| u32::from(ch) < 256),
                regex: operand
                    .chars()
                    .map(|ch| match ch {
                        '%' => LikeToken::AnyRun,
                        '_' => LikeToken::AnyOne,
                        other => LikeToken::Char(other),
                    })
                    .collect(),
            }
        }
        Operator::Matches => {
            let source: String = string()?.nfc().collect();
            let text = compile_text_regex(&source)
                .map_err(|e| MatchError::Pattern(format!("{} MATCHES: {e}", c.path)))?;
            COp::Matches {
                source,
                text,
                bytes: std::sync::OnceLock::new(),
            }
        }
        Operator::IsSubset => COp::IsSubset(string()?),
        Operator::IsSuperset => COp::IsSuperset(string()?),
        Operator::Exists => COp::Exists,
    };
    Ok(CTest {
        object_type: c.path.object_type.clone(),
        steps,
        negated: c.negated,
        op,
    })
}

/// Rewrites the parts of Python's regular-expression dialect that the
/// `regex` crate reads differently: `$` also matches before a final newline,
/// and `\Z` is the absolute end.
fn translate_regex(source: &str) -> String {
    let mut out = String::with_capacity(source.len() + 8);
    let mut chars = source.chars().peekable();
    let mut in_class = false;
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some('Z') if !in_class => out.push_str(r"\z"),
                Some(next) => {
                    out.push('\\');
                    out.push(next);
                }
                None => out.push('\\'),
            },
            '[' if !in_class => {
                in_class = true;
                out.push('[');
                // A leading `]` (after an optional `^`) is a literal.
                if chars.peek() == Some(&'^') {
                    out.push('^');
                    chars.next();
                }
                if chars.peek() == Some(&']') {
                    out.push_str(r"\]");
                    chars.next();
                }
            }
            ']' if in_class => {
                in_class = false;
                out.push(']');
            }
            '$' if !in_class => out.push_str(r"(?:\n?\z)"),
            other => out.push(other),
        }
    }
    out
}

pub(crate) fn compile_text_regex(source: &str) -> Result<regex::Regex, regex::Error> {
    regex::RegexBuilder::new(&translate_regex(source))
        .size_limit(1 << 22)
        .build()
}

/// The byte-string form the reference uses for binary values, when every
/// character of the expression is below 256.
fn compile_bytes_regex(source: &str) -> Option<regex::bytes::Regex> {
    if !source.chars().all(|c| u32::from(c) < 256) {
        return None;
    }
    let mut escaped = String::with_capacity(source.len());
    for c in translate_regex(source).chars() {
        if c.is_ascii() {
            escaped.push(c);
        } else {
            escaped.push_str(&format!("\\x{:02X}", u32::from(c)));
        }
    }
    regex::bytes::RegexBuilder::new(&escaped)
        .unicode(false)
        .size_limit(1 << 22)
        .build()
        .ok()
}

fn decode_hex(s: &str) -> Result<Vec<u8>, String> {
    if !s.len().is_multiple_of(2) {
        return Err("odd-length hex string".to_string());
    }
    s.as_bytes()
        .chunks(2)
        .map(|pair| {
            std::str::from_utf8(pair)
                .ok()
                .and_then(|p| u8::from_str_radix(p, 16).ok())
                .ok_or_else(|| "non-hex digit".to_string())
        })
        .collect()
}

/// Base64 as Python's lenient decoder reads it: characters outside the
/// alphabet are skipped and a complete padding ends the data.
fn decode_base64(s: &str) -> Result<Vec<u8>, String> {
    let value = |c: u8| -> Option<u8> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        })
    };
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let (mut quad, mut left, mut pads) = (0u8, 0u8, 0u8);
    for &c in s.as_bytes() {
        if c == b'=' {
            pads += 1;
            if quad >= 2 && quad + pads >= 4 {
                return Ok(out);
            }
            continue;
        }
        let Some(v) = value(c) else { continue };
        pads = 0;
        match quad {
            0 => {
                left = v;
                quad = 1;
            }
            1 => {
                out.push((left << 2) | (v >> 4));
                left = v & 0x0f;
                quad = 2;
            }
            2 => {
                out.push((left << 4) | (v >> 2));
                left = v & 0x03;
                quad = 3;
            }
            _ => {
                out.push((left << 6) | v);
                quad = 0;
            }
        }
    }
    match quad {
        0 => Ok(out),
        1 => Err("base64 data is one character longer than a multiple of 4".to_string()),
        _ => Err("incorrect base64 padding".to_string()),
    }
}

// ---------------------------------------------------------------------------
// Observed data

#[derive(Debug)]
struct Observation<'a> {
    id: Option<&'a str>,
    first: i64,
    last: i64,
    count: u64,
    /// (root key, object): the key is the embedded-object key or the id.
    objects: Vec<(&'a str, &'a Value)>,
}

#[derive(Debug)]
struct Observations<'a> {
    obs: Vec<Observation<'a>>,
}

impl<'a> Observations<'a> {
    fn read(input: &'a [Value], version: StixVersion) -> Result<Self, MatchError> {
        let mut flat: Vec<&'a Value> = Vec::with_capacity(input.len());
        for v in input {
            match (v.get("type").and_then(Value::as_str), v.get("objects")) {
                (Some("bundle"), Some(Value::Array(items))) => flat.extend(items.iter()),
                _ => flat.push(v),
            }
        }
        let is_observation = |v: &Value| {
            let ty = v.get("type").and_then(Value::as_str);
            ty == Some("observed-data")
                // The 2.0 reference matcher takes any container of embedded
                // objects as an observation, whatever its type.
                || (version == StixVersion::V20 && ty != Some("bundle") && v.get("objects").is_some_and(Value::is_object))
        };
        let mut by_id: HashMap<&'a str, &'a Value> = HashMap::new();
        for v in &flat {
            if !is_observation(v)
                && let Some(id) = v.get("id").and_then(Value::as_str)
            {
                by_id.insert(id, v);
            }
        }
        let mut obs = Vec::new();
        for v in flat.iter().filter(|v| is_observation(v)) {
            let index = obs.len();
            let fail = |reason: String| MatchError::Observation { index, reason };
            let time = |key: &str| -> Result<i64, MatchError> {
                let s = v
                    .get(key)
                    .and_then(Value::as_str)
                    .ok_or_else(|| fail(format!("{key} is missing")))?;
                crate::timestamp::parse_micros(s)
                    .ok_or_else(|| fail(format!("{key} '{s}' is not a timestamp")))
            };
            let first = time("first_observed")?;
            let last = time("last_observed")?;
            let count = v
                .get("number_observed")
                .and_then(Value::as_u64)
                .filter(|&n| n >= 1)
                .ok_or_else(|| {
                    fail("number_observed must be an integer of at least 1".to_string())
                })?;
            let objects = if let Some(refs) = v.get("object_refs").and_then(Value::as_array) {
                refs.iter()
                    .filter_map(Value::as_str)
                    .filter_map(|r| by_id.get_key_value(r).map(|(k, o)| (*k, *o)))
                    .collect()
            } else if let Some(embedded) = v.get("objects").and_then(Value::as_object) {
                embedded.iter().map(|(k, o)| (k.as_str(), o)).collect()
            } else {
                return Err(fail("has neither object_refs nor objects".to_string()));
            };
            obs.push(Observation {
                id: v.get("id").and_then(Value::as_str),
                first,
                last,
                count,
                objects,
            });
        }
        Ok(Observations { obs })
    }
}

// ---------------------------------------------------------------------------
// Comparison expressions

/// A value reached by an object path.
#[derive(Debug, Clone)]
enum Val<'a> {
    Json(&'a Value),
    Bytes(Vec<u8>),
    /// The objects a `_refs` list resolved to.
    Refs(Vec<&'a Value>),
}

enum Scalar<'v> {
    Int(i128),
    Float(f64),
    Str(&'v str),
    Bytes(&'v [u8]),
    Bool(bool),
    Other,
}

impl<'a> Val<'a> {
    fn scalar(&self) -> Scalar<'_> {
        match self {
            Val::Json(Value::Number(n)) => match (n.as_i64(), n.as_u64()) {
                (Some(i), _) => Scalar::Int(i128::from(i)),
                (_, Some(u)) => Scalar::Int(i128::from(u)),
                _ => Scalar::Float(n.as_f64().unwrap_or(f64::NAN)),
            },
            Val::Json(Value::String(s)) => Scalar::Str(s),
            Val::Json(Value::Bool(b)) => Scalar::Bool(*b),
            Val::Bytes(b) => Scalar::Bytes(b),
            _ => Scalar::Other,
        }
    }
}

struct Ctx<'d, 'a> {
    data: &'d Observations<'a>,
    version: StixVersion,
    steps: Cell<u64>,
    max_steps: u64,
}

impl<'d, 'a> Ctx<'d, 'a> {
    /// Counts one unit of work; false once the budget is spent.
    fn tick(&self) -> bool {
        let n = self.steps.get() + 1;
        self.steps.set(n);
        n <= self.max_steps
    }

    fn interval(&self, inst: Inst) -> (i64, i64) {
        self.data
            .obs
            .get(inst.0 as usize)
            .map_or((0, 0), |o| (o.first, o.last))
    }

    /// Observations with a root satisfying `expr`, in input order.
    fn select(&self, expr: &CExpr) -> Result<Vec<u32>, MatchError> {
        let mut selected = Vec::new();
        for (i, obs) in self.data.obs.iter().enumerate() {
            let mut any = false;
            for &(_, root) in &obs.objects {
                // Every root is evaluated, as the reference does, so data
                // errors surface whichever root matches first.
                any |= self.eval(expr, obs, root)?;
            }
            if any {
                selected.push(u32::try_from(i).unwrap_or(u32::MAX));
            }
        }
        Ok(selected)
    }

    fn eval(
        &self,
        expr: &CExpr,
        obs: &Observation<'a>,
        root: &'a Value,
    ) -> Result<bool, MatchError> {
        Ok(match expr {
            CExpr::Test(t) => self.eval_test(t, obs, root)?,
            CExpr::And(v) => {
                let mut all = true;
                for e in v {
                    all &= self.eval(e, obs, root)?;
                }
                all
            }
            CExpr::Or(v) => {
                let mut any = false;
                for e in v {
                    any |= self.eval(e, obs, root)?;
                }
                any
            }
        })
    }

    fn eval_test(
        &self,
        t: &CTest,
        obs: &Observation<'a>,
        root: &'a Value,
    ) -> Result<bool, MatchError> {
        if root.get("type").and_then(Value::as_str) != Some(t.object_type.as_str())
            || (self.version == StixVersion::V21 && crate::check::is_non_sco_type(&t.object_type))
        {
            return Ok(false);
        }
        let values = self.walk(&t.steps, obs, root)?;
        if let COp::Exists = t.op {
            return Ok(values.is_empty() == t.negated);
        }
        for v in &values {
            if t.predicate(v)? {
                return Ok(true);
            }
        }
        Ok(false)
    }

    fn walk(
        &self,
        steps: &[CStep],
        obs: &Observation<'a>,
        root: &'a Value,
    ) -> Result<Vec<Val<'a>>, MatchError> {
        let mut values = vec![Val::Json(root)];
        for step in steps {
            let mut next = Vec::new();
            match step {
                CStep::Key(name) => {
                    for v in &values {
                        if let Val::Json(Value::Object(map)) = v
                            && let Some(child) = map.get(name)
                        {
                            next.push(suffixed(name, child)?);
                        }
                    }
                    if name.ends_with("_ref") {
                        next = self.dereference(name, next, obs)?;
                    } else if name.ends_with("_refs") {
                        next = self.dereference_lists(name, next, obs)?;
                    }
                }
                CStep::Index(i) => {
                    for v in &values {
                        let picked = usize::try_from(*i).ok().and_then(|i| match v {
                            Val::Json(Value::Array(items)) => items.get(i).map(Val::Json),
                            Val::Refs(items) => items.get(i).map(|o| Val::Json(o)),
                            _ => None,
                        });
                        next.extend(picked);
                    }
                }
                CStep::AnyIndex => {
                    for v in &values {
                        match v {
                            Val::Json(Value::Array(items)) => {
                                next.extend(items.iter().map(Val::Json))
                            }
                            Val::Refs(items) => next.extend(items.iter().map(|o| Val::Json(o))),
                            _ => {}
                        }
                    }
                }
            }
            values = next;
            if values.is_empty() {
                break;
            }
        }
        Ok(values)
    }

    fn resolve(&self, obs: &Observation<'a>, id: &str) -> Option<&'a Value> {
        obs.objects.iter().find(|(k, _)| *k == id).map(|(_, o)| *o)
    }

    fn dereference(
        &self,
        name: &str,
        values: Vec<Val<'a>>,
        obs: &Observation<'a>,
    ) -> Result<Vec<Val<'a>>, MatchError> {
        let mut out = Vec::new();
        for v in values {
            let Val::Json(Value::String(id)) = v else {
                return Err(MatchError::Data(format!(
                    "the value of reference property '{name}' is not a string"
                )));
            };
            out.extend(self.resolve(obs, id).map(Val::Json));
        }
        Ok(out)
    }

    fn dereference_lists(
        &self,
        name: &str,
        values: Vec<Val<'a>>,
        obs: &Observation<'a>,
    ) -> Result<Vec<Val<'a>>, MatchError> {
        let mut out = Vec::new();
        for v in values {
            let Val::Json(Value::Array(ids)) = v else {
                return Err(MatchError::Data(format!(
                    "the value of reference list property '{name}' is not a list"
                )));
            };
            let mut resolved = Vec::new();
            for id in ids {
                let Value::String(id) = id else {
                    return Err(MatchError::Data(format!(
                        "a value of reference property '{name}' is not a string"
                    )));
                };
                resolved.extend(self.resolve(obs, id));
            }
            if !resolved.is_empty() {
                out.push(Val::Refs(resolved));
            }
        }
        Ok(out)
    }
}

/// Properties named `*_hex` and `*_bin` hold binary data.
fn suffixed<'a>(name: &str, value: &'a Value) -> Result<Val<'a>, MatchError> {
    let decode = |f: fn(&str) -> Result<Vec<u8>, String>| match value {
        Value::String(s) => f(s)
            .map(Val::Bytes)
            .map_err(|e| MatchError::Data(format!("property '{name}': {e}"))),
        _ => Err(MatchError::Data(format!(
            "property '{name}' is not a string"
        ))),
    };
    if name.ends_with("_hex") {
        decode(decode_hex)
    } else if name.ends_with("_bin") {
        decode(decode_base64)
    } else {
        Ok(Val::Json(value))
    }
}

fn latin1(s: &str) -> Option<Vec<u8>> {
    s.chars().map(|c| u8::try_from(u32::from(c)).ok()).collect()
}

fn nfc(s: &str) -> Cow<'_, str> {
    if s.is_ascii() {
        Cow::Borrowed(s)
    } else {
        Cow::Owned(s.nfc().collect())
    }
}

fn cmp_int_float(i: i128, f: f64) -> Option<Ordering> {
    if f.is_nan() {
        return None;
    }
    if f >= 1.7e38 {
        return Some(Ordering::Less);
    }
    if f <= -1.7e38 {
        return Some(Ordering::Greater);
    }
    let floor = f.floor();
    let by_floor = i.cmp(&(floor as i128));
    Some(if by_floor == Ordering::Equal && f > floor {
        Ordering::Less
    } else {
        by_floor
    })
}

impl Lit {
    fn number(&self) -> Option<Num> {
        match self {
            Lit::Int(i) => Some(Num::Int(*i)),
            Lit::Float(f) => Some(Num::Float(*f)),
            _ => None,
        }
    }
}

#[derive(Clone, Copy)]
enum Num {
    Int(i128),
    Float(f64),
}

fn num_cmp(a: Num, b: Num) -> Option<Ordering> {
    match (a, b) {
        (Num::Int(x), Num::Int(y)) => Some(x.cmp(&y)),
        (Num::Float(x), Num::Float(y)) => x.partial_cmp(&y),
        (Num::Int(x), Num::Float(y)) => cmp_int_float(x, y),
        (Num::Float(x), Num::Int(y)) => cmp_int_float(y, x).map(Ordering::reverse),
    }
}

fn scalar_number(s: &Scalar<'_>) -> Option<Num> {
    match s {
        Scalar::Int(i) => Some(Num::Int(*i)),
        Scalar::Float(f) => Some(Num::Float(*f)),
        _ => None,
    }
}

/// Reads a JSON string as a timestamp when the constant is one.
fn as_time(s: &str) -> Result<i64, MatchError> {
    crate::timestamp::parse_micros(s)
        .ok_or_else(|| MatchError::Data(format!("'{s}' is not a timestamp")))
}

/// Equality with the reference's type rules: numbers compare across int and
/// float, bytes compare with strings of code points below 256, and any
/// other mix of types is unequal.
fn equals(value: &Scalar<'_>, lit: &Lit) -> Result<bool, MatchError> {
    Ok(match (value, lit) {
        (Scalar::Str(s), Lit::Time(t)) => as_time(s)? == *t,
        (Scalar::Str(a), Lit::Str(b)) => *a == b.as_str(),
        (Scalar::Bool(a), Lit::Bool(b)) => a == b,
        (Scalar::Bytes(a), Lit::Bytes(b)) => *a == b.as_slice(),
        (Scalar::Bytes(a), Lit::Str(s)) => latin1(s).is_some_and(|b| *a == b.as_slice()),
        (Scalar::Str(s), Lit::Bytes(b)) => latin1(s).is_some_and(|a| a == *b),
        (v, l) => match (scalar_number(v), l.number()) {
            (Some(a), Some(b)) => num_cmp(a, b) == Some(Ordering::Equal),
            _ => false,
        },
    })
}

/// Ordering with the same rules; `None` when the types cannot be ordered,
/// `Some(None)` when they can in principle but not these values (a string
/// with code points past 255 against bytes).
fn order(value: &Scalar<'_>, lit: &Lit) -> Result<Option<Option<Ordering>>, MatchError> {
    Ok(match (value, lit) {
        (Scalar::Str(s), Lit::Time(t)) => Some(Some(as_time(s)?.cmp(t))),
        (Scalar::Str(a), Lit::Str(b)) => Some(Some((*a).cmp(b.as_str()))),
        (Scalar::Bytes(a), Lit::Bytes(b)) => Some(Some((*a).cmp(b.as_slice()))),
        (Scalar::Bytes(a), Lit::Str(s)) => Some(latin1(s).map(|b| (*a).cmp(b.as_slice()))),
        (Scalar::Str(s), Lit::Bytes(b)) => Some(latin1(s).map(|a| a.as_slice().cmp(b.as_slice()))),
        (v, l) => match (scalar_number(v), l.number()) {
            (Some(a), Some(b)) => Some(num_cmp(a, b)),
            _ => None,
        },
    })
}

/// Set membership with Python's equality: `true`, `1` and `1.0` are equal.
fn member(value: &Scalar<'_>, set: &[Lit]) -> Result<bool, MatchError> {
    let numeric = |s: &Scalar<'_>| match s {
        Scalar::Bool(b) => Some(Num::Int(i128::from(*b))),
        other => scalar_number(other),
    };
    let lit_numeric = |l: &Lit| match l {
        Lit::Bool(b) => Some(Num::Int(i128::from(*b))),
        other => other.number(),
    };
    let time = match (value, set.first()) {
        (Scalar::Str(s), Some(Lit::Time(_))) => Some(as_time(s)?),
        _ => None,
    };
    for l in set {
        let hit = match (value, l) {
            (_, Lit::Time(t)) => time == Some(*t),
            (Scalar::Str(a), Lit::Str(b)) => *a == b.as_str(),
            (Scalar::Bytes(a), Lit::Bytes(b)) => *a == b.as_slice(),
            (v, l) => match (numeric(v), lit_numeric(l)) {
                (Some(a), Some(b)) => num_cmp(a, b) == Some(Ordering::Equal),
                _ => false,
            },
        };
        if hit {
            return Ok(true);
        }
    }
    Ok(false)
}

/// LIKE: `%` is any run, `_` any one character, neither crossing a newline;
/// the whole value must match, a final newline excepted (Python's `$`).
fn like(tokens: &[LikeToken], value: &str) -> bool {
    let chars: Vec<char> = value.chars().collect();
    let full = glob(tokens, &chars);
    full || chars
        .split_last()
        .is_some_and(|(last, init)| *last == '\n' && glob(tokens, init))
}

fn glob(tokens: &[LikeToken], chars: &[char]) -> bool {
    // reachable[j]: the tokens so far can consume exactly chars[..j].
    let mut reachable = vec![false; chars.len() + 1];
    if let Some(r) = reachable.first_mut() {
        *r = true;
    }
    for t in tokens {
        let mut next = vec![false; chars.len() + 1];
        match t {
            LikeToken::AnyRun => {
                let mut open = false;
                for j in 0..=chars.len() {
                    open = (open && chars.get(j.wrapping_sub(1)).is_some_and(|&c| c != '\n'))
                        || reachable.get(j).copied().unwrap_or(false);
                    if let Some(n) = next.get_mut(j) {
                        *n = open;
                    }
                }
            }
            LikeToken::AnyOne | LikeToken::Char(_) => {
                for j in 0..chars.len() {
                    let fits = match (t, chars.get(j)) {
                        (LikeToken::Char(want), Some(c)) => c == want,
                        (_, Some(c)) => *c != '\n',
                        _ => false,
                    };
                    if fits
                        && reachable.get(j).copied().unwrap_or(false)
                        && let Some(n) = next.get_mut(j + 1)
                    {
                        *n = true;
                    }
                }
            }
        }
        reachable = next;
    }
    reachable.last().copied().unwrap_or(false)
}

impl CTest {
    fn predicate(&self, v: &Val<'_>) -> Result<bool, MatchError> {
        let s = v.scalar();
        let result = match &self.op {
            COp::Eq(l) => equals(&s, l)?,
            COp::Neq(l) => !equals(&s, l)?,
            COp::Order(op, l) => match order(&s, l)? {
                // Types that cannot be ordered never satisfy the test, NOT or not.
                None => return Ok(false),
                Some(None) => false,
                Some(Some(ord)) => match op {
                    Operator::Lt => ord == Ordering::Less,
                    Operator::Le => ord != Ordering::Greater,
                    Operator::Gt => ord == Ordering::Greater,
                    _ => ord != Ordering::Less,
                },
            },
            COp::In(set) => member(&s, set)?,
            COp::Like {
                regex,
                byte_convertible,
            } => match s {
                Scalar::Str(text) => like(regex, &nfc(text)),
                Scalar::Bytes(b) if *byte_convertible => match std::str::from_utf8(b) {
                    Ok(text) => like(regex, &nfc(text)),
                    Err(_) => {
                        return Err(MatchError::Data(
                            "binary value is not UTF-8 text for LIKE".to_string(),
                        ));
                    }
                },
                _ => false,
            },
            COp::Matches {
                source,
                text,
                bytes,
            } => match s {
                Scalar::Str(t) => text.is_match(&nfc(t)),
                Scalar::Bytes(b) => bytes
                    .get_or_init(|| compile_bytes_regex(source))
                    .as_ref()
                    .is_some_and(|r| r.is_match(b)),
                _ => false,
            },
            COp::IsSubset(net) => match s {
                Scalar::Str(value) => {
                    let inner = crate::net::parse_ip_or_cidr(value).ok_or_else(|| {
                        MatchError::Data(format!("'{value}' is not an IPv4 address or CIDR block"))
                    })?;
                    let outer = crate::net::parse_cidr(net).ok_or_else(|| {
                        MatchError::Pattern(format!("'{net}' is not a CIDR block"))
                    })?;
                    crate::net::contains(outer, inner)
                }
                _ => false,
            },
            COp::IsSuperset(addr) => match s {
                Scalar::Str(value) => {
                    let inner = crate::net::parse_ip_or_cidr(addr).ok_or_else(|| {
                        MatchError::Pattern(format!(
                            "'{addr}' is not an IPv4 address or CIDR block"
                        ))
                    })?;
                    let outer = crate::net::parse_cidr(value).ok_or_else(|| {
                        MatchError::Data(format!("'{value}' is not a CIDR block"))
                    })?;
                    crate::net::contains(outer, inner)
                }
                _ => false,
            },
            COp::Exists => true,
        };
        Ok(result != self.negated)
    }
}

// ---------------------------------------------------------------------------
// Observation expressions: lazy streams of bindings

/// One instance of one observation: (observation index, instance number).
type Inst = (u32, u64);
type Binding = Vec<Inst>;
type Stream<'c> = Box<dyn Iterator<Item = Binding> + 'c>;

fn disjoint(a: &[Inst], b: &[Inst]) -> bool {
    if a.len() * b.len() > 64 {
        let set: HashSet<&Inst> = a.iter().collect();
        return b.iter().all(|x| !set.contains(x));
    }
    a.iter().all(|x| !b.contains(x))
}

fn concat(a: &[Inst], b: &[Inst]) -> Binding {
    let mut out = Vec::with_capacity(a.len() + b.len());
    out.extend_from_slice(a);
    out.extend_from_slice(b);
    out
}

impl<'d, 'a> Ctx<'d, 'a> {
    fn bindings<'c>(&'c self, p: &'c Plan) -> Result<Stream<'c>, MatchError> {
        Ok(match p {
            Plan::Bracket(expr) => {
                let selected = self.select(expr)?;
                let counts: Vec<u64> = selected
                    .iter()
                    .map(|&o| self.data.obs.get(o as usize).map_or(0, |x| x.count))
                    .collect();
                Box::new(selected.into_iter().zip(counts).flat_map(move |(o, n)| {
                    (0..n).map_while(move |i| self.tick().then(|| vec![(o, i)]))
                }))
            }
            Plan::And(l, r) => {
                Box::new(Join::new(self, self.bindings(l)?, self.bindings(r)?, false))
            }
            Plan::FollowedBy(l, r) => {
                Box::new(Join::new(self, self.bindings(l)?, self.bindings(r)?, true))
            }
            Plan::Or(l, r) => {
                let mut left = self.bindings(l)?;
                let mut right = self.bindings(r)?;
                let mut take_left = true;
                let (mut left_done, mut right_done) = (false, false);
                Box::new(std::iter::from_fn(move || {
                    while !(left_done && right_done) {
                        let side = take_left;
                        take_left = !take_left;
                        if side && !left_done {
                            match left.next() {
                                Some(b) => return Some(b),
                                None => left_done = true,
                            }
                        } else if !side && !right_done {
                            match right.next() {
                                Some(b) => return Some(b),
                                None => right_done = true,
                            }
                        }
                    }
                    None
                }))
            }
            Plan::Within(inner, micros) => {
                let micros = *micros;
                Box::new(self.bindings(inner)?.filter(move |b| {
                    let latest_first = b.iter().map(|&i| self.interval(i).0).max().unwrap_or(0);
                    let earliest_last = b.iter().map(|&i| self.interval(i).1).min().unwrap_or(0);
                    latest_first <= earliest_last.saturating_add(micros)
                }))
            }
            Plan::StartStop(inner, start, stop) => {
                let (start, stop) = (*start, *stop);
                if start >= stop {
                    Box::new(std::iter::empty())
                } else {
                    Box::new(self.bindings(inner)?.filter(move |b| {
                        b.iter().all(|&i| {
                            let (first, last) = self.interval(i);
                            first < stop && start <= last
                        })
                    }))
                }
            }
            Plan::Repeats(inner, n, window) => {
                let inner = self.bindings(inner)?;
                if *n == 1 {
                    inner
                } else {
                    Box::new(Repeats::new(self, inner, *n, *window))
                }
            }
        })
    }
}

/// AND and FOLLOWEDBY: the reference's diagonal join of two streams (each
/// new binding on one side meets every cached binding of the other).
struct Join<'c, 'd, 'a> {
    ctx: &'c Ctx<'d, 'a>,
    left: Stream<'c>,
    right: Stream<'c>,
    left_cache: Vec<Binding>,
    right_cache: Vec<Binding>,
    next_left: Option<Binding>,
    next_right: Option<Binding>,
    /// Which side's new binding is being joined, and how far through the
    /// other side's cache.
    on_right: bool,
    cursor: usize,
    ordered: bool,
    started: bool,
}

impl<'c, 'd, 'a> Join<'c, 'd, 'a> {
    fn new(ctx: &'c Ctx<'d, 'a>, left: Stream<'c>, right: Stream<'c>, ordered: bool) -> Self {
        Join {
            ctx,
            left,
            right,
            left_cache: Vec::new(),
            right_cache: Vec::new(),
            next_left: None,
            next_right: None,
            on_right: true,
            cursor: 0,
            ordered,
            started: false,
        }
    }

    fn fits(&self, l: &[Inst], r: &[Inst]) -> bool {
        if !disjoint(l, r) {
            return false;
        }
        if !self.ordered {
            return true;
        }
        let latest_first = l.iter().map(|&i| self.ctx.interval(i).0).max().unwrap_or(0);
        let earliest_last = r.iter().map(|&i| self.ctx.interval(i).1).min().unwrap_or(0);
        latest_first <= earliest_last
    }
}

impl Iterator for Join<'_, '_, '_> {
    type Item = Binding;

    fn next(&mut self) -> Option<Binding> {
        if !self.started {
            self.started = true;
            self.next_right = self.right.next();
            self.next_left = self.left.next();
            if self.next_right.is_none() || self.next_left.is_none() {
                self.next_right = None;
                self.next_left = None;
            }
        }
        loop {
            if self.next_left.is_none() && self.next_right.is_none() {
                return None;
            }
            if !self.ctx.tick() {
                return None;
            }
            if self.on_right {
                if let Some(r) = &self.next_right {
                    if let Some(l) = self.left_cache.get(self.cursor) {
                        self.cursor += 1;
                        if self.fits(l, r) {
                            return Some(concat(l, r));
                        }
                        continue;
                    }
                    if let Some(r) = self.next_right.take() {
                        self.right_cache.push(r);
                    }
                    self.next_right = self.right.next();
                }
                self.on_right = false;
                self.cursor = 0;
            } else {
                if let Some(l) = &self.next_left {
                    if let Some(r) = self.right_cache.get(self.cursor) {
                        self.cursor += 1;
                        if self.fits(l, r) {
                            return Some(concat(l, r));
                        }
                        continue;
                    }
                    if let Some(l) = self.next_left.take() {
                        self.left_cache.push(l);
                    }
                    self.next_left = self.left.next();
                }
                self.on_right = true;
                self.cursor = 0;
            }
        }
    }
}

/// `REPEATS n TIMES`: every `n` pairwise-disjoint bindings, in the
/// reference's order: for each new binding, the (n-1)-combinations of the
/// earlier ones that it is disjoint from.
struct Repeats<'c, 'd, 'a> {
    ctx: &'c Ctx<'d, 'a>,
    inner: Stream<'c>,
    n: usize,
    window: Option<i64>,
    seen: Vec<Binding>,
    /// (latest first_observed, earliest last_observed) of each seen binding.
    spans: Vec<Span>,
    primed: bool,
    current: Option<(Binding, Combos)>,
}

/// (latest first_observed, earliest last_observed) over a set of instances.
type Span = (i64, i64);

fn merge(a: Span, b: Span) -> Span {
    (a.0.max(b.0), a.1.min(b.1))
}

fn fits_window(span: Span, window: Option<i64>) -> bool {
    window.is_none_or(|w| span.0 <= span.1.saturating_add(w))
}

impl<'c, 'd, 'a> Repeats<'c, 'd, 'a> {
    fn new(ctx: &'c Ctx<'d, 'a>, inner: Stream<'c>, n: usize, window: Option<i64>) -> Self {
        Repeats {
            ctx,
            inner,
            n,
            window,
            seen: Vec::new(),
            spans: Vec::new(),
            primed: false,
            current: None,
        }
    }

    fn span(&self, b: &[Inst]) -> Span {
        b.iter()
            .map(|&i| self.ctx.interval(i))
            .fold((i64::MIN, i64::MAX), merge)
    }

    fn remember(&mut self, b: Binding) {
        self.spans.push(self.span(&b));
        self.seen.push(b);
    }
}

impl Iterator for Repeats<'_, '_, '_> {
    type Item = Binding;

    fn next(&mut self) -> Option<Binding> {
        if !self.primed {
            self.primed = true;
            while self.seen.len() < self.n - 1 {
                let b = self.inner.next()?;
                self.remember(b);
            }
        }
        loop {
            if let Some((newest, combos)) = &mut self.current {
                if let Some(chosen) = combos.next(self.ctx, &self.seen, &self.spans, self.window) {
                    let mut out: Binding = chosen
                        .iter()
                        .filter_map(|&i| self.seen.get(i))
                        .flat_map(|b| b.iter().copied())
                        .collect();
                    out.extend_from_slice(newest);
                    return Some(out);
                }
                if let Some((newest, _)) = self.current.take() {
                    self.remember(newest);
                }
            }
            if !self.ctx.tick() {
                return None;
            }
            let newest = self.inner.next()?;
            let span = self.span(&newest);
            let window = self.window;
            let candidates: Vec<usize> = (0..self.seen.len())
                .filter(|&i| {
                    self.seen.get(i).is_some_and(|b| disjoint(b, &newest))
                        && self
                            .spans
                            .get(i)
                            .is_some_and(|&s| fits_window(merge(span, s), window))
                })
                .collect();
            let combos = Combos::new(&self.seen, candidates, self.n - 1, span);
            self.current = Some((newest, combos));
        }
    }
}

/// Depth-first enumeration, in lexicographic order, of `k` pairwise
/// disjoint bindings among candidates, pruned by an upper bound on how many
/// disjoint bindings the candidates can still supply.
struct Combos {
    k: usize,
    /// Candidate lists per depth, with the position reached in each and
    /// the span of what is chosen above it.
    frames: Vec<(Vec<usize>, usize, Span)>,
    chosen: Vec<usize>,
}

impl Combos {
    fn new(seen: &[Binding], candidates: Vec<usize>, k: usize, span: Span) -> Self {
        let frames = if k >= 2 && bound_largest(seen, &candidates) < k {
            Vec::new()
        } else {
            vec![(candidates, 0, span)]
        };
        Combos {
            k,
            frames,
            chosen: Vec::new(),
        }
    }

    fn next(
        &mut self,
        ctx: &Ctx<'_, '_>,
        seen: &[Binding],
        spans: &[Span],
        window: Option<i64>,
    ) -> Option<Vec<usize>> {
        loop {
            if !ctx.tick() {
                return None;
            }
            let remaining = self.k - self.chosen.len();
            let (cands, pos, span) = self.frames.last_mut()?;
            let span = *span;
            if remaining == 1 {
                if let Some(&c) = cands.get(*pos) {
                    *pos += 1;
                    let mut out = self.chosen.clone();
                    out.push(c);
                    return Some(out);
                }
            } else if *pos + remaining <= cands.len() {
                let i = *pos;
                *pos += 1;
                let Some(&c) = cands.get(i) else { continue };
                let Some(base) = seen.get(c) else { continue };
                let rest: Vec<usize> = cands
                    .get(i + 1..)
                    .unwrap_or_default()
                    .iter()
                    .copied()
                    .filter(|&o| seen.get(o).is_some_and(|b| disjoint(base, b)))
                    .collect();
                // A combination that already spans longer than the window
                // cannot shrink by growing, so neither can any extension.
                let span = merge(span, spans.get(c).copied().unwrap_or((i64::MIN, i64::MAX)));
                let rest: Vec<usize> = if window.is_some() {
                    rest.into_iter()
                        .filter(|&o| {
                            spans
                                .get(o)
                                .is_some_and(|&s| fits_window(merge(span, s), window))
                        })
                        .collect()
                } else {
                    rest
                };
                let need = remaining - 1;
                if need >= 2 && bound_largest(seen, &rest) < need {
                    continue;
                }
                if rest.len() < need {
                    continue;
                }
                self.chosen.push(c);
                self.frames.push((rest, 0, span));
                continue;
            }
            self.frames.pop();
            self.chosen.pop();
        }
    }
}

/// An upper bound on how many pairwise-disjoint bindings can be drawn from
/// `candidates` (the reference's bound: smaller bindings first, each
/// consuming its instances).
fn bound_largest(seen: &[Binding], candidates: &[usize]) -> usize {
    let bindings: Vec<&Binding> = candidates.iter().filter_map(|&i| seen.get(i)).collect();
    let Some(max_size) = bindings.iter().map(|b| b.len()).max() else {
        return 0;
    };
    if max_size == 0 {
        return 0;
    }
    let mut by_size: Vec<HashSet<Inst>> = vec![HashSet::new(); max_size + 1];
    for b in &bindings {
        if let Some(set) = by_size.get_mut(b.len()) {
            set.extend(b.iter().copied());
        }
    }
    let mut consumed: HashSet<Inst> = HashSet::new();
    let mut total = 0;
    for (size, ids) in by_size.iter().enumerate().skip(1) {
        let available: Vec<Inst> = ids
            .iter()
            .filter(|i| !consumed.contains(i))
            .copied()
            .collect();
        total += if size < max_size {
            available.len().div_ceil(size)
        } else {
            available.len() / size
        };
        consumed.extend(available);
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{PatternLimits, parse};
    use serde_json::json;

    fn run(
        pattern: &str,
        version: StixVersion,
        objects: &[Value],
    ) -> Result<MatchOutcome, MatchError> {
        let p = parse(pattern, version, &PatternLimits::default())
            .map_err(|e| MatchError::Pattern(e.to_string()))?;
        match_observations(&p, objects, &MatchOptions::default())
    }

    fn observed(id: &str, first: &str, last: &str, count: u64, refs: &[&str]) -> Value {
        json!({"type": "observed-data", "id": id, "first_observed": first, "last_observed": last,
               "number_observed": count, "object_refs": refs})
    }

    fn data() -> Vec<Value> {
        vec![
            observed(
                "observed-data--1",
                "2020-01-01T00:00:00Z",
                "2020-01-01T00:00:00Z",
                1,
                &["file--a"],
            ),
            observed(
                "observed-data--2",
                "2020-01-01T00:00:10Z",
                "2020-01-01T00:00:10Z",
                1,
                &["file--b", "ipv4-addr--c"],
            ),
            json!({"type": "file", "id": "file--a", "name": "a.exe", "size": 10, "hashes": {"MD5": "00"}}),
            json!({"type": "file", "id": "file--b", "name": "b.dll", "size": 20.5, "magic_number_hex": "4d5a"}),
            json!({"type": "ipv4-addr", "id": "ipv4-addr--c", "value": "10.1.2.3"}),
        ]
    }

    fn ids(pattern: &str) -> Vec<Vec<String>> {
        run(pattern, StixVersion::V21, &data())
            .map(|o| o.binding_ids())
            .unwrap_or_default()
    }

    #[test]
    fn comparisons_select_observations() {
        assert_eq!(
            ids("[file:name = 'a.exe']"),
            vec![vec!["observed-data--1".to_string()]]
        );
        assert_eq!(
            ids("[file:size > 15]"),
            vec![vec!["observed-data--2".to_string()]]
        );
        assert!(ids("[file:name = 'a.exe' AND file:size = 20.5]").is_empty());
        assert_eq!(ids("[file:magic_number_hex = h'4D5A']").len(), 1);
        assert_eq!(ids("[ipv4-addr:value ISSUBSET '10.0.0.0/8']").len(), 1);
        assert_eq!(ids("[file:name LIKE '%.dll']").len(), 1);
        assert_eq!(ids("[file:name MATCHES '^a\\\\.']").len(), 1);
        assert_eq!(ids("[EXISTS file:hashes.MD5]").len(), 1);
        assert_eq!(ids("[NOT EXISTS file:hashes]").len(), 1);
    }

    #[test]
    fn observation_operators_and_qualifiers() {
        let both = vec![
            "observed-data--1".to_string(),
            "observed-data--2".to_string(),
        ];
        assert_eq!(
            ids("[file:name = 'a.exe'] AND [ipv4-addr:value = '10.1.2.3']"),
            vec![both.clone()]
        );
        assert_eq!(
            ids("[file:name = 'a.exe'] FOLLOWEDBY [ipv4-addr:value = '10.1.2.3']"),
            vec![both.clone()]
        );
        assert!(ids("[ipv4-addr:value = '10.1.2.3'] FOLLOWEDBY [file:name = 'a.exe']").is_empty());
        assert!(
            ids("([file:name = 'a.exe'] AND [ipv4-addr:value = '10.1.2.3']) WITHIN 5 SECONDS")
                .is_empty()
        );
        assert_eq!(
            ids("([file:name = 'a.exe'] AND [ipv4-addr:value = '10.1.2.3']) WITHIN 10 SECONDS")
                .len(),
            1
        );
        assert_eq!(ids("[file:size > 0] REPEATS 2 TIMES"), vec![both]);
        assert!(ids("[file:size > 0] REPEATS 3 TIMES").is_empty());
        assert_eq!(
            ids("[file:size > 0] START t'2020-01-01T00:00:05Z' STOP t'2020-01-02T00:00:00Z'"),
            vec![vec!["observed-data--2".to_string()]]
        );
    }

    #[test]
    fn data_errors_are_errors() {
        assert!(matches!(
            run(
                "[ipv4-addr:value ISSUBSET 'nonsense']",
                StixVersion::V21,
                &data()
            ),
            Err(MatchError::Pattern(_))
        ));
        assert!(matches!(
            run(
                "[file:name = t'2020-01-01T00:00:00Z']",
                StixVersion::V21,
                &data()
            ),
            Err(MatchError::Data(_))
        ));
        assert!(matches!(
            run("[file:size IN (1, 'a')]", StixVersion::V21, &data()),
            Err(MatchError::Pattern(_))
        ));
    }

    #[test]
    fn budget_stops_combinatorial_patterns() {
        let many: Vec<Value> = (0..40)
            .map(|i| {
                json!({"type": "observed-data", "first_observed": "2020-01-01T00:00:00Z",
                "last_observed": "2020-01-01T00:00:00Z", "number_observed": 1,
                "objects": {"0": {"type": "x", "v": i}}})
            })
            .collect();
        let p = parse(
            "[x:v >= 0] REPEATS 30 TIMES AND [x:v < 0]",
            StixVersion::V20,
            &PatternLimits::default(),
        );
        let p = p.map_err(|e| e.to_string());
        assert!(p.is_ok());
        if let Ok(p) = p {
            let options = MatchOptions {
                max_bindings: 1,
                max_steps: 100_000,
            };
            let out = match_observations(&p, &many, &options);
            assert!(matches!(
                out,
                Err(MatchError::BudgetExceeded(_)) | Ok(MatchOutcome { bindings: _, .. })
            ));
            if let Ok(o) = out {
                assert!(!o.matched());
            }
        }
    }

    #[test]
    fn like_respects_newlines() {
        let t = |p: &str| {
            p.chars()
                .map(|c| match c {
                    '%' => LikeToken::AnyRun,
                    '_' => LikeToken::AnyOne,
                    c => LikeToken::Char(c),
                })
                .collect::<Vec<_>>()
        };
        assert!(like(&t("a%c"), "abbbc"));
        assert!(like(&t("a_c"), "abc"));
        assert!(!like(&t("a%c"), "a\nc"));
        assert!(like(&t("abc"), "abc\n"));
        assert!(!like(&t("ab"), "abc"));
    }

    #[test]
    fn base64_is_lenient_like_python() {
        assert_eq!(decode_base64("YWxp Y2U="), Ok(b"alice".to_vec()));
        assert_eq!(decode_base64("YQ==garbage"), Ok(b"a".to_vec()));
        assert!(decode_base64("YWx").is_err());
    }
}
