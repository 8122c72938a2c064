//! The release policy: a Cedar policy set, versioned, validated against
//! tearline's shipped schema, and evaluated fail-closed.
//!
//! Cedar answers yes or no. tearline asks it three questions per object and
//! partner (see `policy/tearline.cedarschema`): may the object go, may
//! content under each of its markings go, and may it go without a second
//! person's approval. Any evaluation error counts as "no", and every answer
//! carries the `@id`s of the policies that decided it.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::fmt;
use std::str::FromStr;

use cedar_policy::{
    Authorizer, Context, Decision, Entities, Entity, EntityId, EntityTypeName, EntityUid,
    PolicySet, Request, RestrictedExpression, Schema, ValidationMode, Validator,
};
use serde::Serialize;
use sha2::{Digest, Sha256};

/// The schema every policy set is validated against.
pub const SCHEMA: &str = include_str!("../policy/tearline.cedarschema");
/// The policy set a new data directory starts with.
pub const DEFAULT_POLICY: &str = include_str!("../policy/default.cedar");

#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("the shipped policy schema does not parse: {0}")]
    Schema(String),
    #[error("the policy set does not parse: {0}")]
    Parse(String),
    #[error("the policy set does not validate against tearline's schema:\n{0}")]
    Invalid(String),
    #[error(
        "policy {policy} has no @id annotation; every policy needs one so decisions can be explained"
    )]
    MissingId { policy: String },
    #[error("two policies share the @id \"{0}\"")]
    DuplicateId(String),
    #[error("could not build the request entities: {0}")]
    Entities(String),
}

/// A party as the policy sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartyFacts {
    /// The party's unique name (its entity id).
    pub name: String,
    pub country: String,
    pub groups: BTreeSet<String>,
    /// Names of designations in force at the time of the decision.
    pub designations: BTreeSet<String>,
}

/// What an administrator said about a marking.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Disposition {
    #[default]
    None,
    Withhold,
    /// Releasable to these parties and groups (by name) only.
    ReleaseTo {
        parties: BTreeSet<String>,
        groups: BTreeSet<String>,
    },
}

/// What kind of marking-definition a marking reference points to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum MarkingKind {
    Tlp(TlpLevel),
    Statement,
    Custom,
    /// Referenced, but tearline holds no definition for it.
    Unknown,
}

/// TLP levels, ordered from least to most restrictive. TLP 1.0 WHITE is
/// read as CLEAR; TLP 1.0 AMBER as AMBER (the more restrictive reading of
/// the two TLP 2.0 ambers would be AMBER+STRICT only if the source said so).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TlpLevel {
    Clear,
    Green,
    Amber,
    #[serde(rename = "amber+strict")]
    AmberStrict,
    Red,
}

impl TlpLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            TlpLevel::Clear => "clear",
            TlpLevel::Green => "green",
            TlpLevel::Amber => "amber",
            TlpLevel::AmberStrict => "amber+strict",
            TlpLevel::Red => "red",
        }
    }
}

/// A marking as the policy sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MarkingFacts {
    pub id: String,
    pub kind: MarkingKind,
    pub disposition: Disposition,
}

/// An object as the policy sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectFacts {
    pub id: String,
    pub stix_type: String,
    /// Most restrictive TLP level among all markings the object carries
    /// (object and granular).
    pub tlp: Option<TlpLevel>,
    /// No object markings at all.
    pub unmarked: bool,
}

/// One yes/no answer and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Answer {
    pub allowed: bool,
    /// `@id`s of the policies that decided (for a "no" without any, the
    /// answer is Cedar's default deny: no policy permitted it).
    pub policies: Vec<String>,
    /// Evaluation errors; any error makes the answer "no".
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<String>,
}

/// A loaded, validated policy set.
pub struct Policy {
    schema: Schema,
    policies: PolicySet,
    /// Cedar's policy id → the policy's `@id`.
    names: HashMap<String, String>,
    version: String,
    text: String,
    authorizer: Authorizer,
    /// For each action, only the policies whose scope can match it: Cedar
    /// evaluates every policy it is given, and most of a decision's cost
    /// is evaluating policies about the other questions.
    by_action: HashMap<EntityUid, PolicySet>,
}

impl fmt::Debug for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Policy")
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

impl Policy {
    /// Parses and validates `text` against the shipped schema (strict mode).
    pub fn load(text: &str) -> Result<Policy, PolicyError> {
        let (schema, _warnings) =
            Schema::from_cedarschema_str(SCHEMA).map_err(|e| PolicyError::Schema(e.to_string()))?;
        let policies = PolicySet::from_str(text).map_err(|e| PolicyError::Parse(e.to_string()))?;
        let validation = Validator::new(schema.clone()).validate(&policies, ValidationMode::Strict);
        if !validation.validation_passed() {
            let messages: Vec<String> = validation
                .validation_errors()
                .map(|e| format!("- {e}"))
                .collect();
            return Err(PolicyError::Invalid(messages.join("\n")));
        }
        let mut names = HashMap::new();
        let mut seen = HashSet::new();
        for policy in policies.policies() {
            let Some(name) = policy.annotation("id") else {
                return Err(PolicyError::MissingId {
                    policy: policy.to_string().lines().next().unwrap_or("").to_owned(),
                });
            };
            if !seen.insert(name.to_owned()) {
                return Err(PolicyError::DuplicateId(name.to_owned()));
            }
            names.insert(policy.id().to_string(), name.to_owned());
        }
        let by_action = ["releaseObject", "releaseMarking", "releaseWithoutApproval"]
            .into_iter()
            .map(|name| {
                let uid = action(name)?;
                let mut subset = PolicySet::new();
                for policy in policies.policies() {
                    let applies = match policy.action_constraint() {
                        cedar_policy::ActionConstraint::Eq(only) => only == uid,
                        // `in` may name action groups: keep such a policy
                        // everywhere (its scope is still checked by Cedar).
                        cedar_policy::ActionConstraint::In(_)
                        | cedar_policy::ActionConstraint::Any => true,
                    };
                    if applies {
                        subset
                            .add(policy.clone())
                            .map_err(|e| PolicyError::Parse(e.to_string()))?;
                    }
                }
                Ok((uid, subset))
            })
            .collect::<Result<HashMap<_, _>, PolicyError>>()?;
        Ok(Policy {
            schema,
            policies,
            names,
            version: version_hash(text),
            text: text.to_owned(),
            authorizer: Authorizer::new(),
            by_action,
        })
    }

    /// The shipped default policy.
    pub fn default_policy() -> Result<Policy, PolicyError> {
        Policy::load(DEFAULT_POLICY)
    }

    /// `sha256:` + hex of SHA-256 over schema and policy text: names the
    /// version a decision was made under.
    pub fn version(&self) -> &str {
        &self.version
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    /// Builds the entities that stay the same across one release (the
    /// partner, its groups, the markings involved).
    pub fn session(
        &self,
        party: &PartyFacts,
        markings: &[MarkingFacts],
    ) -> Result<Session<'_>, PolicyError> {
        let party_uid = uid("Party", &party.name)?;
        let mut entities = Vec::new();
        let group_uids = party
            .groups
            .iter()
            .map(|g| uid("Group", g))
            .collect::<Result<HashSet<_>, _>>()?;
        for group in &group_uids {
            entities.push(Entity::new_no_attrs(group.clone(), HashSet::new()));
        }
        let attrs = HashMap::from([
            (
                "name".to_owned(),
                RestrictedExpression::new_string(party.name.clone()),
            ),
            (
                "country".to_owned(),
                RestrictedExpression::new_string(party.country.clone()),
            ),
            (
                "designations".to_owned(),
                RestrictedExpression::new_set(
                    party
                        .designations
                        .iter()
                        .map(|d| RestrictedExpression::new_string(d.clone())),
                ),
            ),
            (
                "designated".to_owned(),
                RestrictedExpression::new_bool(!party.designations.is_empty()),
            ),
        ]);
        entities.push(
            Entity::new(party_uid.clone(), attrs, group_uids)
                .map_err(|e| PolicyError::Entities(e.to_string()))?,
        );
        let mut marking_uids = HashMap::new();
        for marking in markings {
            let marking_uid = uid("Marking", &marking.id)?;
            let (kind, tlp) = match marking.kind {
                MarkingKind::Tlp(level) => ("tlp", level.as_str()),
                MarkingKind::Statement => ("statement", ""),
                MarkingKind::Custom => ("custom", ""),
                MarkingKind::Unknown => ("unknown", ""),
            };
            let (disposition, parties, groups) = match &marking.disposition {
                Disposition::None => ("none", Vec::new(), Vec::new()),
                Disposition::Withhold => ("withhold", Vec::new(), Vec::new()),
                Disposition::ReleaseTo { parties, groups } => (
                    "release-to",
                    parties
                        .iter()
                        .map(|p| uid("Party", p))
                        .collect::<Result<Vec<_>, _>>()?,
                    groups
                        .iter()
                        .map(|g| uid("Group", g))
                        .collect::<Result<Vec<_>, _>>()?,
                ),
            };
            let attrs = HashMap::from([
                (
                    "kind".to_owned(),
                    RestrictedExpression::new_string(kind.to_owned()),
                ),
                (
                    "tlp".to_owned(),
                    RestrictedExpression::new_string(tlp.to_owned()),
                ),
                (
                    "disposition".to_owned(),
                    RestrictedExpression::new_string(disposition.to_owned()),
                ),
                (
                    "releaseToParties".to_owned(),
                    RestrictedExpression::new_set(
                        parties
                            .into_iter()
                            .map(RestrictedExpression::new_entity_uid),
                    ),
                ),
                (
                    "releaseToGroups".to_owned(),
                    RestrictedExpression::new_set(
                        groups.into_iter().map(RestrictedExpression::new_entity_uid),
                    ),
                ),
            ]);
            entities.push(
                Entity::new(marking_uid.clone(), attrs, HashSet::new())
                    .map_err(|e| PolicyError::Entities(e.to_string()))?,
            );
            marking_uids.insert(marking.id.clone(), marking_uid);
        }
        // Built and checked against the schema once per session; each
        // question only adds its object to a copy.
        let base = Entities::from_entities(entities, Some(&self.schema))
            .map_err(|e| PolicyError::Entities(e.to_string()))?;
        Ok(Session {
            policy: self,
            party: party_uid,
            base,
            markings: marking_uids,
            release_object: action("releaseObject")?,
            release_marking: action("releaseMarking")?,
            without_approval: action("releaseWithoutApproval")?,
            object_type: EntityTypeName::from_str("Tearline::StixObject")
                .map_err(|e| PolicyError::Entities(e.to_string()))?,
        })
    }

    fn ask(&self, request: Result<Request, String>, entities: Result<&Entities, String>) -> Answer {
        let (request, entities) = match (request, entities) {
            (Ok(request), Ok(entities)) => (request, entities),
            (Err(e), _) | (_, Err(e)) => {
                return Answer {
                    allowed: false,
                    policies: Vec::new(),
                    errors: vec![e],
                };
            }
        };
        let policies = request
            .action()
            .and_then(|action| self.by_action.get(action))
            .unwrap_or(&self.policies);
        let response = self.authorizer.is_authorized(&request, policies, entities);
        let errors: Vec<String> = response
            .diagnostics()
            .errors()
            .map(|e| e.to_string())
            .collect();
        let mut policies: Vec<String> = response
            .diagnostics()
            .reason()
            .map(|id| {
                self.names
                    .get(&id.to_string())
                    .cloned()
                    .unwrap_or_else(|| id.to_string())
            })
            .collect();
        policies.sort();
        Answer {
            // Fail closed: a policy that errored was skipped by Cedar; if it
            // was a forbid, the "allow" is not to be trusted.
            allowed: response.decision() == Decision::Allow && errors.is_empty(),
            policies,
            errors,
        }
    }
}

/// The entities of one (partner, set of markings) pair, reused for every
/// object of a release so that each question only builds the object.
pub struct Session<'p> {
    policy: &'p Policy,
    party: EntityUid,
    /// The partner, its groups and the markings, with the schema's actions.
    base: Entities,
    markings: HashMap<String, EntityUid>,
    release_object: EntityUid,
    release_marking: EntityUid,
    without_approval: EntityUid,
    /// `Tearline::StixObject`, parsed once: parsing a type name runs
    /// Cedar's parser, a large share of one decision's cost.
    object_type: EntityTypeName,
}

impl fmt::Debug for Session<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("party", &self.party)
            .finish_non_exhaustive()
    }
}

impl Session<'_> {
    /// May content under `marking_id` go to the partner? A marking not
    /// given to [`Policy::session`] is answered "no".
    pub fn marking(&self, marking_id: &str) -> Answer {
        let Some(resource) = self.markings.get(marking_id) else {
            return Answer {
                allowed: false,
                policies: Vec::new(),
                errors: vec![format!(
                    "marking {marking_id} was not described to the policy"
                )],
            };
        };
        self.policy.ask(
            self.request(&self.release_marking, resource.clone()),
            Ok(&self.base),
        )
    }

    /// May the object go at all, and may it go without approval?
    pub fn object(&self, object: &ObjectFacts) -> (Answer, Answer) {
        let built = self.object_entities(object);
        let (resource, entities) = match built {
            Ok(built) => built,
            Err(e) => {
                let no = Answer {
                    allowed: false,
                    policies: Vec::new(),
                    errors: vec![e],
                };
                return (no.clone(), no);
            }
        };
        let may_go = self.policy.ask(
            self.request(&self.release_object, resource.clone()),
            Ok(&entities),
        );
        let without_approval = self.policy.ask(
            self.request(&self.without_approval, resource),
            Ok(&entities),
        );
        (may_go, without_approval)
    }

    fn object_entities(&self, object: &ObjectFacts) -> Result<(EntityUid, Entities), String> {
        let resource = EntityUid::from_type_name_and_id(
            self.object_type.clone(),
            EntityId::new(object.id.as_str()),
        );
        let attrs = HashMap::from([
            (
                "stixType".to_owned(),
                RestrictedExpression::new_string(object.stix_type.clone()),
            ),
            (
                "tlp".to_owned(),
                RestrictedExpression::new_string(
                    object.tlp.map(TlpLevel::as_str).unwrap_or("").to_owned(),
                ),
            ),
            (
                "unmarked".to_owned(),
                RestrictedExpression::new_bool(object.unmarked),
            ),
        ]);
        let entity =
            Entity::new(resource.clone(), attrs, HashSet::new()).map_err(|e| e.to_string())?;
        // Not checked against the schema per object: the entity's shape is
        // fixed by this function (tests cover it), and a mismatch would make
        // Cedar report an error, which `ask` answers with a deny anyway.
        let entities = self
            .base
            .clone()
            .add_entities(std::iter::once(entity), None)
            .map_err(|e| e.to_string())?;
        Ok((resource, entities))
    }

    fn request(&self, action: &EntityUid, resource: EntityUid) -> Result<Request, String> {
        Request::new(
            self.party.clone(),
            action.clone(),
            resource,
            Context::empty(),
            Some(&self.policy.schema),
        )
        .map_err(|e| e.to_string())
    }
}

fn uid(type_name: &str, id: &str) -> Result<EntityUid, PolicyError> {
    let type_name = EntityTypeName::from_str(&format!("Tearline::{type_name}"))
        .map_err(|e| PolicyError::Entities(e.to_string()))?;
    Ok(EntityUid::from_type_name_and_id(
        type_name,
        EntityId::new(id),
    ))
}

fn action(name: &str) -> Result<EntityUid, PolicyError> {
    let type_name = EntityTypeName::from_str("Tearline::Action")
        .map_err(|e| PolicyError::Entities(e.to_string()))?;
    Ok(EntityUid::from_type_name_and_id(
        type_name,
        EntityId::new(name),
    ))
}

fn version_hash(policy_text: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(SCHEMA.as_bytes());
    hasher.update([0u8]);
    hasher.update(policy_text.as_bytes());
    format!("sha256:{}", hex::encode(hasher.finalize()))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "tests on the shipped policy")]
mod tests {
    use super::*;

    fn partner(designated: bool) -> PartyFacts {
        PartyFacts {
            name: "city-council".to_owned(),
            country: "XX".to_owned(),
            groups: ["neighbours".to_owned()].into(),
            designations: if designated {
                ["national-terrorist-list".to_owned()].into()
            } else {
                BTreeSet::new()
            },
        }
    }

    fn tlp(id: &str, level: TlpLevel) -> MarkingFacts {
        MarkingFacts {
            id: id.to_owned(),
            kind: MarkingKind::Tlp(level),
            disposition: Disposition::None,
        }
    }

    fn markings() -> Vec<MarkingFacts> {
        vec![
            tlp("green", TlpLevel::Green),
            tlp("amber", TlpLevel::Amber),
            tlp("strict", TlpLevel::AmberStrict),
            tlp("red", TlpLevel::Red),
            MarkingFacts {
                id: "sources".to_owned(),
                kind: MarkingKind::Custom,
                disposition: Disposition::Withhold,
            },
            MarkingFacts {
                id: "rel-neighbours".to_owned(),
                kind: MarkingKind::Custom,
                disposition: Disposition::ReleaseTo {
                    parties: BTreeSet::new(),
                    groups: ["neighbours".to_owned()].into(),
                },
            },
            MarkingFacts {
                id: "rel-other".to_owned(),
                kind: MarkingKind::Custom,
                disposition: Disposition::ReleaseTo {
                    parties: ["someone-else".to_owned()].into(),
                    groups: BTreeSet::new(),
                },
            },
            MarkingFacts {
                id: "home-custom".to_owned(),
                kind: MarkingKind::Custom,
                disposition: Disposition::None,
            },
            MarkingFacts {
                id: "mystery".to_owned(),
                kind: MarkingKind::Unknown,
                disposition: Disposition::ReleaseTo {
                    parties: ["city-council".to_owned()].into(),
                    groups: BTreeSet::new(),
                },
            },
        ]
    }

    #[test]
    fn default_policy_marking_answers() {
        let policy = Policy::default_policy().unwrap();
        let session = policy.session(&partner(false), &markings()).unwrap();
        let allowed = |id: &str| session.marking(id).allowed;
        assert!(allowed("green"));
        assert!(allowed("amber"));
        assert!(!allowed("strict"));
        assert!(!allowed("red"));
        assert!(!allowed("sources"));
        assert!(allowed("rel-neighbours"));
        assert!(!allowed("rel-other"));
        assert!(
            !allowed("home-custom"),
            "custom markings are not released by default"
        );
        assert!(
            !allowed("mystery"),
            "unknown markings never leave, whatever else is said"
        );
        assert!(!allowed("never-described"));
        assert_eq!(
            session.marking("red").policies,
            vec!["tlp-red-never-leaves".to_owned()]
        );
    }

    #[test]
    fn approval_rules() {
        let policy = Policy::default_policy().unwrap();
        let object = |tlp, unmarked| ObjectFacts {
            id: "indicator--1".to_owned(),
            stix_type: "indicator".to_owned(),
            tlp,
            unmarked,
        };
        let plain = policy.session(&partner(false), &markings()).unwrap();
        let (go, free) = plain.object(&object(Some(TlpLevel::Green), false));
        assert!(go.allowed && free.allowed);
        let (_, free) = plain.object(&object(Some(TlpLevel::Amber), false));
        assert!(!free.allowed);
        assert_eq!(free.policies, vec!["tlp-amber-needs-approval".to_owned()]);
        let (_, free) = plain.object(&object(None, true));
        assert_eq!(free.policies, vec!["unmarked-needs-approval".to_owned()]);

        let designated = policy.session(&partner(true), &markings()).unwrap();
        let (go, free) = designated.object(&object(Some(TlpLevel::Green), false));
        assert!(go.allowed);
        assert_eq!(
            free.policies,
            vec!["designated-partner-needs-approval".to_owned()]
        );
    }

    #[test]
    fn load_rejects_what_the_schema_does_not_know() {
        let bad = r#"@id("typo") permit (principal is Tearline::Party, action == Tearline::Action::"releaseMarking", resource is Tearline::Marking) when { resource.colour == "green" };"#;
        assert!(matches!(Policy::load(bad), Err(PolicyError::Invalid(_))));
        let unnamed = r#"permit (principal is Tearline::Party, action == Tearline::Action::"releaseMarking", resource is Tearline::Marking);"#;
        assert!(matches!(
            Policy::load(unnamed),
            Err(PolicyError::MissingId { .. })
        ));
        assert!(matches!(
            Policy::load("permit ("),
            Err(PolicyError::Parse(_))
        ));
    }

    #[test]
    fn version_changes_with_text() {
        let a = Policy::default_policy().unwrap();
        let b = Policy::load(&format!("{DEFAULT_POLICY}\n// a comment\n")).unwrap();
        assert_ne!(a.version(), b.version());
        assert!(a.version().starts_with("sha256:"));
    }
}
