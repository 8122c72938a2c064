//! STIX patterning language.
