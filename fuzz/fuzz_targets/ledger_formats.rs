//! Everything `tearline ledger verify` and the cosignature endpoint read
//! from strangers: signed notes, checkpoints, key texts and records. Parsing
//! never panics; a parsed note or checkpoint prints back to the same text;
//! a record that parses is canonical; and whole-log verification of
//! arbitrary records against a fixed signed checkpoint never panics.
#![no_main]

use ledger::{Checkpoint, Note, PublicRecord, SignatureType, SignerKey, VerifierKey};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(rest);
    match selector % 5 {
        0 => {
            if let Ok(note) = Note::parse(&text)
                && let Ok(printed) = note.to_text()
            {
                assert_eq!(printed, text, "a note prints back to its text");
            }
        }
        1 => {
            if let Ok(checkpoint) = Checkpoint::parse(&text) {
                assert_eq!(checkpoint.to_body(), text);
            }
        }
        2 => {
            let _ = VerifierKey::parse(&text);
            let _ = SignerKey::parse(&text);
        }
        3 => {
            if let Ok(record) = PublicRecord::from_leaf_bytes(rest) {
                assert_eq!(record.to_leaf_bytes().ok().as_deref(), Some(rest));
            }
        }
        _ => {
            let Ok(key) = SignerKey::from_seed("fuzz.example/log", SignatureType::Ed25519, [3; 32])
            else {
                return;
            };
            let records: Vec<&[u8]> = rest.split(|b| *b == b'\n').collect();
            let leaves: Vec<ledger::Hash> = records.iter().map(|r| ledger::leaf_hash(r)).collect();
            let root = ledger::root_of_leaf_hashes(&leaves);
            let size = u64::try_from(records.len()).unwrap_or(0);
            let Ok(checkpoint) = Checkpoint::new("fuzz.example/log/p", size, root) else {
                return;
            };
            let Ok(note) = ledger::sign_note(&checkpoint.to_body(), &[&key]) else {
                return;
            };
            let _ = ledger::verify_log(&records, &note, &key.verifier().to_string(), None);
        }
    }
});
