//! Arbitrary bytes through the streaming reader and the strict object
//! parser. Besides "no panic, no hang", it checks what the reader promises:
//! an object's text is its exact bytes in the input, and a parsed object
//! writes back to the same value.

#![no_main]

use std::convert::Infallible;

use libfuzzer_sys::fuzz_target;
use stix::Limits;
use stix::reader;

fuzz_target!(|data: &[u8]| {
    // Small limits so the fuzzer reaches them.
    let limits = Limits {
        max_object_bytes: 64 * 1024,
        max_string_bytes: 4 * 1024,
        max_json_depth: 32,
        ..Limits::default()
    };
    let gzip = data.starts_with(&[0x1f, 0x8b]);
    let mut from = 0;
    let _ = reader::read(data, &limits, |object| {
        if let Ok(text) = &object.text {
            if !gzip {
                let rest = data.get(from..).unwrap_or_default();
                let at = find(rest, text.as_bytes());
                assert!(at.is_some(), "object text is not a slice of the input");
                from += at.unwrap_or(0) + text.len();
            }
            check_parse(text, &limits);
        }
        Ok::<(), Infallible>(())
    });
    if let Ok(text) = std::str::from_utf8(data) {
        check_parse(text, &limits);
    }
});

fn check_parse(text: &str, limits: &Limits) {
    if let Ok(value) = reader::parse_object(text, limits) {
        let written = serde_json::to_string(&value).unwrap_or_default();
        let again = reader::parse_object(&written, limits);
        assert_eq!(again.as_ref(), Ok(&value), "write then parse changed the object");
        assert!(stix::canonical::to_canonical_bytes(&value).is_ok());
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return Some(0);
    }
    haystack.windows(needle.len()).position(|w| w == needle)
}
