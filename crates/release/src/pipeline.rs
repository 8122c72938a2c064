//! The release pipeline as one pure function: the home party's objects, the
//! partner, the policy and what the partner already holds in; the exact
//! objects to write to the partner's outbound collection and the decision
//! for every object out.
//!
//! Order of work: classify every marking → ask the policy about each
//! marking and each object → redact → map TLP 1.0 to TLP 2.0 → close
//! references → give changed objects their derivative identity and version
//! → validate every result (invalid ones are withheld and the closure runs
//! again) → add the marking-definitions and the release identity they need.
//! No clock is read here: `now` comes in.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use serde_json::{Map, Value, json};
use stix::markings::{self, Tlp};
use stix::validate::Validator;

use crate::closure::{ClosureWithheld, Outgoing, close};
use crate::policy::{
    Answer, Disposition, MarkingFacts, MarkingKind, ObjectFacts, PartyFacts, Policy, PolicyError,
    TlpLevel,
};
use crate::redact::{Redaction, Removal, Withheld, redact};

/// One object of the home party, with its stored text.
#[derive(Debug, Clone, PartialEq)]
pub struct Source {
    pub value: Value,
    /// The exact stored text: an object released unchanged goes out byte
    /// for byte as the home party holds it.
    pub raw: String,
}

/// Everything a plan is computed from.
pub struct PlanInput<'a> {
    pub policy: &'a Policy,
    pub party: &'a PartyFacts,
    pub sources: &'a [Source],
    /// Marking-definition objects the home party holds, by id.
    pub held_markings: &'a BTreeMap<String, Value>,
    /// What administrators said about markings, by id.
    pub dispositions: &'a BTreeMap<String, Disposition>,
    /// The newest version the partner already holds of each id it may
    /// receive (derivative ids included).
    pub previous: &'a BTreeMap<String, Value>,
    /// The identity object derivatives are created by.
    pub release_identity: &'a Value,
    /// The partner-specific id of a changed object.
    pub derivative_id: &'a dyn Fn(&str) -> String,
    /// STIX timestamp for new versions.
    pub now: &'a str,
}

impl std::fmt::Debug for PlanInput<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PlanInput")
            .field("party", &self.party.name)
            .field("sources", &self.sources.len())
            .finish_non_exhaustive()
    }
}

/// An object to write to the outbound collection.
#[derive(Debug, Clone, PartialEq)]
pub struct Outbound {
    pub id: String,
    pub raw: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// Goes out as the home party holds it, same id.
    Unchanged,
    /// Goes out as a derivative with its own id.
    Derivative,
    Withheld,
}

/// Why an object does not go. Internal only.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "stage", rename_all = "kebab-case")]
pub enum WithholdReason {
    /// The policy said no to the object as a whole.
    Policy {
        policies: Vec<String>,
        errors: Vec<String>,
    },
    Redaction {
        detail: Withheld,
    },
    Closure {
        detail: ClosureWithheld,
    },
    /// The derivative would not be valid STIX.
    Invalid {
        findings: Vec<String>,
    },
    /// The partner's last version is not older than `now`.
    ClockBehind {
        last_modified: String,
    },
    /// Marking-definitions are carried with what they mark, never sent on
    /// their own.
    MarkingDefinition,
}

/// The decision about one source object.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ObjectDecision {
    pub source: String,
    pub outcome: Outcome,
    /// The id the partner sees (internal: the derivation map).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sent_as: Option<String>,
    /// The partner already holds this exact content; nothing new written.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub already_held: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub removed: Vec<Removal>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dropped_refs: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub withheld: Option<WithholdReason>,
    /// The answer to "may this go without a second person?".
    pub without_approval: Answer,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MarkingDecision {
    pub marking: String,
    pub kind: String,
    pub answer: Answer,
}

/// What a release would do.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// New object versions for the outbound collection, carried objects
    /// (release identity, marking-definitions) first.
    pub objects: Vec<Outbound>,
    pub decisions: Vec<ObjectDecision>,
    pub markings: Vec<MarkingDecision>,
    /// Some released object needs a second person's approval.
    pub needs_approval: bool,
    /// Nothing of what was asked for may go.
    pub nothing_released: bool,
}

/// The TLP level a marking id stands for, TLP 1.0 read as TLP 2.0.
pub fn tlp_level(marking_id: &str) -> Option<TlpLevel> {
    let level = |tlp: &Tlp| match tlp.level {
        "white" | "clear" => Some(TlpLevel::Clear),
        "green" => Some(TlpLevel::Green),
        "amber" => Some(TlpLevel::Amber),
        "amber+strict" => Some(TlpLevel::AmberStrict),
        "red" => Some(TlpLevel::Red),
        _ => None,
    };
    markings::tlp1_by_id(marking_id)
        .or_else(|| markings::tlp2_by_id(marking_id))
        .and_then(level)
}

/// The TLP 2.0 marking-definition for a level.
pub fn tlp2_for(level: TlpLevel) -> &'static Tlp {
    match level {
        TlpLevel::Clear => &markings::TLP2_CLEAR,
        TlpLevel::Green => &markings::TLP2_GREEN,
        TlpLevel::Amber => &markings::TLP2_AMBER,
        TlpLevel::AmberStrict => &markings::TLP2_AMBER_STRICT,
        TlpLevel::Red => &markings::TLP2_RED,
    }
}

/// The full TLP 2.0 marking-definition object, as OASIS publishes it.
pub fn tlp2_definition(tlp: &Tlp) -> Value {
    json!({
        "type": "marking-definition",
        "spec_version": "2.1",
        "id": tlp.id,
        "created": tlp.created,
        "name": tlp.name,
        "extensions": {
            markings::TLP2_EXTENSION_ID: {
                "extension_type": "property-extension",
                markings::TLP2_PROPERTY: tlp.level,
            }
        }
    })
}

/// What kind of marking `id` is, given the definitions the home party
/// holds. Anything referenced but not held is `Unknown`; a held look-alike
/// of a TLP definition is not trusted either.
pub fn classify(id: &str, held: &BTreeMap<String, Value>) -> MarkingKind {
    if let Some(level) = tlp_level(id) {
        return MarkingKind::Tlp(level);
    }
    let Some(definition) = held.get(id) else {
        return MarkingKind::Unknown;
    };
    let definition_type = definition.get("definition_type").and_then(Value::as_str);
    let tlp_extension = definition
        .get("extensions")
        .and_then(|e| e.get(markings::TLP2_EXTENSION_ID))
        .is_some();
    match definition_type {
        _ if tlp_extension => MarkingKind::Unknown,
        Some("tlp") => MarkingKind::Unknown,
        Some("statement") => MarkingKind::Statement,
        _ => MarkingKind::Custom,
    }
}

fn kind_name(kind: MarkingKind) -> String {
    match kind {
        MarkingKind::Tlp(level) => format!("tlp:{}", level.as_str()),
        MarkingKind::Statement => "statement".to_owned(),
        MarkingKind::Custom => "custom".to_owned(),
        MarkingKind::Unknown => "unknown".to_owned(),
    }
}

/// Every marking id an object refers to (object and granular).
pub fn marking_refs(object: &Value) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    if let Some(refs) = object.get("object_marking_refs").and_then(Value::as_array) {
        out.extend(refs.iter().filter_map(Value::as_str).map(str::to_owned));
    }
    if let Some(entries) = object.get("granular_markings").and_then(Value::as_array) {
        out.extend(
            entries
                .iter()
                .filter_map(|e| e.get("marking_ref").and_then(Value::as_str))
                .map(str::to_owned),
        );
    }
    out
}

fn object_facts(object: &Value) -> ObjectFacts {
    let tlp = marking_refs(object)
        .iter()
        .filter_map(|id| tlp_level(id))
        .max();
    let unmarked = object
        .get("object_marking_refs")
        .and_then(Value::as_array)
        .is_none_or(Vec::is_empty);
    ObjectFacts {
        id: object
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned(),
        stix_type: object
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned(),
        tlp,
        unmarked,
    }
}

/// Rewrites TLP 1.0 marking references to their TLP 2.0 ids; true when
/// anything changed.
fn to_tlp2(object: &mut Map<String, Value>) -> bool {
    let mut changed = false;
    let mut map = |value: &mut Value| {
        if let Some(tlp) = value.as_str().and_then(markings::tlp1_by_id)
            && let Some(level) = tlp_level(tlp.id)
        {
            *value = Value::String(tlp2_for(level).id.to_owned());
            changed = true;
        }
    };
    if let Some(Value::Array(refs)) = object.get_mut("object_marking_refs") {
        refs.iter_mut().for_each(&mut map);
        // TLP 1.0 and 2.0 of one colour on the same object become one ref.
        let mut seen = BTreeSet::new();
        refs.retain(|r| seen.insert(r.to_string()));
    }
    if let Some(Value::Array(entries)) = object.get_mut("granular_markings") {
        for entry in entries {
            if let Some(marking) = entry.get_mut("marking_ref") {
                map(marking);
            }
        }
    }
    changed
}

fn without_version(object: &Value) -> Value {
    let mut copy = object.clone();
    if let Value::Object(map) = &mut copy {
        map.remove("created");
        map.remove("modified");
    }
    copy
}

/// Computes what one release to one partner writes.
pub fn plan(input: &PlanInput<'_>) -> Result<Plan, PolicyError> {
    // Markings: classify, describe to the policy, ask once each.
    let mut marking_ids = BTreeSet::new();
    for source in input.sources {
        marking_ids.extend(marking_refs(&source.value));
    }
    let facts: Vec<MarkingFacts> = marking_ids
        .iter()
        .map(|id| MarkingFacts {
            id: id.clone(),
            kind: classify(id, input.held_markings),
            disposition: input.dispositions.get(id).cloned().unwrap_or_default(),
        })
        .collect();
    let session = input.policy.session(input.party, &facts)?;
    let identity_id = input
        .release_identity
        .get("id")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    let mut marking_decisions = Vec::with_capacity(facts.len());
    // Marking id as received → released?
    let mut allowed: BTreeMap<String, bool> = BTreeMap::new();
    for fact in &facts {
        let mut answer = session.marking(&fact.id);
        // A custom definition goes out as the home party holds it; if it
        // refers to anything (its creator, other markings) it cannot go
        // without revealing that, so its content stays home.
        if answer.allowed
            && matches!(fact.kind, MarkingKind::Custom | MarkingKind::Statement)
            && input
                .held_markings
                .get(&fact.id)
                .is_none_or(|d| !crate_refs_free(d))
        {
            answer.allowed = false;
            answer
                .errors
                .push("the marking-definition refers to objects that do not go".to_owned());
        }
        allowed.insert(fact.id.clone(), answer.allowed);
        marking_decisions.push(MarkingDecision {
            marking: fact.id.clone(),
            kind: kind_name(fact.kind),
            answer,
        });
    }
    let released = |marking: &str| allowed.get(marking).copied().unwrap_or(false);

    // Ids the partner receives besides the objects: released markings (TLP
    // as TLP 2.0) and the release identity.
    let mut carried: BTreeSet<String> = BTreeSet::new();
    for (id, ok) in &allowed {
        if *ok {
            carried.insert(match tlp_level(id) {
                Some(level) => tlp2_for(level).id.to_owned(),
                None => id.clone(),
            });
        }
    }
    carried.insert(identity_id.clone());

    let mut decisions: BTreeMap<String, ObjectDecision> = BTreeMap::new();
    let mut outgoing = Vec::new();
    let mut sources_by_id: BTreeMap<String, &Source> = BTreeMap::new();
    for source in input.sources {
        let facts = object_facts(&source.value);
        let (go, free) = session.object(&facts);
        let mut decision = ObjectDecision {
            source: facts.id.clone(),
            outcome: Outcome::Withheld,
            sent_as: None,
            already_held: false,
            removed: Vec::new(),
            dropped_refs: Vec::new(),
            withheld: None,
            without_approval: free,
        };
        if facts.stix_type == "marking-definition" {
            decision.withheld = Some(WithholdReason::MarkingDefinition);
        } else if !go.allowed {
            decision.withheld = Some(WithholdReason::Policy {
                policies: go.policies,
                errors: go.errors,
            });
        } else {
            match redact(&source.value, &released) {
                Redaction::Withhold(detail) => {
                    decision.withheld = Some(WithholdReason::Redaction { detail });
                }
                Redaction::Release(redacted) => {
                    let changed = !redacted.is_unchanged();
                    decision.removed = redacted.removed;
                    let mut object = redacted.object;
                    let mapped = to_tlp2(&mut object);
                    outgoing.push(Outgoing {
                        source_id: facts.id.clone(),
                        object,
                        redacted: changed || mapped,
                    });
                    sources_by_id.insert(facts.id.clone(), source);
                }
            }
        }
        decisions.insert(facts.id.clone(), decision);
    }

    let validator = Validator::default();
    let mut objects: Vec<(String, Value, Option<String>)>;
    // Closure, versioning and validation until nothing more is withheld;
    // each round withholds at least one more object or ends.
    loop {
        let closure = close(&outgoing, &carried, input.derivative_id);
        for (source_id, detail) in &closure.withheld {
            if let Some(decision) = decisions.get_mut(source_id) {
                decision.withheld = Some(WithholdReason::Closure {
                    detail: detail.clone(),
                });
            }
        }
        let mut invalid = Vec::new();
        objects = Vec::new();
        for closed in closure.released {
            let Some(decision) = decisions.get_mut(&closed.source_id) else {
                continue;
            };
            decision.dropped_refs = closed.dropped_refs.clone();
            decision.sent_as = Some(closed.id.clone());
            if !closed.changed {
                decision.outcome = Outcome::Unchanged;
                let raw = sources_by_id.get(&closed.source_id).map(|s| s.raw.clone());
                objects.push((closed.id, Value::Object(closed.object), raw));
                continue;
            }
            decision.outcome = Outcome::Derivative;
            let mut object = closed.object;
            let versioned = object.contains_key("created");
            if versioned {
                object.insert(
                    "created_by_ref".to_owned(),
                    Value::String(identity_id.clone()),
                );
            }
            let mut value = Value::Object(object);
            if let Some(previous) = input.previous.get(&closed.id) {
                if without_version(previous) == without_version(&value) {
                    decision.already_held = true;
                    continue;
                }
                let last = previous
                    .get("modified")
                    .and_then(Value::as_str)
                    .unwrap_or("");
                if versioned && stamp_order(last) >= stamp_order(input.now) {
                    invalid.push((
                        closed.source_id.clone(),
                        WithholdReason::ClockBehind {
                            last_modified: last.to_owned(),
                        },
                    ));
                    continue;
                }
                if let (Value::Object(map), Some(created)) = (&mut value, previous.get("created"))
                    && versioned
                {
                    map.insert("created".to_owned(), created.clone());
                }
            } else if let Value::Object(map) = &mut value
                && versioned
            {
                map.insert("created".to_owned(), Value::String(input.now.to_owned()));
            }
            if let Value::Object(map) = &mut value
                && versioned
            {
                map.insert("modified".to_owned(), Value::String(input.now.to_owned()));
            }
            let findings: Vec<String> = validator
                .validate(&value)
                .into_iter()
                .filter(|f| f.severity == stix::Severity::Error)
                .map(|f| format!("[{}] {}: {}", f.rule, f.path, f.message))
                .collect();
            if !findings.is_empty() {
                invalid.push((
                    closed.source_id.clone(),
                    WithholdReason::Invalid { findings },
                ));
                continue;
            }
            objects.push((closed.id, value, None));
        }
        if invalid.is_empty() {
            break;
        }
        for (source_id, reason) in invalid {
            outgoing.retain(|o| o.source_id != source_id);
            if let Some(decision) = decisions.get_mut(&source_id) {
                decision.outcome = Outcome::Withheld;
                decision.sent_as = None;
                decision.withheld = Some(reason);
            }
        }
    }
    // Objects the closure withheld in the final round.
    for decision in decisions.values_mut() {
        if decision.withheld.is_some() {
            decision.outcome = Outcome::Withheld;
            decision.sent_as = None;
            decision.already_held = false;
        }
    }

    // What the released objects need carried along.
    let mut needed: BTreeSet<String> = BTreeSet::new();
    let mut needs_identity = false;
    for (_, value, _) in &objects {
        needed.extend(marking_refs(value));
        needs_identity |=
            value.get("created_by_ref").and_then(Value::as_str) == Some(identity_id.as_str());
    }
    let mut carried_objects = Vec::new();
    if needs_identity {
        carried_objects.push(Outbound {
            id: identity_id.clone(),
            raw: input.release_identity.to_string(),
        });
    }
    for id in &needed {
        let definition = match markings::tlp2_by_id(id) {
            Some(tlp) => tlp2_definition(tlp),
            None => match input.held_markings.get(id) {
                Some(definition) => definition.clone(),
                None => continue,
            },
        };
        carried_objects.push(Outbound {
            id: id.clone(),
            raw: definition.to_string(),
        });
    }

    let needs_approval = decisions
        .values()
        .any(|d| d.outcome != Outcome::Withheld && !d.without_approval.allowed);
    let nothing_released = decisions.values().all(|d| d.outcome == Outcome::Withheld);
    let mut out = carried_objects;
    out.extend(objects.into_iter().map(|(id, value, raw)| Outbound {
        id,
        raw: raw.unwrap_or_else(|| value.to_string()),
    }));
    Ok(Plan {
        objects: out,
        decisions: decisions.into_values().collect(),
        markings: marking_decisions,
        needs_approval,
        nothing_released,
    })
}

/// True when a definition refers to nothing (it can travel alone).
fn crate_refs_free(definition: &Value) -> bool {
    let Value::Object(map) = definition else {
        return false;
    };
    !map.iter().any(|(key, value)| {
        (key.ends_with("_ref") || key.ends_with("_refs") || key == "granular_markings")
            && !value.is_null()
    })
}

/// A STIX timestamp reduced to a comparable form: digits only, fraction
/// padded to nine places.
fn stamp_order(stamp: &str) -> String {
    let trimmed = stamp.trim_end_matches('Z');
    let (seconds, fraction) = trimmed.split_once('.').unwrap_or((trimmed, ""));
    let mut fraction = fraction.to_owned();
    while fraction.len() < 9 {
        fraction.push('0');
    }
    format!("{seconds}.{fraction}")
}
