//! Canonical JSON (RFC 8785, the JSON Canonicalization Scheme) and the
//! SHA-256 of an object over it: the bytes the release ledger hashes.
//!
//! Two objects that are equal as JSON values (key order, whitespace, number
//! spelling such as `1.0` and `1`, string escapes) give the same bytes.

use serde_json::Value;
use sha2::{Digest, Sha256};

/// Canonicalisation failed. With a `serde_json::Value` this cannot happen
/// today (a `Value` holds no NaN or infinity), but the serializer's API is
/// fallible and a ledger must not panic.
#[derive(Debug, thiserror::Error)]
#[error("cannot write canonical JSON (RFC 8785): {0}")]
pub struct CanonicalError(#[source] serde_json::Error);

/// The RFC 8785 bytes of `value`: keys sorted by UTF-16 code units, no
/// whitespace, numbers in the shortest ECMAScript form, minimal escapes.
pub fn to_canonical_bytes(value: &Value) -> Result<Vec<u8>, CanonicalError> {
    serde_json_canonicalizer::to_vec(value).map_err(CanonicalError)
}

/// [`to_canonical_bytes`] as a `String` (the bytes are always UTF-8).
pub fn to_canonical_string(value: &Value) -> Result<String, CanonicalError> {
    serde_json_canonicalizer::to_string(value).map_err(CanonicalError)
}

/// Lowercase hex SHA-256 of the canonical bytes of `value`.
pub fn sha256_hex(value: &Value) -> Result<String, CanonicalError> {
    Ok(hex::encode(sha256(value)?))
}

/// SHA-256 of the canonical bytes of `value`.
pub fn sha256(value: &Value) -> Result<[u8; 32], CanonicalError> {
    let bytes = to_canonical_bytes(value)?;
    Ok(Sha256::digest(&bytes).into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn canonical(text: &str) -> String {
        let value: Value = serde_json::from_str(text).unwrap_or(Value::Null);
        to_canonical_string(&value).unwrap_or_default()
    }

    #[test]
    fn rfc8785_section_3_2_2_example() {
        // The example of RFC 8785 §3.2.2 (input with numbers, literals,
        // string escapes) and its canonical form from §3.2.3.
        let input = r#"{
          "numbers": [333333333.33333329, 1E30, 4.50,
                      2e-3, 0.000000000000000000000000001],
          "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
          "literals": [null, true, false]
        }"#;
        let expected = r#"{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\u000f\nA'B\"\\\\\"/"}"#;
        assert_eq!(canonical(input), expected);
    }

    #[test]
    fn rfc8785_section_3_2_3_sorting_by_utf16_code_units() {
        // RFC 8785 §3.2.3: keys sorted by UTF-16 code units, so U+1F600
        // (surrogates D83D DE00) sorts before U+FB33 though it is larger as
        // a code point.
        let input = r#"{
          "\u20ac": "Euro Sign",
          "\r": "Carriage Return",
          "\ufb33": "Hebrew Letter Dalet With Dagesh",
          "1": "One",
          "\ud83d\ude00": "Emoji: Grinning Face",
          "\u0080": "Control",
          "\u00f6": "Latin Small Letter O With Diaeresis"
        }"#;
        let value: Value = serde_json::from_str(input).unwrap_or(Value::Null);
        let keys: Vec<String> = match serde_json::from_str::<Value>(&canonical(input)) {
            Ok(Value::Object(map)) => {
                // Read the order back from the text, not from the map.
                let text = to_canonical_string(&value).unwrap_or_default();
                let mut found: Vec<(usize, String)> = map
                    .keys()
                    .map(|k| {
                        let quoted = serde_json::to_string(k).unwrap_or_default();
                        (
                            text.find(&format!("{quoted}:")).unwrap_or(usize::MAX),
                            k.clone(),
                        )
                    })
                    .collect();
                found.sort();
                found.into_iter().map(|(_, k)| k).collect()
            }
            _ => Vec::new(),
        };
        let expected: Vec<String> = [
            "\r",
            "1",
            "\u{80}",
            "\u{f6}",
            "\u{20ac}",
            "\u{1f600}",
            "\u{fb33}",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(keys, expected);
    }

    #[test]
    fn rfc8785_appendix_b_numbers() {
        // A selection of RFC 8785 Appendix B: IEEE 754 values and their
        // ECMAScript serialisation.
        let cases: [(f64, &str); 10] = [
            (0.0, "0"),
            (-0.0, "0"),
            (5e-324, "5e-324"),
            (1.7976931348623157e308, "1.7976931348623157e+308"),
            (9007199254740992.0, "9007199254740992"),
            (295147905179352830000.0, "295147905179352830000"),
            (1e21, "1e+21"),
            (999999999999999900000.0, "999999999999999900000"),
            (0.000001, "0.000001"),
            (1e-7, "1e-7"),
        ];
        for (number, expected) in cases {
            let got = to_canonical_string(&json!(number)).unwrap_or_default();
            assert_eq!(got, expected, "{number:e}");
        }
    }

    #[test]
    fn equal_values_hash_equal_whatever_the_spelling() {
        let a: Value = serde_json::from_str(r#"{"b": 1.0, "a": "\u0041"}"#).unwrap_or_default();
        let b: Value = serde_json::from_str(r#"{"a":"A","b":1}"#).unwrap_or_default();
        assert_eq!(sha256_hex(&a).ok(), sha256_hex(&b).ok());
        let c = json!({"a": "A", "b": 2});
        assert_ne!(sha256_hex(&a).ok(), sha256_hex(&c).ok());
    }

    #[test]
    fn sha256_is_over_the_canonical_bytes() {
        let value = json!({"b": [1, 2], "a": null});
        assert_eq!(
            to_canonical_string(&value).ok().as_deref(),
            Some(r#"{"a":null,"b":[1,2]}"#)
        );
        // printf '{"a":null,"b":[1,2]}' | sha256sum
        let expected = hex::encode(Sha256::digest(br#"{"a":null,"b":[1,2]}"#));
        let got = sha256_hex(&value).unwrap_or_default();
        assert_eq!(got, expected);
        assert_eq!(got.len(), 64);
        assert!(
            got.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        );
    }
}
