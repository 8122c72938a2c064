//! Granular-marking selectors (STIX 2.1 §7.2.3.1).
//!
//! A selector is a path into one STIX object: components separated by `.`,
//! each a property name or dictionary key, or a list index written `[n]`.
//! Resolution walks the object component by component; a selector is valid
//! only if every component exists (presence, not truthiness: a property
//! whose value is `false`, `0` or `""` is still selectable) and every index
//! is in range. Selection is recursive: `external_references` covers every
//! element and everything inside them; [`Selector::covers`] answers that.
//!
//! The release pipeline redacts with these: it resolves selectors, removes
//! content, then renumbers list indexes, which is why a selector is a list of
//! typed [`Segment`]s and prints back with [`std::fmt::Display`].

use std::fmt;

use serde_json::{Map, Value};

/// One component of a selector.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Segment {
    /// A property name or dictionary key.
    Key(String),
    /// A zero-based list index.
    Index(usize),
}

/// A parsed selector.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Selector {
    segments: Vec<Segment>,
}

/// Why a selector is malformed or does not resolve. `at` is the number of
/// components that resolved before the failure.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SelectorError {
    #[error("the selector is empty")]
    Empty,
    #[error("component {at} of the selector is empty")]
    EmptyComponent { at: usize },
    #[error("component {at}: '{key}' is not a property of the selected content")]
    MissingKey { at: usize, key: String },
    #[error("component {at}: index {index} is out of range (the list has {len} items)")]
    IndexOutOfRange { at: usize, index: usize, len: usize },
    #[error("component {at}: [{index}] selects from something that is not a list")]
    NotAList { at: usize, index: usize },
    #[error("component {at}: '{key}' selects from something that is not an object")]
    NotAnObject { at: usize, key: String },
}

impl Selector {
    /// Parses a selector string. Syntax only; see [`Selector::resolve`].
    pub fn parse(text: &str) -> Result<Selector, SelectorError> {
        if text.is_empty() {
            return Err(SelectorError::Empty);
        }
        let mut segments = Vec::new();
        for (at, component) in text.split('.').enumerate() {
            if component.is_empty() {
                return Err(SelectorError::EmptyComponent { at });
            }
            segments.push(parse_component(component));
        }
        Ok(Selector { segments })
    }

    pub fn from_segments(segments: Vec<Segment>) -> Selector {
        Selector { segments }
    }

    pub fn segments(&self) -> &[Segment] {
        &self.segments
    }

    /// The content this selector selects in `object` (the STIX object that
    /// carries the granular marking).
    pub fn resolve<'v>(&self, object: &'v Map<String, Value>) -> Result<&'v Value, SelectorError> {
        let mut segments = self.segments.iter().enumerate();
        let (at, first) = segments.next().ok_or(SelectorError::Empty)?;
        let mut current = match first {
            Segment::Key(key) => object.get(key).ok_or_else(|| SelectorError::MissingKey {
                at,
                key: key.clone(),
            })?,
            Segment::Index(index) => {
                return Err(SelectorError::NotAList { at, index: *index });
            }
        };
        for (at, segment) in segments {
            current = step(current, segment, at)?;
        }
        Ok(current)
    }

    /// True when content selected by `other` lies inside (or is) the
    /// content this selector selects, compared component by component (so
    /// `description` does not cover `descriptions`).
    pub fn covers(&self, other: &Selector) -> bool {
        other.segments.len() >= self.segments.len()
            && self
                .segments
                .iter()
                .zip(&other.segments)
                .all(|(a, b)| a == b)
    }
}

fn parse_component(component: &str) -> Segment {
    let index = component
        .strip_prefix('[')
        .and_then(|rest| rest.strip_suffix(']'))
        .filter(|digits| !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|digits| digits.parse::<usize>().ok());
    match index {
        Some(index) => Segment::Index(index),
        None => Segment::Key(component.to_owned()),
    }
}

fn step<'v>(current: &'v Value, segment: &Segment, at: usize) -> Result<&'v Value, SelectorError> {
    match segment {
        Segment::Key(key) => match current {
            Value::Object(map) => map.get(key).ok_or_else(|| SelectorError::MissingKey {
                at,
                key: key.clone(),
            }),
            _ => Err(SelectorError::NotAnObject {
                at,
                key: key.clone(),
            }),
        },
        Segment::Index(index) => match current {
            Value::Array(items) => items.get(*index).ok_or(SelectorError::IndexOutOfRange {
                at,
                index: *index,
                len: items.len(),
            }),
            _ => Err(SelectorError::NotAList { at, index: *index }),
        },
    }
}

impl fmt::Display for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, segment) in self.segments.iter().enumerate() {
            if i > 0 {
                f.write_str(".")?;
            }
            match segment {
                Segment::Key(key) => f.write_str(key)?,
                Segment::Index(index) => write!(f, "[{index}]")?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn object() -> Map<String, Value> {
        match json!({
            "type": "indicator",
            "description": "",
            "revoked": false,
            "confidence": 0,
            "labels": ["a", "a", "b"],
            "external_references": [{"source_name": "x", "url": "u"}],
            "extensions": {"x-ext": {"Key.With": 1}}
        }) {
            Value::Object(map) => map,
            _ => unreachable!("literal object"),
        }
    }

    fn resolve(selector: &str) -> Result<Value, SelectorError> {
        let map = object();
        Selector::parse(selector).and_then(|s| s.resolve(&map).cloned())
    }

    #[test]
    fn spec_examples_resolve() {
        assert_eq!(resolve("description"), Ok(json!("")));
        assert_eq!(
            resolve("external_references.[0].source_name"),
            Ok(json!("x"))
        );
        assert_eq!(resolve("labels.[0]"), Ok(json!("a")));
        assert_eq!(resolve("labels.[1]"), Ok(json!("a")));
        assert_eq!(resolve("labels.[2]"), Ok(json!("b")));
        assert!(resolve("labels").is_ok());
    }

    #[test]
    fn presence_not_truthiness() {
        assert_eq!(resolve("revoked"), Ok(json!(false)));
        assert_eq!(resolve("confidence"), Ok(json!(0)));
    }

    #[test]
    fn failures() {
        assert!(matches!(
            resolve("pattern"),
            Err(SelectorError::MissingKey { at: 0, .. })
        ));
        assert!(matches!(
            resolve("labels.[3]"),
            Err(SelectorError::IndexOutOfRange {
                index: 3,
                len: 3,
                ..
            })
        ));
        assert!(matches!(
            resolve("description.[0]"),
            Err(SelectorError::NotAList { .. })
        ));
        assert!(matches!(
            resolve("labels.name"),
            Err(SelectorError::NotAnObject { .. })
        ));
        assert!(matches!(
            resolve("[0]"),
            Err(SelectorError::NotAList { at: 0, .. })
        ));
        assert_eq!(resolve(""), Err(SelectorError::Empty));
        assert_eq!(
            resolve("labels..x"),
            Err(SelectorError::EmptyComponent { at: 1 })
        );
        // Keys are case-sensitive; a dot cannot be selected inside a key.
        assert!(resolve("Description").is_err());
        assert!(resolve("extensions.x-ext.Key.With").is_err());
    }

    #[test]
    fn covers_is_component_wise_and_display_round_trips() {
        let parse = |s: &str| Selector::parse(s).unwrap_or_else(|e| panic!("{e}"));
        assert!(parse("external_references").covers(&parse("external_references.[0].url")));
        assert!(!parse("description").covers(&parse("descriptions")));
        assert!(!parse("labels.[1]").covers(&parse("labels.[10]")));
        for text in ["labels.[0]", "external_references.[0].source_name", "a"] {
            assert_eq!(parse(text).to_string(), text);
        }
        assert_eq!(
            parse("labels.[1]").segments(),
            &[Segment::Key("labels".into()), Segment::Index(1)]
        );
    }
}
