//! What a pattern contains, in the shape the reference inspector reports:
//! qualifiers, observation operators, and comparisons per object type.

use std::collections::{BTreeMap, BTreeSet};

use crate::ast::*;

/// A path component in an inspection: a key, a list index, or `*`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(untagged)]
pub enum InspectStep {
    Key(String),
    Index(i64),
}

#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Inspection {
    /// e.g. `WITHIN 5 SECONDS`, as written.
    pub qualifiers: BTreeSet<String>,
    /// `AND`, `OR`, `FOLLOWEDBY` between observation expressions.
    pub observation_ops: BTreeSet<String>,
    /// Object type → (path, operator such as `NOT =`, constant as written).
    pub comparisons: BTreeMap<String, Vec<(Vec<InspectStep>, String, String)>>,
}

impl Pattern {
    pub fn inspect(&self) -> Inspection {
        let mut out = Inspection::default();
        let mut stack = vec![&self.root];
        while let Some(node) = stack.pop() {
            match node {
                ObservationExpr::Bracket(_) => {}
                ObservationExpr::Group(inner) => stack.push(inner),
                ObservationExpr::Qualified { expr, qualifiers } => {
                    out.qualifiers
                        .extend(qualifiers.iter().map(ToString::to_string));
                    stack.push(expr);
                }
                ObservationExpr::And(v)
                | ObservationExpr::Or(v)
                | ObservationExpr::FollowedBy(v) => {
                    let op = match node {
                        ObservationExpr::And(_) => "AND",
                        ObservationExpr::Or(_) => "OR",
                        _ => "FOLLOWEDBY",
                    };
                    out.observation_ops.insert(op.to_string());
                    stack.extend(v.iter().rev());
                }
            }
        }
        self.for_each_comparison(|c| {
            if c.operator == Operator::Exists {
                return;
            }
            let path = c
                .path
                .steps
                .iter()
                .map(|s| match s {
                    PathStep::Key { name, .. } => InspectStep::Key(name.clone()),
                    PathStep::Index(n) => InspectStep::Index(
                        n.as_i128().and_then(|v| i64::try_from(v).ok()).unwrap_or(0),
                    ),
                    PathStep::AnyIndex => InspectStep::Key("*".to_string()),
                })
                .collect();
            let op = format!(
                "{}{}",
                if c.negated { "NOT " } else { "" },
                c.operator.as_str()
            );
            let value = match &c.operand {
                Operand::Literal(l) => l.to_string(),
                Operand::Set(items) => {
                    let parts: Vec<String> = items.iter().map(ToString::to_string).collect();
                    format!("({})", parts.join(","))
                }
                Operand::None => String::new(),
            };
            out.comparisons
                .entry(c.path.object_type.clone())
                .or_default()
                .push((path, op, value));
        });
        out
    }
}
