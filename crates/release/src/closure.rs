//! Reference closure over what one recipient receives.
//!
//! Every `*_ref` / `*_refs` of a released object must point to something the
//! recipient also receives: the derivative where there is one, the object
//! itself where it goes unchanged. References to anything else are removed
//! (they would reveal an id the recipient must not learn). An object whose
//! required references cannot be kept is withheld, which may in turn
//! orphan references of others, so the closure runs to a fixed point.
//!
//! Marking references are different: dropping one would make marked content
//! look unmarked, so an object whose marking-definition is not carried along
//! is withheld rather than stripped.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use serde_json::{Map, Value};
use stix::selector::Segment;

use crate::prune::{Pruner, rewrite_granular_markings, set_granular_markings};

/// One object on its way to a recipient, after redaction.
#[derive(Debug, Clone, PartialEq)]
pub struct Outgoing {
    /// The id of the home party's object it came from.
    pub source_id: String,
    /// The cleared content (still carrying the source's id and references).
    pub object: Map<String, Value>,
    /// Redaction removed something: the object needs a derivative id.
    pub redacted: bool,
}

/// The result of closing one object's references.
#[derive(Debug, Clone, PartialEq)]
pub struct Closed {
    pub source_id: String,
    /// The id the recipient sees: the source id when unchanged, else the
    /// derivative id.
    pub id: String,
    /// The content with every reference rewritten or removed, `id` set.
    pub object: Map<String, Value>,
    /// True when the recipient gets something other than the source bytes.
    pub changed: bool,
    /// Source ids of references that were removed (internal).
    pub dropped_refs: Vec<String>,
}

/// Why closure withheld an object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "reason", rename_all = "kebab-case")]
pub enum ClosureWithheld {
    /// A reference the object cannot exist without points to something the
    /// recipient does not receive.
    RequiredReference { property: String },
    /// A marking-definition the object uses is not carried along.
    MarkingNotCarried { marking: String },
}

/// Outcome of the closure over a whole release.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Closure {
    pub released: Vec<Closed>,
    pub withheld: Vec<(String, ClosureWithheld)>,
}

/// Closes references over `outgoing`. `carried` holds ids the recipient
/// receives besides these objects and that are never rewritten
/// (marking-definitions, the release identity). `derivative_id` gives the
/// recipient-specific id of a changed object.
pub fn close(
    outgoing: &[Outgoing],
    carried: &BTreeSet<String>,
    derivative_id: &dyn Fn(&str) -> String,
) -> Closure {
    // Source id → id the recipient sees. Starts optimistic (unchanged
    // objects keep their id) and only ever moves one way: an object becomes
    // changed, or is withheld. So the loop ends after at most 2n rounds.
    let mut visible: BTreeMap<&str, String> = BTreeMap::new();
    for item in outgoing {
        let id = if item.redacted {
            derivative_id(&item.source_id)
        } else {
            item.source_id.clone()
        };
        visible.insert(item.source_id.as_str(), id);
    }
    let mut withheld: BTreeMap<&str, ClosureWithheld> = BTreeMap::new();

    loop {
        let mut settled = true;
        let mut released = Vec::with_capacity(outgoing.len());
        for item in outgoing {
            if withheld.contains_key(item.source_id.as_str()) {
                continue;
            }
            match close_one(item, &visible, carried, derivative_id) {
                Err(reason) => {
                    withheld.insert(item.source_id.as_str(), reason);
                    visible.remove(item.source_id.as_str());
                    settled = false;
                }
                Ok(closed) => {
                    if closed.changed && visible.get(item.source_id.as_str()) != Some(&closed.id) {
                        visible.insert(item.source_id.as_str(), closed.id.clone());
                        settled = false;
                    }
                    released.push(closed);
                }
            }
        }
        if settled {
            return Closure {
                released,
                withheld: withheld
                    .into_iter()
                    .map(|(id, reason)| (id.to_owned(), reason))
                    .collect(),
            };
        }
    }
}

/// Reference properties whose loss makes the object meaningless.
fn required_refs(object_type: &str) -> &'static [&'static str] {
    match object_type {
        "relationship" => &["source_ref", "target_ref"],
        "sighting" => &["sighting_of_ref"],
        "report" | "grouping" | "note" | "opinion" | "observed-data" => &["object_refs"],
        "language-content" => &["object_ref"],
        _ => &[],
    }
}

fn close_one(
    item: &Outgoing,
    visible: &BTreeMap<&str, String>,
    carried: &BTreeSet<String>,
    derivative_id: &dyn Fn(&str) -> String,
) -> Result<Closed, ClosureWithheld> {
    let mut refs = Vec::new();
    collect_refs(&item.object, &mut Vec::new(), &mut refs);

    let mut drop_paths: Vec<Vec<Segment>> = Vec::new();
    let mut rewrites: Vec<(Vec<Segment>, String)> = Vec::new();
    let mut dropped_refs = Vec::new();
    for (path, target) in refs {
        let is_marking = matches!(
            path.first(),
            Some(Segment::Key(k)) if k == "object_marking_refs" || k == "granular_markings"
        );
        if carried.contains(target) {
            continue;
        }
        if is_marking {
            return Err(ClosureWithheld::MarkingNotCarried {
                marking: target.to_owned(),
            });
        }
        match visible.get(target) {
            Some(id) if id == target => {}
            Some(id) => rewrites.push((path, id.clone())),
            None => {
                dropped_refs.push(target.to_owned());
                drop_paths.push(path);
            }
        }
    }

    let mut object = if drop_paths.is_empty() {
        item.object.clone()
    } else {
        let mut pruner = Pruner::new(drop_paths.iter().map(Vec::as_slice));
        let mut copy = pruner.copy(&item.object);
        let kept = rewrite_granular_markings(
            &pruner,
            item.object
                .get("granular_markings")
                .and_then(Value::as_array)
                .into_iter()
                .flatten(),
        );
        set_granular_markings(&mut copy, kept);
        copy
    };
    let object_type = object.get("type").and_then(Value::as_str).unwrap_or("");
    for property in required_refs(object_type) {
        if !object.contains_key(*property) {
            return Err(ClosureWithheld::RequiredReference {
                property: (*property).to_owned(),
            });
        }
    }
    // Rewrites change no list length, so paths computed on the original
    // stay valid wherever nothing before them was dropped; apply them on the
    // copy by walking the same paths, skipping any that were pruned away.
    for (path, id) in &rewrites {
        if let Some(slot) = slot_mut(&mut object, path, &drop_paths) {
            *slot = Value::String(id.clone());
        }
    }

    let changed = item.redacted || !drop_paths.is_empty() || !rewrites.is_empty();
    let id = if changed {
        derivative_id(&item.source_id)
    } else {
        item.source_id.clone()
    };
    object.insert("id".to_owned(), Value::String(id.clone()));
    Ok(Closed {
        source_id: item.source_id.clone(),
        id,
        object,
        changed,
        dropped_refs,
    })
}

/// Every reference in the object: (path, target id).
fn collect_refs<'v>(
    map: &'v Map<String, Value>,
    path: &mut Vec<Segment>,
    out: &mut Vec<(Vec<Segment>, &'v str)>,
) {
    for (key, value) in map {
        path.push(Segment::Key(key.clone()));
        if key.ends_with("_ref") {
            if let Value::String(target) = value {
                out.push((path.clone(), target));
            }
        } else if key.ends_with("_refs") {
            if let Value::Array(items) = value {
                for (index, item) in items.iter().enumerate() {
                    if let Value::String(target) = item {
                        path.push(Segment::Index(index));
                        out.push((path.clone(), target));
                        path.pop();
                    }
                }
            }
        } else {
            collect_nested(value, path, out);
        }
        path.pop();
    }
}

fn collect_nested<'v>(
    value: &'v Value,
    path: &mut Vec<Segment>,
    out: &mut Vec<(Vec<Segment>, &'v str)>,
) {
    match value {
        Value::Object(map) => collect_refs(map, path, out),
        Value::Array(items) => {
            for (index, item) in items.iter().enumerate() {
                path.push(Segment::Index(index));
                collect_nested(item, path, out);
                path.pop();
            }
        }
        _ => {}
    }
}

/// The slot at `path` (given in the original object's indexes) in the
/// pruned copy, following the index shifts that `drop_paths` caused.
fn slot_mut<'v>(
    object: &'v mut Map<String, Value>,
    path: &[Segment],
    drop_paths: &[Vec<Segment>],
) -> Option<&'v mut Value> {
    let (first, rest) = path.split_first()?;
    let Segment::Key(key) = first else {
        return None;
    };
    let mut current = object.get_mut(key)?;
    let mut prefix = vec![first.clone()];
    for segment in rest {
        current = match segment {
            Segment::Key(key) => current.as_object_mut()?.get_mut(key)?,
            Segment::Index(index) => {
                // Dropped siblings before this index shift it left.
                let shift = drop_paths
                    .iter()
                    .filter(|dropped| {
                        dropped.len() == prefix.len() + 1
                            && dropped.starts_with(&prefix)
                            && matches!(dropped.last(), Some(Segment::Index(i)) if i < index)
                    })
                    .count();
                current.as_array_mut()?.get_mut(index - shift)?
            }
        };
        prefix.push(segment.clone());
    }
    Some(current)
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "tests on literal inputs"
)]
mod tests {
    use super::*;
    use serde_json::json;

    const MD: &str = "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb";

    fn outgoing(value: Value, redacted: bool) -> Outgoing {
        let object = value.as_object().unwrap().clone();
        Outgoing {
            source_id: object["id"].as_str().unwrap().to_owned(),
            object,
            redacted,
        }
    }

    fn derivative(id: &str) -> String {
        format!("{}-derived", id)
    }

    fn carried() -> BTreeSet<String> {
        [MD.to_owned()].into()
    }

    #[test]
    fn drops_references_to_unreleased_objects_and_renumbers() {
        let report = outgoing(
            json!({"type": "report", "id": "report--1",
                   "object_refs": ["secret--1", "indicator--1", "secret--2", "indicator--2"],
                   "object_marking_refs": [MD],
                   "granular_markings": [{"marking_ref": MD, "selectors": ["object_refs.[3]"]}]}),
            false,
        );
        let a = outgoing(json!({"type": "indicator", "id": "indicator--1"}), false);
        let b = outgoing(json!({"type": "indicator", "id": "indicator--2"}), true);
        let closure = close(&[report, a, b], &carried(), &derivative);
        assert!(closure.withheld.is_empty());
        let report = &closure.released[0];
        assert!(report.changed);
        assert_eq!(report.id, "report--1-derived");
        assert_eq!(
            report.object["object_refs"],
            json!(["indicator--1", "indicator--2-derived"])
        );
        assert_eq!(
            report.object["granular_markings"][0]["selectors"],
            json!(["object_refs.[1]"])
        );
        assert_eq!(report.dropped_refs, vec!["secret--1", "secret--2"]);
        assert!(!closure.released[1].changed);
    }

    #[test]
    fn relationship_missing_an_end_is_withheld_and_cascades() {
        let rel = outgoing(
            json!({"type": "relationship", "id": "relationship--1",
                   "source_ref": "indicator--1", "target_ref": "malware--hidden"}),
            false,
        );
        let report = outgoing(
            json!({"type": "report", "id": "report--1", "object_refs": ["relationship--1"]}),
            false,
        );
        let ind = outgoing(json!({"type": "indicator", "id": "indicator--1"}), false);
        let closure = close(&[rel, report, ind], &carried(), &derivative);
        let withheld: Vec<&str> = closure.withheld.iter().map(|(id, _)| id.as_str()).collect();
        assert_eq!(withheld, vec!["relationship--1", "report--1"]);
        assert_eq!(closure.released.len(), 1);
    }

    #[test]
    fn missing_marking_definition_withholds() {
        let a = outgoing(
            json!({"type": "indicator", "id": "indicator--1",
                   "object_marking_refs": ["marking-definition--unknown"]}),
            false,
        );
        let closure = close(&[a], &carried(), &derivative);
        assert_eq!(
            closure.withheld,
            vec![(
                "indicator--1".to_owned(),
                ClosureWithheld::MarkingNotCarried {
                    marking: "marking-definition--unknown".to_owned()
                }
            )]
        );
    }

    #[test]
    fn change_propagates_through_reference_chains() {
        // c is redacted → b must point at c's derivative → b changes → a
        // must point at b's derivative.
        let a = outgoing(
            json!({"type": "x-a", "id": "x-a--1", "b_ref": "x-b--1"}),
            false,
        );
        let b = outgoing(
            json!({"type": "x-b", "id": "x-b--1", "c_ref": "x-c--1"}),
            false,
        );
        let c = outgoing(json!({"type": "x-c", "id": "x-c--1"}), true);
        let closure = close(&[a, b, c], &carried(), &derivative);
        assert_eq!(closure.released[0].object["b_ref"], json!("x-b--1-derived"));
        assert_eq!(closure.released[1].object["c_ref"], json!("x-c--1-derived"));
    }
}
