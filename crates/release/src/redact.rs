//! One object → what one recipient may receive of it.
//!
//! The decision about each marking comes from the caller (the policy); this
//! module only applies it, fail-closed: anything it cannot interpret exactly
//! (malformed markings, a selector that does not resolve, a marking on the
//! object's type or on its markings) withholds the whole object.

use serde::Serialize;
use serde_json::{Map, Value};
use stix::selector::Selector;

use crate::prune::{Pruner, rewrite_granular_markings, set_granular_markings};

/// Why an object is withheld from a recipient. Internal: the recipient
/// never sees reasons.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "reason", rename_all = "kebab-case")]
pub enum Withheld {
    /// The object as a whole carries a marking that is not released.
    ObjectMarking { marking: String },
    /// The object's markings cannot be read exactly, so nothing is released.
    MalformedMarkings { detail: String },
    /// A granular-marking selector does not resolve in the object.
    UnresolvableSelector { selector: String, detail: String },
    /// A marking that is not released covers content the object cannot
    /// exist without (its type or its markings).
    StructuralContentMarked { marking: String, selector: String },
    /// The input is not a JSON object.
    NotAnObject,
}

/// Content removed from a released object, and the marking that caused it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Removal {
    pub selector: String,
    pub marking: String,
}

/// The cleared content of one object.
#[derive(Debug, Clone, PartialEq)]
pub struct Redacted {
    /// The copy: only cleared content, granular markings rewritten. Its
    /// `id`, `created_by_ref`, `created` and `modified` are still the
    /// source's; the pipeline gives a changed object its derivative identity.
    pub object: Map<String, Value>,
    pub removed: Vec<Removal>,
}

impl Redacted {
    /// Nothing was removed: the object may be released as it is.
    pub fn is_unchanged(&self) -> bool {
        self.removed.is_empty()
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Redaction {
    Release(Redacted),
    Withhold(Withheld),
}

/// A granular marking as read from the object.
struct Granular {
    /// `None` for a `lang` granular marking, which restricts nothing.
    marking_ref: Option<String>,
    selectors: Vec<Selector>,
}

/// Redacts `source` for a recipient: `released(marking_id)` says whether
/// content under that marking may go to it.
pub fn redact(source: &Value, released: &dyn Fn(&str) -> bool) -> Redaction {
    let Value::Object(object) = source else {
        return Redaction::Withhold(Withheld::NotAnObject);
    };
    match object_marking_refs(object) {
        Err(detail) => return Redaction::Withhold(Withheld::MalformedMarkings { detail }),
        Ok(refs) => {
            if let Some(marking) = refs.into_iter().find(|m| !released(m)) {
                return Redaction::Withhold(Withheld::ObjectMarking {
                    marking: marking.to_owned(),
                });
            }
        }
    }
    let granular = match granular_markings(object) {
        Ok(granular) => granular,
        Err(withheld) => return Redaction::Withhold(withheld),
    };
    if granular.is_empty() {
        return Redaction::Release(Redacted {
            object: object.clone(),
            removed: Vec::new(),
        });
    }

    let mut removed = Vec::new();
    for entry in &granular {
        let Some(marking) = &entry.marking_ref else {
            continue;
        };
        if released(marking) {
            continue;
        }
        for selector in &entry.selectors {
            if let Some(stix::selector::Segment::Key(first)) = selector.segments().first()
                && matches!(
                    first.as_str(),
                    "type" | "granular_markings" | "object_marking_refs"
                )
            {
                return Redaction::Withhold(Withheld::StructuralContentMarked {
                    marking: marking.clone(),
                    selector: selector.to_string(),
                });
            }
            removed.push(Removal {
                selector: selector.to_string(),
                marking: marking.clone(),
            });
        }
    }
    let removed_selectors: Vec<&Selector> = granular
        .iter()
        .filter(|g| g.marking_ref.as_deref().is_some_and(|m| !released(m)))
        .flat_map(|g| &g.selectors)
        .collect();
    let mut pruner = Pruner::new(removed_selectors.iter().map(|s| s.segments()));
    let mut copy = pruner.copy(object);

    // Surviving granular markings, with selectors moved to the new indexes.
    let entries = object
        .get("granular_markings")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|entry| {
            entry
                .get("marking_ref")
                .and_then(Value::as_str)
                .is_none_or(released)
        });
    let kept = rewrite_granular_markings(&pruner, entries);
    set_granular_markings(&mut copy, kept);
    Redaction::Release(Redacted {
        object: copy,
        removed,
    })
}

fn object_marking_refs(object: &Map<String, Value>) -> Result<Vec<&str>, String> {
    match object.get("object_marking_refs") {
        None => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| {
                item.as_str().ok_or_else(|| {
                    "object_marking_refs holds a value that is not a string".to_owned()
                })
            })
            .collect(),
        Some(_) => Err("object_marking_refs is not a list".to_owned()),
    }
}

fn granular_markings(object: &Map<String, Value>) -> Result<Vec<Granular>, Withheld> {
    let malformed = |detail: &str| Withheld::MalformedMarkings {
        detail: detail.to_owned(),
    };
    let entries = match object.get("granular_markings") {
        None => return Ok(Vec::new()),
        Some(Value::Array(entries)) => entries,
        Some(_) => return Err(malformed("granular_markings is not a list")),
    };
    let mut out = Vec::with_capacity(entries.len());
    for entry in entries {
        let Value::Object(entry) = entry else {
            return Err(malformed("a granular marking is not an object"));
        };
        let marking_ref = match (entry.get("marking_ref"), entry.get("lang")) {
            (Some(Value::String(marking)), _) => Some(marking.clone()),
            (None, Some(Value::String(_))) => None,
            _ => {
                return Err(malformed(
                    "a granular marking has neither a string marking_ref nor a lang",
                ));
            }
        };
        let Some(Value::Array(raw_selectors)) = entry.get("selectors") else {
            return Err(malformed("a granular marking has no selectors list"));
        };
        let mut selectors = Vec::with_capacity(raw_selectors.len());
        for raw in raw_selectors {
            let Value::String(text) = raw else {
                return Err(malformed("a selector is not a string"));
            };
            let unresolvable = |detail: String| Withheld::UnresolvableSelector {
                selector: text.clone(),
                detail,
            };
            let selector = Selector::parse(text).map_err(|e| unresolvable(e.to_string()))?;
            selector
                .resolve(object)
                .map_err(|e| unresolvable(e.to_string()))?;
            selectors.push(selector);
        }
        out.push(Granular {
            marking_ref,
            selectors,
        });
    }
    Ok(out)
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests on literal inputs"
)]
mod tests {
    use super::*;
    use serde_json::json;

    const SOURCES: &str = "marking-definition--00000000-0000-4000-8000-000000000001";
    const GREEN: &str = stix::markings::TLP2_GREEN.id;

    fn released(marking: &str) -> bool {
        marking != SOURCES
    }

    fn report() -> Value {
        json!({
            "type": "report",
            "spec_version": "2.1",
            "id": "report--6a8b4f4e-7a1e-4b0b-9d49-0cfc9f3c1f1e",
            "created": "2026-11-01T00:00:00.000Z",
            "modified": "2026-11-01T00:00:00.000Z",
            "name": "Planned attack",
            "description": "Source HUMINT-7 reports a planned attack.",
            "published": "2026-11-01T00:00:00Z",
            "labels": ["a", "secret", "a"],
            "object_refs": ["indicator--6a8b4f4e-7a1e-4b0b-9d49-0cfc9f3c1f1f"],
            "object_marking_refs": [GREEN],
            "granular_markings": [
                {"marking_ref": SOURCES, "selectors": ["description", "labels.[1]"]},
                {"marking_ref": GREEN, "selectors": ["labels.[2]", "name"]},
                {"lang": "en", "selectors": ["labels.[1]"]}
            ]
        })
    }

    #[test]
    fn removes_marked_content_and_rewrites_selectors() {
        let Redaction::Release(redacted) = redact(&report(), &released) else {
            panic!("expected a release")
        };
        let object = Value::Object(redacted.object);
        assert!(object.get("description").is_none());
        assert_eq!(object["labels"], json!(["a", "a"]));
        assert_eq!(
            object["granular_markings"],
            json!([{"marking_ref": GREEN, "selectors": ["labels.[1]", "name"]}])
        );
        assert_eq!(redacted.removed.len(), 2);
        assert!(!object.to_string().contains("HUMINT"));
    }

    #[test]
    fn object_marking_withholds_everything() {
        let mut object = report();
        object["object_marking_refs"] = json!([SOURCES]);
        assert_eq!(
            redact(&object, &released),
            Redaction::Withhold(Withheld::ObjectMarking {
                marking: SOURCES.to_owned()
            })
        );
    }

    #[test]
    fn unresolvable_selector_fails_closed() {
        let mut object = report();
        object["granular_markings"][1]["selectors"] = json!(["labels.[7]"]);
        assert!(matches!(
            redact(&object, &released),
            Redaction::Withhold(Withheld::UnresolvableSelector { .. })
        ));
    }

    #[test]
    fn unchanged_when_everything_is_released() {
        let Redaction::Release(redacted) = redact(&report(), &|_| true) else {
            panic!("expected a release")
        };
        assert!(redacted.is_unchanged());
        assert_eq!(Value::Object(redacted.object), report());
    }

    #[test]
    fn malformed_markings_fail_closed() {
        let mut object = report();
        object["granular_markings"] = json!([{"marking_ref": 5, "selectors": ["name"]}]);
        assert!(matches!(
            redact(&object, &released),
            Redaction::Withhold(Withheld::MalformedMarkings { .. })
        ));
    }
}
