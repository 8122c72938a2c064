//! Pattern text: parsing and checking never panic, and whatever parses
//! prints back to text that parses to the same tree.
#![no_main]

use libfuzzer_sys::fuzz_target;
use stix_pattern::{PatternLimits, StixVersion};

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let version = if selector & 1 == 0 {
        StixVersion::V20
    } else {
        StixVersion::V21
    };
    let limits = PatternLimits::default();
    let _ = stix_pattern::validate(text, version, &limits);
    if let Ok(pattern) = stix_pattern::parse(text, version, &limits) {
        let printed = pattern.to_string();
        let again = stix_pattern::parse(&printed, version, &limits);
        assert_eq!(again.as_ref(), Ok(&pattern), "{printed}");
        let _ = pattern.inspect();
    }
});
