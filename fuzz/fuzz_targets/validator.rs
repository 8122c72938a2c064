//! Arbitrary bytes → strict parse → the validator. Any JSON object reaches
//! the validator; it must never panic or hang, whatever the object holds.

#![no_main]

use libfuzzer_sys::fuzz_target;
use stix::Limits;
use stix::reader::parse_object;
use stix::validate::{Options, Validator};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let limits = Limits::default();
    if let Ok(value) = parse_object(text, &limits) {
        let validator = Validator::new(Options::default());
        let findings = validator.validate(&value);
        for finding in &findings {
            assert!(finding.path.starts_with('$'), "path must be a JSON path");
        }
    }
});
