//! Removing content from a STIX object by selector paths, the allow-list way.
//!
//! Both redaction (content under a marking the recipient may not receive)
//! and reference closure (references to objects the recipient does not
//! receive) remove parts of an object. Doing it in one place keeps the two
//! consistent: the result is built by copying everything that is *not*
//! removed into a fresh object, lists and dictionaries left empty by a removal
//! disappear (STIX forbids empty lists), and granular-marking selectors of the
//! surviving content are rewritten to the new list indexes.

use std::collections::BTreeMap;

use serde_json::{Map, Value};
use stix::selector::{Segment, Selector};

/// A trie of paths to remove. `removed` marks a whole subtree; children
/// mark removals further down. After [`Pruner::copy`] each node also knows
/// whether its content survived and, for lists, where each index went.
#[derive(Debug, Default)]
struct Node {
    removed: bool,
    children: BTreeMap<Segment, Node>,
    /// Set by `copy`: false when the content was dropped (removed, or left
    /// empty by removals below it).
    survived: bool,
    /// Set by `copy` on list nodes: old index → new index.
    index_map: Vec<Option<usize>>,
}

impl Node {
    fn insert(&mut self, path: &[Segment]) {
        let mut node = self;
        for segment in path {
            if node.removed {
                return;
            }
            node = node.children.entry(segment.clone()).or_default();
        }
        node.removed = true;
        node.children.clear();
    }
}

/// Removes a set of paths from one object and rewrites selectors afterwards.
#[derive(Debug)]
pub struct Pruner {
    root: Node,
}

impl Pruner {
    /// `paths` are selector paths into the object (the first segment a
    /// top-level property). Overlapping paths are fine.
    pub fn new<'a>(paths: impl IntoIterator<Item = &'a [Segment]>) -> Pruner {
        let mut root = Node::default();
        for path in paths {
            if !path.is_empty() {
                root.insert(path);
            }
        }
        Pruner { root }
    }

    /// True when nothing is to be removed.
    pub fn is_empty(&self) -> bool {
        self.root.children.is_empty()
    }

    /// Copies every top-level property that survives into a new object.
    pub fn copy(&mut self, object: &Map<String, Value>) -> Map<String, Value> {
        self.root.survived = true;
        copy_map(object, &mut self.root).unwrap_or_default()
    }

    /// Where the content selected by `selector` (in the original object)
    /// lives in the copy, or `None` when it was removed. Call after
    /// [`Pruner::copy`].
    pub fn rewrite(&self, selector: &Selector) -> Option<Selector> {
        let mut node = Some(&self.root);
        let mut segments = Vec::with_capacity(selector.segments().len());
        for segment in selector.segments() {
            let Some(current) = node else {
                // Below anything that was touched: unchanged.
                segments.push(segment.clone());
                continue;
            };
            let mapped = match segment {
                Segment::Index(index) if !current.index_map.is_empty() => {
                    Segment::Index(current.index_map.get(*index).copied().flatten()?)
                }
                other => other.clone(),
            };
            node = current.children.get(segment);
            if let Some(child) = node
                && !child.survived
            {
                return None;
            }
            segments.push(mapped);
        }
        Some(Selector::from_segments(segments))
    }
}

/// Rewrites the selectors of granular-marking entries (as found in the
/// original object) for the pruned copy: selectors of removed content are
/// dropped, list indexes renumbered, and entries left without selectors
/// dropped. Entries that are not well-formed are dropped too; callers check
/// well-formedness before pruning.
pub fn rewrite_granular_markings<'a>(
    pruner: &Pruner,
    entries: impl IntoIterator<Item = &'a Value>,
) -> Vec<Value> {
    let mut kept = Vec::new();
    for entry in entries {
        let Value::Object(entry) = entry else {
            continue;
        };
        let Some(Value::Array(raw)) = entry.get("selectors") else {
            continue;
        };
        let selectors: Vec<Value> = raw
            .iter()
            .filter_map(Value::as_str)
            .filter_map(|text| Selector::parse(text).ok())
            .filter_map(|selector| pruner.rewrite(&selector))
            .map(|selector| Value::String(selector.to_string()))
            .collect();
        if selectors.is_empty() {
            continue;
        }
        let mut rebuilt = entry.clone();
        rebuilt.insert("selectors".to_owned(), Value::Array(selectors));
        kept.push(Value::Object(rebuilt));
    }
    kept
}

/// Puts rewritten granular markings into `copy`, or removes the property
/// when none are left (STIX forbids an empty list).
pub fn set_granular_markings(copy: &mut Map<String, Value>, entries: Vec<Value>) {
    if entries.is_empty() {
        copy.remove("granular_markings");
    } else {
        copy.insert("granular_markings".to_owned(), Value::Array(entries));
    }
}

/// `None` when the map ends up empty although it had content.
fn copy_map(map: &Map<String, Value>, node: &mut Node) -> Option<Map<String, Value>> {
    let mut out = Map::new();
    for (key, value) in map {
        match node.children.get_mut(&Segment::Key(key.clone())) {
            None => {
                out.insert(key.clone(), value.clone());
            }
            Some(child) => {
                if let Some(kept) = copy_value(value, child) {
                    out.insert(key.clone(), kept);
                }
            }
        }
    }
    if out.is_empty() && !map.is_empty() {
        None
    } else {
        Some(out)
    }
}

fn copy_value(value: &Value, node: &mut Node) -> Option<Value> {
    if node.removed {
        node.survived = false;
        return None;
    }
    let kept = match value {
        Value::Object(map) => copy_map(map, node).map(Value::Object),
        Value::Array(items) => {
            let mut out = Vec::with_capacity(items.len());
            let mut index_map = Vec::with_capacity(items.len());
            for (index, item) in items.iter().enumerate() {
                let kept = match node.children.get_mut(&Segment::Index(index)) {
                    None => Some(item.clone()),
                    Some(child) => copy_value(item, child),
                };
                match kept {
                    Some(kept) => {
                        index_map.push(Some(out.len()));
                        out.push(kept);
                    }
                    None => index_map.push(None),
                }
            }
            node.index_map = index_map;
            if out.is_empty() && !items.is_empty() {
                None
            } else {
                Some(Value::Array(out))
            }
        }
        scalar => Some(scalar.clone()),
    };
    node.survived = kept.is_some();
    kept
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "tests on literal inputs")]
mod tests {
    use super::*;
    use serde_json::json;

    fn prune(object: Value, paths: &[&str], selectors: &[&str]) -> (Value, Vec<Option<String>>) {
        let map = object.as_object().unwrap().clone();
        let parsed: Vec<Selector> = paths.iter().map(|p| Selector::parse(p).unwrap()).collect();
        let mut pruner = Pruner::new(parsed.iter().map(|s| s.segments()));
        let copy = pruner.copy(&map);
        let rewritten = selectors
            .iter()
            .map(|s| {
                pruner
                    .rewrite(&Selector::parse(s).unwrap())
                    .map(|s| s.to_string())
            })
            .collect();
        (Value::Object(copy), rewritten)
    }

    #[test]
    fn removes_a_property_and_keeps_the_rest() {
        let (copy, _) = prune(json!({"a": 1, "b": 2}), &["b"], &[]);
        assert_eq!(copy, json!({"a": 1}));
    }

    #[test]
    fn renumbers_list_indexes_with_duplicate_values() {
        let (copy, sel) = prune(
            json!({"labels": ["x", "x", "y", "x"]}),
            &["labels.[1]"],
            &[
                "labels.[0]",
                "labels.[1]",
                "labels.[2]",
                "labels.[3]",
                "labels",
            ],
        );
        assert_eq!(copy, json!({"labels": ["x", "y", "x"]}));
        assert_eq!(
            sel,
            vec![
                Some("labels.[0]".into()),
                None,
                Some("labels.[1]".into()),
                Some("labels.[2]".into()),
                Some("labels".into())
            ]
        );
    }

    #[test]
    fn a_list_left_empty_disappears() {
        let (copy, sel) = prune(
            json!({"labels": ["x"], "name": "n"}),
            &["labels.[0]"],
            &["labels"],
        );
        assert_eq!(copy, json!({"name": "n"}));
        assert_eq!(sel, vec![None]);
    }

    #[test]
    fn nested_removal_inside_list_elements() {
        let (copy, sel) = prune(
            json!({"external_references": [
                {"source_name": "a", "url": "u"},
                {"source_name": "b"}
            ]}),
            &[
                "external_references.[0].url",
                "external_references.[1].source_name",
            ],
            &[
                "external_references.[0].source_name",
                "external_references.[1]",
            ],
        );
        assert_eq!(copy, json!({"external_references": [{"source_name": "a"}]}));
        assert_eq!(
            sel,
            vec![Some("external_references.[0].source_name".into()), None]
        );
    }

    #[test]
    fn falsy_values_are_content_too() {
        let (copy, _) = prune(
            json!({"revoked": false, "confidence": 0}),
            &["confidence"],
            &[],
        );
        assert_eq!(copy, json!({"revoked": false}));
    }
}
