//! The Traffic Light Protocol marking-definitions: TLP 1.0 as defined by
//! STIX 2.1 §7.2.1.4 (the only four TLP 1.0 instances that may exist) and
//! TLP 2.0 as published by OASIS as a property extension
//! (`extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d`).

/// One predefined TLP marking-definition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tlp {
    pub id: &'static str,
    pub name: &'static str,
    /// The colour as written in the definition (`tlp` or `tlp_2_0` value).
    pub level: &'static str,
    pub created: &'static str,
}

const TLP1_CREATED: &str = "2017-01-20T00:00:00.000Z";
const TLP2_CREATED: &str = "2022-10-01T00:00:00.000Z";

pub const TLP1_WHITE: Tlp = Tlp {
    id: "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9",
    name: "TLP:WHITE",
    level: "white",
    created: TLP1_CREATED,
};
pub const TLP1_GREEN: Tlp = Tlp {
    id: "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da",
    name: "TLP:GREEN",
    level: "green",
    created: TLP1_CREATED,
};
pub const TLP1_AMBER: Tlp = Tlp {
    id: "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82",
    name: "TLP:AMBER",
    level: "amber",
    created: TLP1_CREATED,
};
pub const TLP1_RED: Tlp = Tlp {
    id: "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed",
    name: "TLP:RED",
    level: "red",
    created: TLP1_CREATED,
};
pub const TLP1: [Tlp; 4] = [TLP1_WHITE, TLP1_GREEN, TLP1_AMBER, TLP1_RED];

/// The extension-definition that TLP 2.0 marking-definitions use.
pub const TLP2_EXTENSION_ID: &str = "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d";
/// The property inside that extension that holds the level.
pub const TLP2_PROPERTY: &str = "tlp_2_0";

pub const TLP2_CLEAR: Tlp = Tlp {
    id: "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487",
    name: "TLP:CLEAR",
    level: "clear",
    created: TLP2_CREATED,
};
pub const TLP2_GREEN: Tlp = Tlp {
    id: "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb",
    name: "TLP:GREEN",
    level: "green",
    created: TLP2_CREATED,
};
pub const TLP2_AMBER: Tlp = Tlp {
    id: "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421",
    name: "TLP:AMBER",
    level: "amber",
    created: TLP2_CREATED,
};
pub const TLP2_AMBER_STRICT: Tlp = Tlp {
    id: "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003",
    name: "TLP:AMBER+STRICT",
    level: "amber+strict",
    created: TLP2_CREATED,
};
pub const TLP2_RED: Tlp = Tlp {
    id: "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1",
    name: "TLP:RED",
    level: "red",
    created: TLP2_CREATED,
};
pub const TLP2: [Tlp; 5] = [
    TLP2_CLEAR,
    TLP2_GREEN,
    TLP2_AMBER,
    TLP2_AMBER_STRICT,
    TLP2_RED,
];

/// The TLP 1.0 marking with this id.
pub fn tlp1_by_id(id: &str) -> Option<&'static Tlp> {
    TLP1.iter().find(|tlp| tlp.id == id)
}

/// The TLP 2.0 marking with this id.
pub fn tlp2_by_id(id: &str) -> Option<&'static Tlp> {
    TLP2.iter().find(|tlp| tlp.id == id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookups() {
        assert_eq!(tlp1_by_id(TLP1_AMBER.id).map(|t| t.level), Some("amber"));
        assert_eq!(
            tlp2_by_id(TLP2_AMBER_STRICT.id).map(|t| t.name),
            Some("TLP:AMBER+STRICT")
        );
        assert!(tlp1_by_id(TLP2_RED.id).is_none());
        for tlp in TLP1.iter().chain(TLP2.iter()) {
            assert!(crate::validate::test_support::is_identifier(tlp.id));
        }
    }
}
