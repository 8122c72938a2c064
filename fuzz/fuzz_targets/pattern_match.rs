//! Matching: a pattern (first line) against observed data (the rest, JSON)
//! never panics and stays within its step budget.
#![no_main]

use libfuzzer_sys::fuzz_target;
use stix_pattern::matcher::MatchOptions;
use stix_pattern::{PatternLimits, StixVersion};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (pattern, json) = text.split_once('\n').unwrap_or((text, "[]"));
    for version in [StixVersion::V20, StixVersion::V21] {
        let Ok(pattern) = stix_pattern::parse(pattern, version, &PatternLimits::default()) else {
            continue;
        };
        let objects = match serde_json::from_str::<serde_json::Value>(json) {
            Ok(serde_json::Value::Array(items)) => items,
            Ok(one) => vec![one],
            Err(_) => Vec::new(),
        };
        let options = MatchOptions {
            max_bindings: 4,
            max_steps: 100_000,
        };
        let _ = stix_pattern::match_observations(&pattern, &objects, &options);
    }
});
