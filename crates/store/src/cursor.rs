//! The keyset cursor behind TAXII `next`.
//!
//! `date_added` is unique within a collection, so the position "after the
//! version added at t" is the whole state: the cursor is stateless, costs
//! nothing to keep, and resuming is one index seek whatever the collection's
//! size. It carries no rights: a forged or replayed cursor only moves the
//! starting point of a query that is re-evaluated in full, filters and
//! grants included.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::Micros;

const FORMAT_VERSION: u8 = 1;
const ENCODED_LEN: usize = 12;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Cursor {
    /// The `date_added` of the last version already returned.
    pub after: Micros,
}

impl Cursor {
    pub fn new(after: Micros) -> Self {
        Cursor { after }
    }

    /// Opaque text for the `next` property: base64url of a format byte and
    /// the big-endian position.
    pub fn encode(self) -> String {
        let mut bytes = [0u8; 9];
        bytes[0] = FORMAT_VERSION;
        bytes[1..].copy_from_slice(&self.after.to_be_bytes());
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// `None` for anything that [`Cursor::encode`] did not produce.
    pub fn decode(text: &str) -> Option<Self> {
        if text.len() != ENCODED_LEN {
            return None;
        }
        let bytes = URL_SAFE_NO_PAD.decode(text).ok()?;
        let (format, position) = bytes.split_first()?;
        if *format != FORMAT_VERSION {
            return None;
        }
        let position: [u8; 8] = position.try_into().ok()?;
        let after = i64::from_be_bytes(position);
        if after < 0 {
            return None;
        }
        // Canonical form only, so one position has exactly one spelling.
        let cursor = Cursor { after };
        (cursor.encode() == text).then_some(cursor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        for after in [0, 1, 1_700_000_000_123_456, i64::MAX] {
            let cursor = Cursor::new(after);
            assert_eq!(Cursor::decode(&cursor.encode()), Some(cursor));
        }
    }

    #[test]
    fn rejects_garbage() {
        for text in [
            "",
            "bogus",
            "AAAAAAAAAAAA",
            "////////////",
            "AQAAAAAAAAAAAA",
            "AYAAAAAAAAAA",
        ] {
            assert_eq!(Cursor::decode(text), None, "{text}");
        }
    }
}
