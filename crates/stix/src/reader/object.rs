//! Parsing one object's text into a `serde_json::Value`, strictly.
//!
//! Stricter than `serde_json::from_str`: a key repeated in one JSON object
//! is an error (serde_json keeps the last value silently, while other
//! readers keep the first: two tools would see two different objects),
//! nesting depth and string lengths are bounded by [`Limits`], and an
//! integer that does not fit 64 bits is an error instead of being rounded
//! to a float.
//!
//! Numbers: integers within `i64`/`u64` are kept exactly; every other number
//! becomes an `f64` (so `1.10` reads back as `1.1`). The original text is
//! the caller's to keep when exact bytes matter.

use std::fmt::{self, Write};

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

use crate::{Finding, Limits};

/// serde_json refuses nesting deeper than this whatever our limit says (its
/// recursion guard keeps the parser stack-safe).
pub const SERDE_JSON_MAX_DEPTH: usize = 127;

/// Why one object's text could not be taken as a STIX object. Each is that
/// object's problem: the objects around it are still read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JsonProblem {
    #[error("not valid JSON at line {line} column {column} of the object: {detail}")]
    Syntax {
        line: usize,
        column: usize,
        detail: String,
    },
    #[error(
        "not valid UTF-8 at byte {offset} of the object; STIX JSON must be UTF-8 \
         (re-encode the source, e.g. with iconv)"
    )]
    InvalidUtf8 { offset: usize },
    #[error(
        "the object is {size} bytes, more than the limit of {limit} bytes on one object; \
         split it or raise the limit"
    )]
    ObjectTooLarge { limit: usize, size: u64 },
    #[error(
        "the key {key:?} appears more than once in the same JSON object; readers disagree \
         on which value wins, so keep exactly one"
    )]
    DuplicateKey { path: String, key: String },
    #[error("nested deeper than the limit of {limit} levels of arrays and objects")]
    TooDeep { path: String, limit: usize },
    #[error(
        "a string of {len} bytes is longer than the limit of {limit} bytes; \
         move large content out of the object (e.g. an artifact with a url)"
    )]
    StringTooLong {
        path: String,
        len: usize,
        limit: usize,
    },
    #[error(
        "a number at line {line} column {column} of the object is too large for a 64-bit \
         float; STIX numbers must be finite"
    )]
    NumberOutOfRange {
        path: String,
        line: usize,
        column: usize,
    },
    #[error(
        "the integer {text} at line {line} column {column} of the object does not fit in \
         64 bits and would lose digits; STIX integers lie within ±(2^53-1), write larger \
         values as strings"
    )]
    IntegerTooLarge {
        line: usize,
        column: usize,
        text: String,
    },
    #[error(
        "NaN and Infinity at line {line} column {column} of the object are not JSON numbers; \
         leave the property out or use a string"
    )]
    NotANumber { line: usize, column: usize },
    #[error("expected a STIX object ({{...}}) but found {found}")]
    NotAnObject { found: &'static str },
}

impl JsonProblem {
    /// Stable rule id of the finding this problem becomes.
    pub fn rule(&self) -> &'static str {
        match self {
            JsonProblem::Syntax { .. } => "json-syntax",
            JsonProblem::InvalidUtf8 { .. } => "json-invalid-utf8",
            JsonProblem::ObjectTooLarge { .. } => "json-object-too-large",
            JsonProblem::DuplicateKey { .. } => "json-duplicate-key",
            JsonProblem::TooDeep { .. } => "json-too-deep",
            JsonProblem::StringTooLong { .. } => "json-string-too-long",
            JsonProblem::NumberOutOfRange { .. } | JsonProblem::IntegerTooLarge { .. } => {
                "json-number-out-of-range"
            }
            JsonProblem::NotANumber { .. } => "json-not-a-number",
            JsonProblem::NotAnObject { .. } => "json-not-an-object",
        }
    }

    /// JSON path inside the object, `$` when the problem has no better place.
    pub fn path(&self) -> &str {
        match self {
            JsonProblem::DuplicateKey { path, .. }
            | JsonProblem::TooDeep { path, .. }
            | JsonProblem::StringTooLong { path, .. }
            | JsonProblem::NumberOutOfRange { path, .. } => path,
            _ => "$",
        }
    }

    /// The problem as an error finding of its object.
    pub fn to_finding(&self) -> Finding {
        Finding::error(self.rule(), self.path(), self.to_string())
    }
}

/// Parses one object's JSON text strictly (see the module docs).
///
/// Never panics and never recurses deeper than the depth limit, whatever the
/// input (nesting 20,000 deep is a [`JsonProblem::TooDeep`]).
pub fn parse_object(raw: &str, limits: &Limits) -> Result<Value, JsonProblem> {
    if raw.len() > limits.max_object_bytes {
        return Err(JsonProblem::ObjectTooLarge {
            limit: limits.max_object_bytes,
            size: raw.len() as u64,
        });
    }
    let first = raw
        .trim_start_matches([' ', '\t', '\r', '\n'])
        .bytes()
        .next();
    if let Some(found) = first.and_then(kind_of_non_object) {
        return Err(JsonProblem::NotAnObject { found });
    }
    let mut ctx = ParseCtx {
        limits,
        problem: None,
        path_rev: Vec::new(),
        suspect_big_integer: false,
    };
    let mut de = serde_json::Deserializer::from_str(raw);
    let parsed = ValueSeed {
        ctx: &mut ctx,
        depth: 1,
    }
    .deserialize(&mut de)
    .and_then(|value| de.end().map(|()| value));
    match parsed {
        Ok(value) => {
            if ctx.suspect_big_integer
                && let Some((offset, text)) = find_inexact_integer(raw)
            {
                let (line, column) = line_column(raw, offset);
                return Err(JsonProblem::IntegerTooLarge {
                    line,
                    column,
                    text: shorten(text, 40),
                });
            }
            Ok(value)
        }
        Err(err) => Err(ctx.into_problem(&err, raw)),
    }
}

/// What a JSON value starting with `first` is, if it is not an object (and
/// is a value at all): for messages such as "found an array".
pub(crate) fn kind_of_non_object(first: u8) -> Option<&'static str> {
    match first {
        b'[' => Some("an array"),
        b'"' => Some("a string"),
        b'-' | b'0'..=b'9' => Some("a number"),
        b't' | b'f' => Some("a boolean"),
        b'n' => Some("null"),
        _ => None,
    }
}

#[derive(Debug)]
enum Step {
    Key(String),
    Index(usize),
}

struct ParseCtx<'l> {
    limits: &'l Limits,
    /// Set by our own visitors; serde_json's errors carry no structure.
    problem: Option<JsonProblem>,
    /// Path of the failure, innermost step first, pushed while unwinding.
    path_rev: Vec<Step>,
    /// An integral float at least 2^63 was seen: maybe an integer literal
    /// serde_json rounded, checked against the text afterwards.
    suspect_big_integer: bool,
}

impl ParseCtx<'_> {
    fn fail<E: de::Error>(&mut self, problem: JsonProblem) -> E {
        self.problem = Some(problem);
        E::custom("rejected")
    }

    fn path(&self) -> String {
        render_path(self.path_rev.iter().rev())
    }

    fn into_problem(mut self, err: &serde_json::Error, raw: &str) -> JsonProblem {
        let path = self.path();
        if let Some(mut problem) = self.problem.take() {
            match &mut problem {
                JsonProblem::DuplicateKey { path: p, .. }
                | JsonProblem::TooDeep { path: p, .. }
                | JsonProblem::StringTooLong { path: p, .. } => *p = path,
                _ => {}
            }
            return problem;
        }
        let message = err.to_string();
        let (line, column) = (err.line(), err.column());
        if message.starts_with("recursion limit exceeded") {
            return JsonProblem::TooDeep {
                path,
                limit: self.limits.max_json_depth.min(SERDE_JSON_MAX_DEPTH),
            };
        }
        if message.starts_with("number out of range") {
            return JsonProblem::NumberOutOfRange { path, line, column };
        }
        syntax_problem(err, raw)
    }
}

/// A serde_json syntax error in `raw` as a problem, naming NaN and Infinity
/// when that is what broke it.
pub(crate) fn syntax_problem(err: &serde_json::Error, raw: &str) -> JsonProblem {
    let (line, column) = (err.line(), err.column());
    if starts_not_a_number(raw, line, column) {
        return JsonProblem::NotANumber { line, column };
    }
    JsonProblem::Syntax {
        line,
        column,
        detail: strip_position(&err.to_string()).to_owned(),
    }
}

/// serde_json ends its messages with " at line L column C"; we report the
/// position separately.
pub(crate) fn strip_position(message: &str) -> &str {
    match message.rsplit_once(" at line ") {
        Some((head, _)) => head,
        None => message,
    }
}

/// Whether the text at serde_json's (1-based) error position is NaN or an
/// Infinity, which some JSON writers emit for non-finite floats.
fn starts_not_a_number(raw: &str, line: usize, column: usize) -> bool {
    let Some(line_text) = raw.split('\n').nth(line.saturating_sub(1)) else {
        return false;
    };
    // serde_json points at the offending byte (column is 1-based) or just
    // past it; look at a few candidates.
    let from = column.saturating_sub(2);
    let tail = line_text.get(from..).unwrap_or_default();
    let tail = tail.trim_start_matches([' ', ':', ',', '[', '-', '+']);
    ["NaN", "Infinity", "-Infinity", "inf", "nan"]
        .iter()
        .any(|word| tail.starts_with(word))
}

fn line_column(raw: &str, offset: usize) -> (usize, usize) {
    let before = raw.as_bytes().get(..offset).unwrap_or_default();
    let line = memchr::memchr_iter(b'\n', before).count() + 1;
    let column = match memchr::memrchr(b'\n', before) {
        Some(at) => offset - at,
        None => offset + 1,
    };
    (line, column)
}

fn shorten(text: &str, max_chars: usize) -> String {
    if text.chars().count() <= max_chars {
        text.to_owned()
    } else {
        let head: String = text.chars().take(max_chars).collect();
        format!("{head}...")
    }
}

/// Finds the first integer literal (no fraction, no exponent) that fits
/// neither `i64` nor `u64`. Only meaningful on text that parsed as JSON.
fn find_inexact_integer(raw: &str) -> Option<(usize, &str)> {
    let bytes = raw.as_bytes();
    let mut at = 0;
    while let Some(&byte) = bytes.get(at) {
        match byte {
            b'"' => {
                at += 1;
                // Skip the string, honouring escapes.
                loop {
                    match memchr::memchr2(b'"', b'\\', bytes.get(at..).unwrap_or_default()) {
                        Some(rel) => {
                            let hit = at + rel;
                            if bytes.get(hit) == Some(&b'\\') {
                                at = hit + 2;
                            } else {
                                at = hit + 1;
                                break;
                            }
                        }
                        None => return None,
                    }
                }
            }
            b'-' | b'0'..=b'9' => {
                let start = at;
                at += 1;
                while let Some(b'0'..=b'9' | b'.' | b'e' | b'E' | b'+' | b'-') = bytes.get(at) {
                    at += 1;
                }
                let token = raw.get(start..at).unwrap_or_default();
                let integral = !token.contains(['.', 'e', 'E']);
                if integral && token.parse::<i64>().is_err() && token.parse::<u64>().is_err() {
                    return Some((start, token));
                }
            }
            _ => at += 1,
        }
    }
    None
}

fn render_path<'s>(steps: impl Iterator<Item = &'s Step>) -> String {
    let mut out = String::from("$");
    for step in steps {
        match step {
            Step::Key(key) => crate::finding::push_path_key(&mut out, key),
            Step::Index(index) => {
                let _ = write!(out, "[{index}]");
            }
        }
    }
    out
}

struct ValueSeed<'c, 'l> {
    ctx: &'c mut ParseCtx<'l>,
    depth: usize,
}

impl<'de> DeserializeSeed<'de> for ValueSeed<'_, '_> {
    type Value = Value;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl ValueSeed<'_, '_> {
    fn string<E: de::Error>(mut self, value: &str) -> Result<Value, E> {
        self.check_len(value)?;
        Ok(Value::String(value.to_owned()))
    }

    fn check_len<E: de::Error>(&mut self, value: &str) -> Result<(), E> {
        let limit = self.ctx.limits.max_string_bytes;
        if value.len() > limit {
            return Err(self.ctx.fail(JsonProblem::StringTooLong {
                path: String::new(),
                len: value.len(),
                limit,
            }));
        }
        Ok(())
    }

    fn enter<E: de::Error>(&mut self) -> Result<(), E> {
        let limit = self.ctx.limits.max_json_depth;
        if self.depth > limit {
            return Err(self.ctx.fail(JsonProblem::TooDeep {
                path: String::new(),
                limit,
            }));
        }
        Ok(())
    }
}

impl<'de> Visitor<'de> for ValueSeed<'_, '_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E: de::Error>(self, value: bool) -> Result<Value, E> {
        Ok(Value::Bool(value))
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<Value, E> {
        Ok(Value::Number(value.into()))
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<Value, E> {
        Ok(Value::Number(value.into()))
    }

    fn visit_f64<E: de::Error>(self, value: f64) -> Result<Value, E> {
        // Integer literals beyond u64 arrive here already rounded.
        if value.fract() == 0.0 && value.abs() >= 9.223_372_036_854_775e18 {
            self.ctx.suspect_big_integer = true;
        }
        match Number::from_f64(value) {
            Some(number) => Ok(Value::Number(number)),
            None => Err(E::custom("number out of range")),
        }
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<Value, E> {
        self.string(value)
    }

    fn visit_borrowed_str<E: de::Error>(self, value: &'de str) -> Result<Value, E> {
        self.string(value)
    }

    fn visit_string<E: de::Error>(mut self, value: String) -> Result<Value, E> {
        self.check_len(&value)?;
        Ok(Value::String(value))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(mut self, mut seq: A) -> Result<Value, A::Error> {
        self.enter()?;
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
        loop {
            let seed = ValueSeed {
                ctx: &mut *self.ctx,
                depth: self.depth + 1,
            };
            match seq.next_element_seed(seed) {
                Ok(Some(item)) => items.push(item),
                Ok(None) => break,
                Err(err) => {
                    self.ctx.path_rev.push(Step::Index(items.len()));
                    return Err(err);
                }
            }
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(mut self, mut map: A) -> Result<Value, A::Error> {
        self.enter()?;
        let mut object = Map::new();
        loop {
            let key = match map.next_key_seed(KeySeed {
                ctx: &mut *self.ctx,
            })? {
                Some(key) => key,
                None => break,
            };
            let seed = ValueSeed {
                ctx: &mut *self.ctx,
                depth: self.depth + 1,
            };
            let value = match map.next_value_seed(seed) {
                Ok(value) => value,
                Err(err) => {
                    self.ctx.path_rev.push(Step::Key(key));
                    return Err(err);
                }
            };
            match object.entry(key) {
                serde_json::map::Entry::Vacant(slot) => {
                    slot.insert(value);
                }
                serde_json::map::Entry::Occupied(slot) => {
                    let key = slot.key().clone();
                    return Err(self.ctx.fail(JsonProblem::DuplicateKey {
                        path: String::new(),
                        key,
                    }));
                }
            }
        }
        Ok(Value::Object(object))
    }
}

struct KeySeed<'c, 'l> {
    ctx: &'c mut ParseCtx<'l>,
}

impl<'de> DeserializeSeed<'de> for KeySeed<'_, '_> {
    type Value = String;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<String, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl KeySeed<'_, '_> {
    fn key<E: de::Error>(self, key: &str) -> Result<String, E> {
        let limit = self.ctx.limits.max_string_bytes;
        if key.len() > limit {
            return Err(self.ctx.fail(JsonProblem::StringTooLong {
                path: String::new(),
                len: key.len(),
                limit,
            }));
        }
        Ok(key.to_owned())
    }
}

impl<'de> Visitor<'de> for KeySeed<'_, '_> {
    type Value = String;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string key")
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<String, E> {
        self.key(key)
    }

    fn visit_borrowed_str<E: de::Error>(self, key: &'de str) -> Result<String, E> {
        self.key(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problem(raw: &str) -> JsonProblem {
        match parse_object(raw, &Limits::default()) {
            Ok(value) => panic!("expected a problem, parsed {value}"),
            Err(problem) => problem,
        }
    }

    #[test]
    fn parses_a_plain_object() {
        let value = parse_object(
            r#"{"type":"x","n":[1,-2,3.5,true,null]}"#,
            &Limits::default(),
        );
        assert_eq!(
            value.ok(),
            Some(serde_json::json!({"type":"x","n":[1,-2,3.5,true,null]}))
        );
    }

    #[test]
    fn duplicate_key_names_key_and_path() {
        let got = problem(r#"{"a":{"b":1,"b":2}}"#);
        assert_eq!(
            got,
            JsonProblem::DuplicateKey {
                path: "$.a".into(),
                key: "b".into()
            }
        );
        assert_eq!(got.rule(), "json-duplicate-key");
    }

    #[test]
    fn duplicate_key_inside_list_gets_index() {
        let got = problem(r#"{"refs":[{},{"x":1,"x":1}]}"#);
        assert_eq!(got.path(), "$.refs[1]");
    }

    #[test]
    fn too_deep_is_a_problem_not_a_crash() {
        let deep = format!("{{\"a\":{}{}}}", "[".repeat(20_000), "]".repeat(20_000));
        let got = problem(&deep);
        assert!(
            matches!(got, JsonProblem::TooDeep { limit: 100, .. }),
            "{got:?}"
        );
    }

    #[test]
    fn depth_limit_is_exact() {
        let limits = Limits {
            max_json_depth: 3,
            ..Limits::default()
        };
        assert!(parse_object(r#"{"a":[{}]}"#, &limits).is_ok());
        let got = parse_object(r#"{"a":[{"b":[]}]}"#, &limits);
        assert!(
            matches!(&got, Err(JsonProblem::TooDeep { path, limit: 3 }) if path == "$.a[0].b"),
            "{got:?}"
        );
    }

    #[test]
    fn long_string_is_refused_with_its_length() {
        let limits = Limits {
            max_string_bytes: 4,
            ..Limits::default()
        };
        let got = parse_object(r#"{"name":"abcdefgh"}"#, &limits);
        assert!(
            matches!(&got, Err(JsonProblem::StringTooLong { path, len: 8, limit: 4 }) if path == "$.name"),
            "{got:?}"
        );
    }

    #[test]
    fn huge_float_is_out_of_range() {
        let got = problem(r#"{"x":1e400}"#);
        assert!(
            matches!(&got, JsonProblem::NumberOutOfRange { .. }),
            "{got:?}"
        );
    }

    #[test]
    fn nan_and_infinity_get_their_own_message() {
        for raw in [r#"{"x":NaN}"#, r#"{"x": Infinity}"#, r#"{"x":-Infinity}"#] {
            let got = problem(raw);
            assert!(
                matches!(got, JsonProblem::NotANumber { .. }),
                "{raw}: {got:?}"
            );
        }
    }

    #[test]
    fn integers_keep_every_digit_or_fail() {
        let value = parse_object(
            r#"{"a":9223372036854775807,"b":-9223372036854775808,"c":18446744073709551615}"#,
            &Limits::default(),
        );
        let value = value.ok().unwrap_or_default();
        assert_eq!(value["a"].as_i64(), Some(i64::MAX));
        assert_eq!(value["b"].as_i64(), Some(i64::MIN));
        assert_eq!(value["c"].as_u64(), Some(u64::MAX));
        let got = problem(r#"{"s":"99999999999999999999","a":18446744073709551616}"#);
        assert_eq!(
            got,
            JsonProblem::IntegerTooLarge {
                line: 1,
                column: 33,
                text: "18446744073709551616".into()
            }
        );
        // A float literal of the same size is a float, not an integer.
        assert!(parse_object(r#"{"a":1.8446744073709552e19}"#, &Limits::default()).is_ok());
    }

    #[test]
    fn non_objects_are_named() {
        assert_eq!(
            problem("[1,2]"),
            JsonProblem::NotAnObject { found: "an array" }
        );
        assert_eq!(
            problem(" 42"),
            JsonProblem::NotAnObject { found: "a number" }
        );
    }

    #[test]
    fn syntax_errors_carry_position() {
        let got = problem("{\"a\":1,\n\"b\":}");
        assert!(
            matches!(
                got,
                JsonProblem::Syntax {
                    line: 2,
                    column: 5,
                    ..
                }
            ),
            "{got:?}"
        );
        assert!(matches!(problem("{\"a\":"), JsonProblem::Syntax { .. }));
        assert!(matches!(problem("{} {}"), JsonProblem::Syntax { .. }));
    }

    #[test]
    fn quoted_path_for_odd_keys() {
        let got = problem(r#"{"extensions":{"a b":{"k":1,"k":2}}}"#);
        assert_eq!(got.path(), "$.extensions['a b']");
    }

    #[test]
    fn finding_carries_rule_and_path() {
        let finding = problem(r#"{"a":1,"a":2}"#).to_finding();
        assert_eq!(finding.rule, "json-duplicate-key");
        assert_eq!(finding.path, "$");
        assert_eq!(finding.severity, crate::Severity::Error);
    }
}
