//! The STIX 2.1 validator (being built out; the API below is the contract
//! other crates code against).

use std::collections::BTreeSet;

use serde_json::Value;

use crate::Finding;

/// What to check and how strictly.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Rule ids (or reference-validator check names) switched off.
    pub disabled: BTreeSet<String>,
}

/// Validates single STIX objects. Cheap to share between threads.
#[derive(Debug, Clone, Default)]
pub struct Validator {
    options: Options,
}

impl Validator {
    pub fn new(options: Options) -> Self {
        Validator { options }
    }

    pub fn options(&self) -> &Options {
        &self.options
    }

    /// Every finding for one object, errors and warnings, in a stable order.
    /// An object is valid when no finding has `Severity::Error`.
    pub fn validate(&self, object: &Value) -> Vec<Finding> {
        let mut findings = Vec::new();
        let Some(map) = object.as_object() else {
            findings.push(Finding::error(
                "not-an-object",
                "$",
                "a STIX object must be a JSON object",
            ));
            return findings;
        };
        for required in ["type", "id"] {
            if !map.contains_key(required) {
                findings.push(Finding::error(
                    "required-property",
                    format!("$.{required}"),
                    format!("the required property '{required}' is missing"),
                ));
            }
        }
        findings
    }
}
