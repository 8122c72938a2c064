//! From request bytes to storable objects: the envelope is checked as JSON
//! (syntax, duplicate keys, nesting depth) before anything else, every
//! object is validated on its own, and what gets stored is each object's
//! original text, never a re-serialisation.

use serde::Deserialize;
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
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let outcome = Checker {
        depth: 0,
        max_depth,
    }
    .deserialize(&mut deserializer)
    .and_then(|()| deserializer.end());
    match outcome {
        Ok(()) => Ok(()),
        Err(err) => {
            let message = err.to_string();
            if let Some(key) = message
                .strip_prefix("duplicate key ")
                .and_then(|rest| rest.split(" at line").next())
            {
                Err(EnvelopeError::DuplicateKey(
                    key.trim_matches('`').to_owned(),
                ))
            } else if message.starts_with("too deep") || message.contains("recursion limit") {
                Err(EnvelopeError::TooDeep(max_depth))
            } else {
                Err(EnvelopeError::Syntax(message))
            }
        }
    }
}

/// Walks any JSON value, tracking depth and keys per object.
struct Checker {
    depth: usize,
    max_depth: usize,
}

impl Checker {
    fn nested(&self) -> Result<Checker, String> {
        if self.depth >= self.max_depth {
            return Err("too deep".to_owned());
        }
        Ok(Checker {
            depth: self.depth + 1,
            max_depth: self.max_depth,
        })
    }
}

impl<'de> DeserializeSeed<'de> for Checker {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Checker {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let inner = self.nested().map_err(de::Error::custom)?;
        while seq
            .next_element_seed(Checker {
                depth: inner.depth,
                max_depth: inner.max_depth,
            })?
            .is_some()
        {}
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let inner = self.nested().map_err(de::Error::custom)?;
        let mut keys = SeenKeys::default();
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            if !keys.insert(key.clone()) {
                return Err(de::Error::custom(format!("duplicate key `{key}`")));
            }
            map.next_value_seed(Checker {
                depth: inner.depth,
                max_depth: inner.max_depth,
            })?;
        }
        Ok(())
    }
}

/// The keys of one JSON object so far. STIX objects have a dozen or so
/// keys, for which a linear scan beats hashing every key; large maps
/// (extensions, custom dictionaries) switch to a hash set.
#[derive(Default)]
struct SeenKeys<'de> {
    few: Vec<std::borrow::Cow<'de, str>>,
    many: Option<std::collections::HashSet<std::borrow::Cow<'de, str>>>,
}

impl<'de> SeenKeys<'de> {
    const SCAN_UP_TO: usize = 24;

    /// False if `key` was already seen.
    fn insert(&mut self, key: std::borrow::Cow<'de, str>) -> bool {
        if let Some(many) = &mut self.many {
            return many.insert(key);
        }
        if self.few.contains(&key) {
            return false;
        }
        self.few.push(key);
        if self.few.len() > Self::SCAN_UP_TO {
            self.many = Some(self.few.drain(..).collect());
        }
        true
    }
}

#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(borrow, default)]
    objects: Option<Vec<&'a RawValue>>,
}

/// The objects of an envelope as original text slices.
pub fn split_envelope<'a>(text: &'a str, limits: &Limits) -> Result<Vec<&'a str>, EnvelopeError> {
    // The envelope and its list add two levels above the objects.
    check_json(text, limits.max_json_depth.saturating_add(2))?;
    let trimmed = text.trim_start();
    if !trimmed.starts_with('{') {
        return Err(EnvelopeError::NotAnEnvelope(
            "the body must be a JSON object".to_owned(),
        ));
    }
    let envelope: Envelope<'a> =
        serde_json::from_str(text).map_err(|err| EnvelopeError::NotAnEnvelope(err.to_string()))?;
    let objects: Vec<&str> = envelope
        .objects
        .unwrap_or_default()
        .into_iter()
        .map(RawValue::get)
        .collect();
    if objects.len() > limits.max_objects_per_envelope {
        return Err(EnvelopeError::TooManyObjects {
            count: objects.len(),
            max: limits.max_objects_per_envelope,
        });
    }
    Ok(objects)
}

/// Envelopes smaller than this are validated on one thread: a thread costs
/// more than checking a few objects.
const PARALLEL_FROM: usize = 64;

/// [`prepare`] for every object, in order, spread over the machine's
/// cores for large envelopes (validation is most of an envelope's CPU time).
pub fn prepare_all(
    objects: &[&str],
    validator: &Validator,
    limits: &Limits,
) -> Vec<Result<NewObject, Rejection>> {
    let prepare_part = |part: &[&str]| -> Vec<Result<NewObject, Rejection>> {
        part.iter()
            .map(|raw| prepare(raw, validator, limits))
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
        let mut prepared = prepare_part(first);
        for other in others {
            match other.join() {
                Ok(part) => prepared.extend(part),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        prepared
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
        let parallel = prepare_all(&objects, &validator, &limits);
        let serial: Vec<_> = objects
            .iter()
            .map(|raw| prepare(raw, &validator, &limits))
            .collect();
        assert_eq!(parallel, serial);
        assert_eq!(parallel.iter().filter(|p| p.is_err()).count(), 43);
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
