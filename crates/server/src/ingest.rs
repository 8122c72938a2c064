//! From request bytes to storable objects: the envelope is checked as JSON
//! (syntax, duplicate keys, nesting depth) before anything else, every
//! object is validated on its own, and what gets stored is each object's
//! original text, never a re-serialisation.

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::Value;
use serde_json::value::RawValue;
use stix::validate::Validator;
use stix::{Limits, Severity};
use store::NewObject;

use crate::timestamp;

/// The version given to objects that have neither `modified` nor `created`
/// (SCOs): SCO ids are derived from their content, so one id is one
/// version.
pub const UNVERSIONED: &str = "1970-01-01T00:00:00.000000000Z";

/// Why a request body is not an envelope we can process.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvelopeError {
    #[error("the body is not valid JSON: {0}")]
    Syntax(String),
    #[error("the body repeats the key '{0}' in one JSON object")]
    DuplicateKey(String),
    #[error("the body nests JSON deeper than {0} levels")]
    TooDeep(usize),
    #[error("the body is not a TAXII envelope: {0}")]
    NotAnEnvelope(String),
    #[error("the envelope holds {count} objects; at most {max} are accepted")]
    TooManyObjects { count: usize, max: usize },
}

/// Checks syntax, duplicate keys and depth of a whole JSON text.
pub fn check_json(text: &str, max_depth: usize) -> Result<(), EnvelopeError> {
    parse_checked(text, max_depth).map(drop)
}

/// Parses a JSON text in one pass, refusing duplicate keys (which
/// serde_json's own `Value` would silently collapse) and nesting deeper than
/// `max_depth` containers.
pub fn parse_checked(text: &str, max_depth: usize) -> Result<Value, EnvelopeError> {
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let outcome = CheckedValue {
        depth: 0,
        max_depth,
    }
    .deserialize(&mut deserializer)
    .and_then(|value| deserializer.end().map(|()| value));
    outcome.map_err(|err| json_error(&err, max_depth))
}

fn json_error(err: &serde_json::Error, max_depth: usize) -> EnvelopeError {
    let message = err.to_string();
    if let Some(key) = message
        .strip_prefix("duplicate key ")
        .and_then(|rest| rest.split(" at line").next())
    {
        EnvelopeError::DuplicateKey(key.trim_matches('`').to_owned())
    } else if message.starts_with("too deep") || message.contains("recursion limit") {
        EnvelopeError::TooDeep(max_depth)
    } else {
        EnvelopeError::Syntax(message)
    }
}

/// Builds a JSON value, tracking depth and the keys of each object.
#[derive(Clone, Copy)]
struct CheckedValue {
    depth: usize,
    max_depth: usize,
}

impl CheckedValue {
    fn nested(self) -> Result<CheckedValue, String> {
        if self.depth >= self.max_depth {
            return Err("too deep".to_owned());
        }
        Ok(CheckedValue {
            depth: self.depth + 1,
            max_depth: self.max_depth,
        })
    }
}

impl<'de> DeserializeSeed<'de> for CheckedValue {
    type Value = Value;
    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for CheckedValue {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, value: bool) -> Result<Value, E> {
        Ok(Value::Bool(value))
    }
    fn visit_i64<E>(self, value: i64) -> Result<Value, E> {
        Ok(Value::from(value))
    }
    fn visit_u64<E>(self, value: u64) -> Result<Value, E> {
        Ok(Value::from(value))
    }
    fn visit_f64<E>(self, value: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(value).map_or(Value::Null, Value::Number))
    }
    fn visit_str<E>(self, value: &str) -> Result<Value, E> {
        Ok(Value::String(value.to_owned()))
    }
    fn visit_string<E>(self, value: String) -> Result<Value, E> {
        Ok(Value::String(value))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let inner = self.nested().map_err(de::Error::custom)?;
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(item) = seq.next_element_seed(inner)? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let inner = self.nested().map_err(de::Error::custom)?;
        let mut object = serde_json::Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if object.contains_key(&key) {
                return Err(de::Error::custom(format!("duplicate key `{key}`")));
            }
            let value = map.next_value_seed(inner)?;
            object.insert(key, value);
        }
        Ok(Value::Object(object))
    }
}

/// Reads a TAXII envelope in one pass: the objects' texts are cut out (their
/// JSON syntax checked on the way), the other members are checked for keys
/// and depth. Each object's own keys and depth are checked when it is
/// parsed ([`prepare_all`]).
struct EnvelopeReader {
    max_depth: usize,
}

impl<'de> DeserializeSeed<'de> for EnvelopeReader {
    type Value = Vec<&'de str>;
    fn deserialize<D: de::Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for EnvelopeReader {
    type Value = Vec<&'de str>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a TAXII envelope")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let member = CheckedValue {
            depth: 1,
            max_depth: self.max_depth,
        };
        let mut keys: Vec<std::borrow::Cow<'de, str>> = Vec::new();
        let mut objects = None;
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            if keys.contains(&key) {
                return Err(de::Error::custom(format!("duplicate key `{key}`")));
            }
            if key == "objects" {
                objects = map.next_value::<Option<Vec<&'de RawValue>>>()?;
            } else {
                map.next_value_seed(member)?;
            }
            keys.push(key);
        }
        Ok(objects
            .unwrap_or_default()
            .into_iter()
            .map(RawValue::get)
            .collect())
    }
}

/// The objects of an envelope as original text slices.
pub fn split_envelope<'a>(text: &'a str, limits: &Limits) -> Result<Vec<&'a str>, EnvelopeError> {
    // The envelope and its list add two levels above the objects.
    let max_depth = limits.max_json_depth.saturating_add(2);
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let read = EnvelopeReader { max_depth }
        .deserialize(&mut deserializer)
        .and_then(|objects| deserializer.end().map(|()| objects));
    let objects =
        read.map_err(|err| explain(text, limits, EnvelopeError::NotAnEnvelope(err.to_string())))?;
    if objects.len() > limits.max_objects_per_envelope {
        return Err(EnvelopeError::TooManyObjects {
            count: objects.len(),
            max: limits.max_objects_per_envelope,
        });
    }
    Ok(objects)
}

/// The error the whole body earns, in the order a reader meets problems:
/// syntax, duplicate keys and depth anywhere first (the one-pass readers
/// stop at the first problem of their own part), then the envelope's shape.
fn explain(text: &str, limits: &Limits, otherwise: EnvelopeError) -> EnvelopeError {
    if let Err(err) = check_json(text, limits.max_json_depth.saturating_add(2)) {
        return err;
    }
    if !text.trim_start().starts_with('{') {
        return EnvelopeError::NotAnEnvelope("the body must be a JSON object".to_owned());
    }
    otherwise
}

/// Every object of an envelope, validated, in order; or why the envelope
/// as a whole is refused.
pub fn prepare_envelope(
    text: &str,
    validator: &Validator,
    limits: &Limits,
) -> Result<Vec<Result<NewObject, Rejection>>, EnvelopeError> {
    let objects = split_envelope(text, limits)?;
    prepare_all(&objects, validator, limits).map_err(|err| explain(text, limits, err))
}

/// Envelopes smaller than this are validated on one thread: a thread costs
/// more than checking a few objects.
const PARALLEL_FROM: usize = 64;

/// Parses (see [`parse_checked`]) and validates every object, in order,
/// spread over the machine's cores for large envelopes (this is most of an
/// envelope's CPU time). A duplicate key or too deep nesting in any object
/// refuses the whole envelope, as it always has.
pub fn prepare_all(
    objects: &[&str],
    validator: &Validator,
    limits: &Limits,
) -> Result<Vec<Result<NewObject, Rejection>>, EnvelopeError> {
    let prepare_part = |part: &[&str]| -> Result<Vec<Result<NewObject, Rejection>>, EnvelopeError> {
        part.iter()
            .map(|raw| {
                let value = parse_checked(raw, limits.max_json_depth)?;
                Ok(prepare_value(raw, value, validator, limits))
            })
            .collect()
    };
    let threads = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    if threads < 2 || objects.len() < PARALLEL_FROM {
        return prepare_part(objects);
    }
    let part_len = objects.len().div_ceil(threads);
    let mut parts = objects.chunks(part_len);
    let first = parts.next().unwrap_or_default();
    std::thread::scope(|scope| {
        let others: Vec<_> = parts
            .map(|part| scope.spawn(move || prepare_part(part)))
            .collect();
        let mut prepared = prepare_part(first)?;
        for other in others {
            match other.join() {
                Ok(part) => prepared.extend(part?),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        Ok(prepared)
    })
}

/// One object that will not be stored, with what the status says about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub id: String,
    pub version: String,
    pub message: String,
}

/// Validates one object (its exact text) and extracts its storage keys.
pub fn prepare(raw: &str, validator: &Validator, limits: &Limits) -> Result<NewObject, Rejection> {
    let value: Value = serde_json::from_str(raw).map_err(|err| Rejection {
        id: String::new(),
        version: String::new(),
        message: format!("not valid JSON: {err}"),
    })?;
    prepare_value(raw, value, validator, limits)
}

/// [`prepare`] for an object already parsed from `raw`.
fn prepare_value(
    raw: &str,
    value: Value,
    validator: &Validator,
    limits: &Limits,
) -> Result<NewObject, Rejection> {
    let id = value
        .get("id")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let modified = value.get("modified").and_then(Value::as_str);
    let created = value.get("created").and_then(Value::as_str);
    let stated_version = modified.or(created).unwrap_or_default().to_owned();
    let reject = |message: String| Rejection {
        id: id.clone(),
        version: stated_version.clone(),
        message,
    };
    if raw.len() > limits.max_object_bytes {
        return Err(reject(format!(
            "the object is {} bytes; at most {} are accepted",
            raw.len(),
            limits.max_object_bytes
        )));
    }
    let errors: Vec<String> = validator
        .validate(&value)
        .into_iter()
        .filter(|finding| finding.severity == Severity::Error)
        .map(|finding| format!("[{}] {}: {}", finding.rule, finding.path, finding.message))
        .collect();
    if let Some(first) = errors.first() {
        let more = match errors.len() {
            1 => String::new(),
            n => format!(" (and {} more errors)", n - 1),
        };
        return Err(reject(format!("invalid STIX 2.1: {first}{more}")));
    }
    let Some(object_type) = value.get("type").and_then(Value::as_str) else {
        return Err(reject("the object has no string 'type'".to_owned()));
    };
    if id.split_once("--").map(|(prefix, _)| prefix) != Some(object_type) {
        return Err(reject("'id' must be '<type>--<UUID>'".to_owned()));
    }
    let version = match (modified, created) {
        (Some(stamp), _) | (None, Some(stamp)) => timestamp::version_key(stamp)
            .ok_or_else(|| reject(format!("'{stamp}' is not a valid timestamp")))?,
        (None, None) => UNVERSIONED.to_owned(),
    };
    let spec_version = match value.get("spec_version") {
        Some(Value::String(spec)) => spec.clone(),
        Some(_) => return Err(reject("'spec_version' must be a string".to_owned())),
        // STIX 2.0 objects carry no spec_version; 2.1 SCOs may omit it
        // and SCOs have no `created`.
        None if created.is_some() => "2.0".to_owned(),
        None => "2.1".to_owned(),
    };
    Ok(NewObject {
        object_id: id,
        object_type: object_type.to_owned(),
        spec_version,
        version,
        raw: raw.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn duplicate_keys_are_found_in_small_and_large_objects() {
        for size in [2, 24, 25, 26, 100] {
            let keys: Vec<String> = (0..size).map(|i| format!("\"k{i}\": {i}")).collect();
            let unique = format!("{{{}}}", keys.join(","));
            assert_eq!(check_json(&unique, 10), Ok(()), "{size} keys");
            for repeated in [0, size - 1] {
                let text = format!("{{{}, \"k{repeated}\": 0}}", keys.join(","));
                assert_eq!(
                    check_json(&text, 10),
                    Err(EnvelopeError::DuplicateKey(format!("k{repeated}"))),
                    "{size} keys, k{repeated} repeated"
                );
            }
        }
    }

    #[test]
    fn prepared_in_parallel_keeps_order_and_outcomes() {
        let validator = Validator::default();
        let limits = Limits::default();
        let texts: Vec<String> = (0..300)
            .map(|i| {
                if i % 7 == 0 {
                    format!(r#"{{"type":"note","id":"note--{i}"}}"#)
                } else {
                    format!(
                        r#"{{"type":"ipv4-addr","spec_version":"2.1","id":"ipv4-addr--{}","value":"10.0.{}.{}"}}"#,
                        uuid::Uuid::new_v4(),
                        i / 256,
                        i % 256
                    )
                }
            })
            .collect();
        let objects: Vec<&str> = texts.iter().map(String::as_str).collect();
        let parallel = prepare_all(&objects, &validator, &limits).unwrap_or_default();
        let serial: Vec<_> = objects
            .iter()
            .map(|raw| prepare(raw, &validator, &limits))
            .collect();
        assert_eq!(parallel, serial);
        assert_eq!(parallel.iter().filter(|p| p.is_err()).count(), 43);
    }

    /// What the envelope readers replaced: the whole body checked first,
    /// then read with serde's derive.
    fn reference_split<'a>(text: &'a str, limits: &Limits) -> Result<Vec<&'a str>, EnvelopeError> {
        #[derive(serde::Deserialize)]
        struct Envelope<'a> {
            #[serde(borrow, default)]
            objects: Option<Vec<&'a RawValue>>,
        }
        check_json(text, limits.max_json_depth.saturating_add(2))?;
        if !text.trim_start().starts_with('{') {
            return Err(EnvelopeError::NotAnEnvelope(String::new()));
        }
        let envelope: Envelope<'a> = serde_json::from_str(text)
            .map_err(|err| EnvelopeError::NotAnEnvelope(err.to_string()))?;
        let objects: Vec<&str> = envelope
            .objects
            .unwrap_or_default()
            .into_iter()
            .map(RawValue::get)
            .collect();
        for object in &objects {
            check_json(object, limits.max_json_depth)?;
        }
        Ok(objects)
    }

    /// Same outcome kind, and for errors other than the envelope's shape
    /// the same error.
    fn same_outcome(
        ours: &Result<Vec<&str>, EnvelopeError>,
        reference: &Result<Vec<&str>, EnvelopeError>,
    ) -> bool {
        match (ours, reference) {
            (Ok(a), Ok(b)) => a == b,
            (Err(EnvelopeError::NotAnEnvelope(_)), Err(EnvelopeError::NotAnEnvelope(_))) => true,
            (Err(EnvelopeError::Syntax(_)), Err(EnvelopeError::Syntax(_))) => true,
            (Err(a), Err(b)) => a == b,
            _ => false,
        }
    }

    fn json_fragment() -> impl Strategy<Value = String> {
        let leaf = prop_oneof![
            Just("1".to_owned()),
            Just("\"s\"".to_owned()),
            Just("null".to_owned()),
            Just("true".to_owned()),
            Just("[".to_owned()),
            Just("}".to_owned()),
        ];
        leaf.prop_recursive(6, 40, 4, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4)
                    .prop_map(|items| format!("[{}]", items.join(","))),
                proptest::collection::vec(
                    (
                        prop_oneof![Just("a"), Just("b"), Just("objects"), Just("type")],
                        inner
                    ),
                    0..4
                )
                .prop_map(|members| {
                    let members: Vec<String> = members
                        .into_iter()
                        .map(|(key, value)| format!("\"{key}\":{value}"))
                        .collect();
                    format!("{{{}}}", members.join(","))
                }),
            ]
        })
    }

    proptest! {
        #[test]
        fn one_pass_reading_answers_like_the_full_check(
            body in json_fragment(),
            depth in 1usize..5,
        ) {
            let limits = Limits { max_json_depth: depth, ..Limits::default() };
            let validator = Validator::default();
            let reference = reference_split(&body, &limits);
            let ours = split_envelope(&body, &limits).and_then(|objects| {
                prepare_all(&objects, &validator, &limits)
                    .map(|_| objects)
                    .map_err(|err| explain(&body, &limits, err))
            });
            prop_assert!(same_outcome(&ours, &reference), "{body}: {ours:?} vs {reference:?}");
        }
    }

    #[test]
    fn json_checks() {
        assert_eq!(check_json(r#"{"a": [1, {"b": null}]}"#, 3), Ok(()));
        assert_eq!(
            check_json(r#"{"a": [1, {"b": null}]}"#, 2),
            Err(EnvelopeError::TooDeep(2))
        );
        assert_eq!(
            check_json(r#"{"a": {"b": 1, "b": 2}}"#, 10),
            Err(EnvelopeError::DuplicateKey("b".to_owned()))
        );
        assert!(matches!(check_json("{", 10), Err(EnvelopeError::Syntax(_))));
        assert!(matches!(
            check_json("{} {}", 10),
            Err(EnvelopeError::Syntax(_))
        ));
        let deep = format!("{}{}", "[".repeat(5000), "]".repeat(5000));
        assert!(matches!(
            check_json(&deep, 100),
            Err(EnvelopeError::TooDeep(_))
        ));
    }

    #[test]
    fn envelope_objects_keep_their_text() {
        let body = r#"{"objects": [ {"id" : "x--1",  "type":"x"}, {"b":2} ], "more": false}"#;
        let objects = split_envelope(body, &Limits::default());
        assert_eq!(
            objects,
            Ok(vec![r#"{"id" : "x--1",  "type":"x"}"#, r#"{"b":2}"#])
        );
        assert!(matches!(
            split_envelope("[]", &Limits::default()),
            Err(EnvelopeError::NotAnEnvelope(_))
        ));
        assert!(matches!(
            split_envelope(r#"{"objects": 5}"#, &Limits::default()),
            Err(EnvelopeError::NotAnEnvelope(_))
        ));
        let limits = Limits {
            max_objects_per_envelope: 1,
            ..Limits::default()
        };
        assert!(matches!(
            split_envelope(r#"{"objects": [{}, {}]}"#, &limits),
            Err(EnvelopeError::TooManyObjects { count: 2, max: 1 })
        ));
    }

    #[test]
    fn prepare_extracts_keys_and_rejects_bad_versions() {
        let validator = Validator::default();
        let limits = Limits::default();
        let raw = r#"{"type":"indicator","spec_version":"2.1","id":"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","created":"2016-04-06T20:03:48.000Z","modified":"2016-04-06T20:03:48.000Z","name":"x","description":"x","pattern":"[file:name = 'x']","pattern_type":"stix","valid_from":"2016-04-06T20:03:48Z"}"#;
        let prepared = prepare(raw, &validator, &limits);
        let Ok(object) = prepared else {
            panic!("{prepared:?}");
        };
        assert_eq!(object.object_type, "indicator");
        assert_eq!(object.version, "2016-04-06T20:03:48.000000000Z");
        assert_eq!(object.raw, raw);
        let sco = r#"{"type":"ipv4-addr","id":"ipv4-addr--ff26c055-6336-5bc5-b98d-13d6226742dd","value":"198.51.100.3"}"#;
        assert_eq!(
            prepare(sco, &validator, &limits).map(|o| (o.version, o.spec_version)),
            Ok((UNVERSIONED.to_owned(), "2.1".to_owned()))
        );
        let bad_time = r#"{"type":"note","id":"note--1","modified":"not-a-timestamp"}"#;
        assert!(prepare(bad_time, &validator, &limits).is_err());
        let no_id = r#"{"type":"note"}"#;
        assert!(prepare(no_id, &validator, &limits).is_err());
        let mismatched = r#"{"type":"note","id":"malware--1","created":"2020-01-01T00:00:00Z"}"#;
        assert!(prepare(mismatched, &validator, &limits).is_err());
    }
}
