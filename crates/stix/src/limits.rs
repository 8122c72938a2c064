//! Every limit on untrusted input, in one place.
//!
//! The server advertises some of these (TAXII `max_content_length`) and
//! enforces them at the edge; the parsers enforce them again so that no
//! caller can forget.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Limits {
    /// Deepest JSON nesting accepted inside one object (arrays and objects
    /// both count, the object itself is level 1). Real STIX rarely goes
    /// past 10. Values above 127 act as 127: serde_json's recursion guard.
    pub max_json_depth: usize,
    /// Longest single JSON string, in bytes.
    pub max_string_bytes: usize,
    /// Largest single STIX object, in bytes of its JSON text. The reader
    /// keeps at most this much of one object in memory.
    pub max_object_bytes: usize,
    /// Most objects in one TAXII envelope (POST body).
    pub max_objects_per_envelope: usize,
    /// Largest HTTP request body, in bytes; advertised as TAXII
    /// `max_content_length`.
    pub max_content_length: usize,
    /// Longest STIX pattern, in bytes. A real corpus pattern is 57,118
    /// characters long and must pass.
    pub max_pattern_bytes: usize,
    /// Deepest nesting of parentheses and brackets in a STIX pattern.
    pub max_pattern_depth: usize,
    /// Largest page a TAXII client may ask for (`limit`).
    pub max_page_size: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_json_depth: 100,
            max_string_bytes: 8 * 1024 * 1024,
            max_object_bytes: 16 * 1024 * 1024,
            max_objects_per_envelope: 10_000,
            max_content_length: 64 * 1024 * 1024,
            max_pattern_bytes: 1024 * 1024,
            max_pattern_depth: 256,
            max_page_size: 10_000,
        }
    }
}
