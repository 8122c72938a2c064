//! Signed notes, keys and cosignatures, with the published known-answer vectors of
//! C2SP signed-note and Go's golang.org/x/mod/sumdb/note tests.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "test code")]

use ledger::{
    Checkpoint, Error, Note, SignatureType, SignerKey, VerifierKey, cosignature_message, key_id,
    leaf_hash, open_note, sign_note, verify_checkpoint,
};

// C2SP signed-note, "Verifier keys" example.
const SPEC_VKEY: &str = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k";
const SPEC_NOTE: &str = "This is an example message.\n\n\u{2014} example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n";

// golang.org/x/mod sumdb/note/note_test.go.
const PETER_SKEY: &str =
    "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
const PETER_VKEY: &str = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
const ENOCH_VKEY: &str = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop";
const GO_TEXT: &str = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n";
const PETER_SIG: &str = "\u{2014} PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";
const ENOCH_SIG: &str = "\u{2014} EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n";

fn vkey(text: &str) -> VerifierKey {
    VerifierKey::parse(text).unwrap()
}

#[test]
fn spec_vkey_and_note_verify() {
    let key = vkey(SPEC_VKEY);
    assert_eq!(key.name(), "example.com/foo");
    assert_eq!(key.key_id(), 0x530d903a);
    assert_eq!(key.signature_type(), SignatureType::Ed25519);
    assert_eq!(
        key.key_id(),
        key_id(
            "example.com/foo",
            SignatureType::Ed25519,
            key.public_key().as_bytes()
        )
    );
    assert_eq!(key.to_string(), SPEC_VKEY);
    let opened = open_note(SPEC_NOTE, &[key]).unwrap();
    assert_eq!(opened.text, "This is an example message.\n");
    assert_eq!(opened.verified.len(), 1);
}

#[test]
fn go_signer_reproduces_the_published_signature() {
    let signer = SignerKey::parse(PETER_SKEY).unwrap();
    assert_eq!(signer.to_secret_text(), PETER_SKEY);
    assert_eq!(signer.verifier().to_string(), PETER_VKEY);
    // Ed25519 is deterministic, so the note must match byte for byte.
    let note = sign_note(GO_TEXT, &[&signer]).unwrap();
    assert_eq!(note, format!("{GO_TEXT}\n{PETER_SIG}"));
    assert!(
        !format!("{signer:?}").contains("AYEK"),
        "Debug must not show the secret"
    );
}

#[test]
fn go_open_cases() {
    let peter = vkey(PETER_VKEY);
    let enoch = vkey(ENOCH_VKEY);
    let both = format!("{GO_TEXT}\n{PETER_SIG}{ENOCH_SIG}");

    let opened = open_note(&both, std::slice::from_ref(&peter)).unwrap();
    assert_eq!(opened.text, GO_TEXT);
    assert_eq!(opened.verified.len(), 1);
    assert_eq!(opened.verified[0].name, "PeterNeumann");
    assert_eq!(opened.unverified.len(), 1);
    assert_eq!(opened.unverified[0].key_id, 0xaf0cfe78);

    let opened = open_note(&both, &[peter.clone(), enoch.clone()]).unwrap();
    assert_eq!(opened.verified.len(), 2);
    assert!(opened.unverified.is_empty());

    assert!(matches!(
        open_note(&both, &[]),
        Err(Error::NoKnownSignature)
    ));

    // A known key whose signature fails rejects the whole note.
    let corrupted = format!("{GO_TEXT}\n{}ABCD{}", &PETER_SIG[..60], &PETER_SIG[60..]);
    assert!(matches!(
        open_note(&corrupted, std::slice::from_ref(&peter)),
        Err(Error::InvalidSignature { .. })
    ));

    // Duplicated signatures count once; a corrupted unknown one is ignored.
    let enoch_bad = format!("{}ABCD{}", &ENOCH_SIG[..60], &ENOCH_SIG[60..]);
    let dupes = format!("{GO_TEXT}\n{PETER_SIG}{PETER_SIG}{ENOCH_SIG}{ENOCH_SIG}{enoch_bad}");
    let opened = open_note(&dupes, std::slice::from_ref(&peter)).unwrap();
    assert_eq!(opened.verified.len(), 1);

    // Same name or same id but not both: ignored, not an error.
    let misnamed = PETER_SIG.replace("PeterNeumann", "CarmenSandiego");
    assert!(matches!(
        open_note(
            &format!("{GO_TEXT}\n{misnamed}"),
            std::slice::from_ref(&peter)
        ),
        Err(Error::NoKnownSignature)
    ));

    // Too many signatures.
    let many = format!("{GO_TEXT}\n{}", PETER_SIG.repeat(101));
    assert!(matches!(
        open_note(&many, std::slice::from_ref(&peter)),
        Err(Error::MalformedNote(_))
    ));

    // Malformed messages from the Go tests.
    for bad in [
        GO_TEXT.to_owned(),
        format!("{GO_TEXT}\n"),
        format!("{GO_TEXT}\n{}", &PETER_SIG[..PETER_SIG.len() - 1]),
        format!("\u{1}{GO_TEXT}\n{PETER_SIG}"),
        format!(
            "{GO_TEXT}\n\u{2014} Bad Name x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM="
        ),
        format!("{GO_TEXT}\n{PETER_SIG}Unexpected line.\n"),
        format!(
            "{GO_TEXT}\n- PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
        ),
        format!("{GO_TEXT}\n\u{2014} PeterNeumann x08g\n"),
    ] {
        assert!(
            matches!(
                open_note(&bad, std::slice::from_ref(&peter)),
                Err(Error::MalformedNote(_))
            ),
            "accepted {bad:?}"
        );
    }
}

#[test]
fn go_key_manglings_are_rejected() {
    // Every proper substring and every single-byte increment must fail, as in Go.
    for (text, parse) in [
        (
            PETER_VKEY,
            (|s: &str| VerifierKey::parse(s).is_ok()) as fn(&str) -> bool,
        ),
        (PETER_SKEY, |s: &str| SignerKey::parse(s).is_ok()),
    ] {
        assert!(parse(text));
        let bytes = text.as_bytes();
        for i in 0..=bytes.len() {
            for j in i + 1..=bytes.len() {
                if (i, j) != (0, bytes.len()) {
                    let sub = std::str::from_utf8(&bytes[i..j]).unwrap();
                    assert!(!parse(sub), "accepted substring {sub:?}");
                }
            }
        }
        for i in 0..bytes.len() {
            let mut changed = bytes.to_vec();
            changed[i] += 1;
            let changed = String::from_utf8(changed).unwrap();
            assert!(!parse(&changed), "accepted {changed:?}");
        }
    }
    // Wrong key length and unknown type, each with a recomputed id (Go's cases).
    assert!(
        VerifierKey::parse(
            "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY=="
        )
        .is_err()
    );
    assert!(
        VerifierKey::parse("PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW")
            .is_err()
    );
}

fn log_signer() -> SignerKey {
    SignerKey::from_seed("tearline.example/p/acme", SignatureType::Ed25519, [42; 32]).unwrap()
}

fn witness() -> SignerKey {
    SignerKey::from_seed("witness.example/w1", SignatureType::CosignatureV1, [7; 32]).unwrap()
}

fn signed_checkpoint() -> (String, String) {
    let cp = Checkpoint::new("tearline.example/p/acme", 3, leaf_hash(b"root")).unwrap();
    let body = cp.to_body();
    (body.clone(), sign_note(&body, &[&log_signer()]).unwrap())
}

#[test]
fn generated_keys_round_trip() {
    let mut rng = rand::rngs::OsRng;
    let key =
        SignerKey::generate("tearline.example/p/acme", SignatureType::Ed25519, &mut rng).unwrap();
    let again = SignerKey::parse(&key.to_secret_text()).unwrap();
    assert_eq!(again.verifier(), key.verifier());
    let v = VerifierKey::parse(&key.verifier().to_string()).unwrap();
    assert_eq!(v, key.verifier());
    let note = sign_note("hello\n", &[&key]).unwrap();
    open_note(&note, &[v]).unwrap();
    assert!(SignerKey::generate("bad name", SignatureType::Ed25519, &mut rng).is_err());
}

#[test]
fn cosignature_verifies_and_binds_time_and_body() {
    let (body, note) = signed_checkpoint();
    let w = witness();
    assert_eq!(w.verifier().signature_type(), SignatureType::CosignatureV1);
    // Type byte 0x04 makes the base64 part of the vkey start with 'B'.
    let vkey_text = w.verifier().to_string();
    assert!(vkey_text.starts_with("witness.example/w1+"));
    assert!(vkey_text.splitn(3, '+').nth(2).unwrap().starts_with('B'));
    assert_eq!(VerifierKey::parse(&vkey_text).unwrap(), w.verifier());

    // A partner verifies our checkpoint, then cosigns it and sends the line back.
    let verified = verify_checkpoint(&note, &log_signer().verifier(), &[]).unwrap();
    assert_eq!(verified.checkpoint.size(), 3);
    let cosig = w.cosign(&body, 1_700_000_000).unwrap();
    assert_eq!(cosig.signature.len(), 72);
    assert_eq!(&cosig.signature[..8], &1_700_000_000u64.to_be_bytes());
    let mut cosigned = Note::parse(&note).unwrap();
    cosigned.add_signature(cosig.clone()).unwrap();
    let cosigned = cosigned.to_text().unwrap();

    let verified = verify_checkpoint(&cosigned, &log_signer().verifier(), &[w.verifier()]).unwrap();
    assert_eq!(verified.signatures.len(), 2);
    assert_eq!(verified.signatures[0].name, "tearline.example/p/acme");
    assert_eq!(verified.signatures[1].timestamp, Some(1_700_000_000));
    // Without the witness key the cosignature is just ignored.
    assert_eq!(
        verify_checkpoint(&cosigned, &log_signer().verifier(), &[])
            .unwrap()
            .signatures
            .len(),
        1
    );

    // Changing the timestamp inside the signature breaks it.
    let mut forged = cosig.clone();
    forged.signature[7] ^= 1;
    let mut note2 = Note::parse(&note).unwrap();
    note2.add_signature(forged).unwrap();
    assert!(matches!(
        verify_checkpoint(
            &note2.to_text().unwrap(),
            &log_signer().verifier(),
            &[w.verifier()]
        ),
        Err(Error::InvalidSignature { .. })
    ));

    // The message format is the spec's.
    assert_eq!(
        cosignature_message("o\n1\nAA==\n", 5),
        "cosignature/v1\ntime 5\no\n1\nAA==\n"
    );
    // A cosigner key cannot make plain signatures and vice versa; same key, other type,
    // gives another key id.
    assert!(w.sign(&body).is_err());
    assert!(log_signer().cosign(&body, 1).is_err());
    assert!(w.cosign(&body, 1 << 63).is_err());
    let same_key_other_type =
        SignerKey::from_seed("witness.example/w1", SignatureType::Ed25519, [7; 32]).unwrap();
    assert_ne!(same_key_other_type.key_id(), w.key_id());
}

#[test]
fn checkpoint_must_carry_the_log_signature() {
    let (body, _) = signed_checkpoint();
    let w = witness();
    let mut only_witness = Note::new(&body).unwrap();
    only_witness
        .add_signature(w.cosign(&body, 1).unwrap())
        .unwrap();
    assert!(
        verify_checkpoint(
            &only_witness.to_text().unwrap(),
            &log_signer().verifier(),
            &[w.verifier()]
        )
        .is_err()
    );
    // A cosigner key is not accepted as the log key.
    assert!(verify_checkpoint(&only_witness.to_text().unwrap(), &w.verifier(), &[]).is_err());
}

#[test]
fn colliding_known_keys_are_ambiguous() {
    let (_, note) = signed_checkpoint();
    let real = log_signer().verifier();
    // Same name and id but a different public key can only come from misconfiguration.
    let other = SignerKey::from_seed("tearline.example/p/acme", SignatureType::Ed25519, [43; 32])
        .unwrap()
        .verifier();
    assert_ne!(other, real);
    // Ids differ, so both being known is fine.
    assert!(open_note(&note, &[real.clone(), other]).is_ok());
    // The same key twice is fine as well.
    assert!(open_note(&note, &[real.clone(), real]).is_ok());
}

#[test]
fn notes_with_blank_lines_in_text_split_at_the_last_one() {
    let signer = log_signer();
    let text = "first\n\nsecond\n";
    let note = sign_note(text, &[&signer]).unwrap();
    let opened = open_note(&note, &[signer.verifier()]).unwrap();
    assert_eq!(opened.text, text);
    assert!(sign_note("no newline", &[&signer]).is_err());
    assert!(sign_note("tab\there\n", &[&signer]).is_err());
}
