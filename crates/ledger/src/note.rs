//! C2SP signed notes (signed-note v1.0.0) with Ed25519 signatures, verifier and signer
//! key texts in the Go `sumdb/note` form, and C2SP tlog-cosignature v1 (Ed25519,
//! timestamped) cosignatures.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

use crate::Error;

/// Largest note this crate parses. A checkpoint with 100 Ed25519 signature lines is
/// about 12 KiB.
pub const MAX_NOTE_BYTES: usize = 64 * 1024;
/// Most signature lines accepted in one note (the spec asks for at least 16).
pub const MAX_SIGNATURES: usize = 100;
/// First line of the message an Ed25519 cosigner signs.
pub const COSIGNATURE_HEADER: &str = "cosignature/v1";

const SIGNATURE_LINE_PREFIX: &str = "\u{2014} ";
const SIGNER_KEY_PREFIX: &str = "PRIVATE+KEY+";
const ED25519_SIGNATURE_LEN: usize = 64;
const TIMESTAMP_LEN: usize = 8;

/// The signed-note signature types this crate implements.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SignatureType {
    /// `0x01`: Ed25519 over the note text; what a log signs its checkpoints with.
    Ed25519,
    /// `0x04`: timestamped Ed25519 cosignature (c2sp.org/tlog-cosignature).
    CosignatureV1,
}

impl SignatureType {
    pub fn byte(self) -> u8 {
        match self {
            SignatureType::Ed25519 => 0x01,
            SignatureType::CosignatureV1 => 0x04,
        }
    }

    pub fn from_byte(byte: u8) -> Option<Self> {
        match byte {
            0x01 => Some(SignatureType::Ed25519),
            0x04 => Some(SignatureType::CosignatureV1),
            _ => None,
        }
    }
}

/// Key ID: the first four bytes, big-endian, of
/// `SHA-256(name || 0x0A || type || public key)`.
pub fn key_id(name: &str, signature_type: SignatureType, public_key: &[u8; 32]) -> u32 {
    let mut hasher = Sha256::new();
    hasher.update(name.as_bytes());
    hasher.update([b'\n', signature_type.byte()]);
    hasher.update(public_key);
    let digest = hasher.finalize();
    let mut id = [0u8; 4];
    id.copy_from_slice(digest.get(..4).unwrap_or(&[0; 4]));
    u32::from_be_bytes(id)
}

/// The message an Ed25519 cosigner signs: header line, time line, then the note text.
pub fn cosignature_message(text: &str, timestamp: u64) -> String {
    format!("{COSIGNATURE_HEADER}\ntime {timestamp}\n{text}")
}

fn valid_key_name(name: &str) -> bool {
    !name.is_empty()
        && !name
            .chars()
            .any(|c| c.is_whitespace() || c == '+' || c.is_control())
}

/// Signed notes allow newline and no other character below U+0020.
fn has_forbidden_control(text: &str) -> bool {
    text.chars().any(|c| c < ' ' && c != '\n')
}

fn valid_note_text(text: &str) -> bool {
    text.ends_with('\n') && !has_forbidden_control(text)
}

/// One signature line: key name, key ID and the signature bytes after the ID.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NoteSignature {
    pub name: String,
    pub key_id: u32,
    pub signature: Vec<u8>,
}

impl NoteSignature {
    /// `— <name> <base64(key id || signature)>` followed by a newline.
    pub fn to_line(&self) -> String {
        let mut blob = Vec::with_capacity(4 + self.signature.len());
        blob.extend_from_slice(&self.key_id.to_be_bytes());
        blob.extend_from_slice(&self.signature);
        format!(
            "{SIGNATURE_LINE_PREFIX}{} {}\n",
            self.name,
            STANDARD.encode(blob)
        )
    }

    /// Parses one line without its newline.
    pub fn parse_line(line: &str) -> Result<Self, Error> {
        let rest = line
            .strip_prefix(SIGNATURE_LINE_PREFIX)
            .ok_or(Error::MalformedNote(
                "signature line does not start with an em dash and space",
            ))?;
        let (name, encoded) = rest
            .split_once(' ')
            .ok_or(Error::MalformedNote("signature line has no signature"))?;
        if !valid_key_name(name) {
            return Err(Error::MalformedNote("invalid key name in signature line"));
        }
        let blob = STANDARD
            .decode(encoded)
            .map_err(|_| Error::MalformedNote("signature is not canonical base64"))?;
        if blob.len() < 5 {
            return Err(Error::MalformedNote("signature too short"));
        }
        let (id, signature) = blob.split_at(4);
        let mut id_bytes = [0u8; 4];
        id_bytes.copy_from_slice(id);
        Ok(Self {
            name: name.to_owned(),
            key_id: u32::from_be_bytes(id_bytes),
            signature: signature.to_vec(),
        })
    }
}

/// A signed note, parsed but not verified: see [`open_note`] for verification.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Note {
    text: String,
    signatures: Vec<NoteSignature>,
}

impl Note {
    /// Parses the syntax of a signed note: text ending in a newline, a blank line, then
    /// one or more signature lines. Rejects control characters, oversized notes and
    /// more than [`MAX_SIGNATURES`] signatures.
    pub fn parse(message: &str) -> Result<Self, Error> {
        if message.len() > MAX_NOTE_BYTES {
            return Err(Error::MalformedNote("note too large"));
        }
        if has_forbidden_control(message) {
            return Err(Error::MalformedNote("control character"));
        }
        // The text ends at the last blank line; signature lines never contain one.
        let split = message
            .rfind("\n\n")
            .ok_or(Error::MalformedNote("no blank line before the signatures"))?;
        let (text, rest) = message.split_at(split + 1);
        let block = rest.get(1..).unwrap_or("");
        let block = block
            .strip_suffix('\n')
            .ok_or(Error::MalformedNote("signatures must end with a newline"))?;
        if block.is_empty() {
            return Err(Error::MalformedNote("no signature lines"));
        }
        let mut signatures = Vec::new();
        for line in block.split('\n') {
            if signatures.len() == MAX_SIGNATURES {
                return Err(Error::MalformedNote("too many signatures"));
            }
            signatures.push(NoteSignature::parse_line(line)?);
        }
        Ok(Self {
            text: text.to_owned(),
            signatures,
        })
    }

    /// A note with text and no signatures yet; the text must end in a newline.
    pub fn new(text: &str) -> Result<Self, Error> {
        if !valid_note_text(text) || text.len() > MAX_NOTE_BYTES {
            return Err(Error::MalformedNote(
                "text must end with a newline and contain no control characters",
            ));
        }
        Ok(Self {
            text: text.to_owned(),
            signatures: Vec::new(),
        })
    }

    /// The signed text, including its final newline.
    pub fn text(&self) -> &str {
        &self.text
    }

    pub fn signatures(&self) -> &[NoteSignature] {
        &self.signatures
    }

    /// Adds a signature, replacing any earlier one with the same name and key ID (so
    /// re-signing or a fresh cosignature does not pile up lines).
    pub fn add_signature(&mut self, signature: NoteSignature) -> Result<(), Error> {
        if !valid_key_name(&signature.name) || signature.signature.is_empty() {
            return Err(Error::MalformedNote("invalid signature"));
        }
        self.signatures
            .retain(|s| !(s.name == signature.name && s.key_id == signature.key_id));
        if self.signatures.len() == MAX_SIGNATURES {
            return Err(Error::MalformedNote("too many signatures"));
        }
        self.signatures.push(signature);
        Ok(())
    }

    /// The note in its wire form. A note without signatures is not a valid signed note,
    /// so this is an error until one is added.
    pub fn to_text(&self) -> Result<String, Error> {
        if self.signatures.is_empty() {
            return Err(Error::MalformedNote("no signature lines"));
        }
        let mut out = self.text.clone();
        out.push('\n');
        for signature in &self.signatures {
            out.push_str(&signature.to_line());
        }
        Ok(out)
    }
}

/// Signs `text` with each signer (all must be plain Ed25519 signers) and returns the
/// signed note.
pub fn sign_note(text: &str, signers: &[&SignerKey]) -> Result<String, Error> {
    let mut note = Note::new(text)?;
    for signer in signers {
        note.add_signature(signer.sign(text)?)?;
    }
    note.to_text()
}

/// A verifier key: name, type and Ed25519 public key. Its text form is
/// `<name>+<8 hex digits of key ID>+<base64(type byte || public key)>`.
#[derive(Clone, PartialEq, Eq)]
pub struct VerifierKey {
    name: String,
    signature_type: SignatureType,
    key_id: u32,
    key: VerifyingKey,
}

impl VerifierKey {
    pub fn new(
        name: &str,
        signature_type: SignatureType,
        key: VerifyingKey,
    ) -> Result<Self, Error> {
        if !valid_key_name(name) {
            return Err(Error::MalformedKey("invalid key name"));
        }
        Ok(Self {
            name: name.to_owned(),
            signature_type,
            key_id: key_id(name, signature_type, key.as_bytes()),
            key,
        })
    }

    /// Parses the text form strictly; the stated key ID must match the derived one.
    pub fn parse(text: &str) -> Result<Self, Error> {
        let text = text.trim_end_matches('\n');
        let (name, rest) = text
            .split_once('+')
            .ok_or(Error::MalformedKey("missing '+'"))?;
        let (id_hex, encoded) = rest
            .split_once('+')
            .ok_or(Error::MalformedKey("missing '+'"))?;
        let stated_id = parse_key_id(id_hex)?;
        let (signature_type, key_bytes) = decode_typed_key(encoded)?;
        let key = VerifyingKey::from_bytes(&key_bytes)
            .map_err(|_| Error::MalformedKey("not an Ed25519 public key"))?;
        let parsed = Self::new(name, signature_type, key)?;
        if parsed.key_id != stated_id {
            return Err(Error::MalformedKey("key ID does not match name and key"));
        }
        Ok(parsed)
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn key_id(&self) -> u32 {
        self.key_id
    }

    pub fn signature_type(&self) -> SignatureType {
        self.signature_type
    }

    pub fn public_key(&self) -> &VerifyingKey {
        &self.key
    }

    /// Checks one signature over `text`; returns the cosignature timestamp if any.
    fn verify(&self, text: &str, signature: &[u8]) -> Result<Option<u64>, Error> {
        let invalid = || Error::InvalidSignature {
            name: self.name.clone(),
            key_id: self.key_id,
        };
        match self.signature_type {
            SignatureType::Ed25519 => {
                let bytes: [u8; ED25519_SIGNATURE_LEN] =
                    signature.try_into().map_err(|_| invalid())?;
                self.key
                    .verify_strict(text.as_bytes(), &Signature::from_bytes(&bytes))
                    .map_err(|_| invalid())?;
                Ok(None)
            }
            SignatureType::CosignatureV1 => {
                if signature.len() != TIMESTAMP_LEN + ED25519_SIGNATURE_LEN {
                    return Err(invalid());
                }
                let (time, sig) = signature.split_at(TIMESTAMP_LEN);
                let mut time_bytes = [0u8; TIMESTAMP_LEN];
                time_bytes.copy_from_slice(time);
                let timestamp = u64::from_be_bytes(time_bytes);
                if timestamp > i64::MAX as u64 {
                    return Err(invalid());
                }
                let bytes: [u8; ED25519_SIGNATURE_LEN] = sig.try_into().map_err(|_| invalid())?;
                let message = cosignature_message(text, timestamp);
                self.key
                    .verify_strict(message.as_bytes(), &Signature::from_bytes(&bytes))
                    .map_err(|_| invalid())?;
                Ok(Some(timestamp))
            }
        }
    }
}

impl fmt::Display for VerifierKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut typed = Vec::with_capacity(33);
        typed.push(self.signature_type.byte());
        typed.extend_from_slice(self.key.as_bytes());
        write!(
            f,
            "{}+{:08x}+{}",
            self.name,
            self.key_id,
            STANDARD.encode(typed)
        )
    }
}

impl fmt::Debug for VerifierKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "VerifierKey({self})")
    }
}

fn parse_key_id(hex_text: &str) -> Result<u32, Error> {
    if hex_text.len() != 8
        || !hex_text
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    {
        return Err(Error::MalformedKey("key ID must be 8 lowercase hex digits"));
    }
    u32::from_str_radix(hex_text, 16).map_err(|_| Error::MalformedKey("bad key ID"))
}

fn decode_typed_key(encoded: &str) -> Result<(SignatureType, [u8; 32]), Error> {
    let bytes = STANDARD
        .decode(encoded)
        .map_err(|_| Error::MalformedKey("key is not canonical base64"))?;
    let (type_byte, key) = bytes
        .split_first()
        .ok_or(Error::MalformedKey("empty key"))?;
    let signature_type = SignatureType::from_byte(*type_byte)
        .ok_or(Error::MalformedKey("unsupported signature type"))?;
    let key: [u8; 32] = key
        .try_into()
        .map_err(|_| Error::MalformedKey("Ed25519 key must be 32 bytes"))?;
    Ok((signature_type, key))
}

/// A signing key with its name and type. Text form (secret!):
/// `PRIVATE+KEY+<name>+<key ID hex>+<base64(type byte || 32-byte Ed25519 seed)>`.
#[derive(Clone)]
pub struct SignerKey {
    name: String,
    signature_type: SignatureType,
    key_id: u32,
    key: SigningKey,
}

impl SignerKey {
    pub fn from_seed(
        name: &str,
        signature_type: SignatureType,
        seed: [u8; 32],
    ) -> Result<Self, Error> {
        if !valid_key_name(name) {
            return Err(Error::MalformedKey("invalid key name"));
        }
        let key = SigningKey::from_bytes(&seed);
        Ok(Self {
            name: name.to_owned(),
            signature_type,
            key_id: key_id(name, signature_type, key.verifying_key().as_bytes()),
            key,
        })
    }

    /// A fresh key from a cryptographic RNG.
    pub fn generate<R: rand::CryptoRng + rand::RngCore>(
        name: &str,
        signature_type: SignatureType,
        rng: &mut R,
    ) -> Result<Self, Error> {
        let key = SigningKey::generate(rng);
        Self::from_seed(name, signature_type, key.to_bytes())
    }

    /// Parses the secret text form; the key ID must match the derived one.
    pub fn parse(text: &str) -> Result<Self, Error> {
        let text = text.trim_end_matches('\n');
        let rest = text
            .strip_prefix(SIGNER_KEY_PREFIX)
            .ok_or(Error::MalformedKey(
                "signer key must start with PRIVATE+KEY+",
            ))?;
        let (name, rest) = rest
            .split_once('+')
            .ok_or(Error::MalformedKey("missing '+'"))?;
        let (id_hex, encoded) = rest
            .split_once('+')
            .ok_or(Error::MalformedKey("missing '+'"))?;
        let stated_id = parse_key_id(id_hex)?;
        let (signature_type, seed) = decode_typed_key(encoded)?;
        let parsed = Self::from_seed(name, signature_type, seed)?;
        if parsed.key_id != stated_id {
            return Err(Error::MalformedKey("key ID does not match name and key"));
        }
        Ok(parsed)
    }

    /// The secret text form. Deliberately not `Display`, so it is never logged by
    /// accident.
    pub fn to_secret_text(&self) -> String {
        let mut typed = Vec::with_capacity(33);
        typed.push(self.signature_type.byte());
        typed.extend_from_slice(&self.key.to_bytes());
        format!(
            "{SIGNER_KEY_PREFIX}{}+{:08x}+{}",
            self.name,
            self.key_id,
            STANDARD.encode(typed)
        )
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn key_id(&self) -> u32 {
        self.key_id
    }

    pub fn signature_type(&self) -> SignatureType {
        self.signature_type
    }

    /// The matching verifier key.
    pub fn verifier(&self) -> VerifierKey {
        VerifierKey {
            name: self.name.clone(),
            signature_type: self.signature_type,
            key_id: self.key_id,
            key: self.key.verifying_key(),
        }
    }

    fn wrong_type(&self) -> Error {
        Error::WrongKeyType {
            name: self.name.clone(),
            key_id: self.key_id,
        }
    }

    /// An Ed25519 (type 0x01) signature over note text.
    pub fn sign(&self, text: &str) -> Result<NoteSignature, Error> {
        if self.signature_type != SignatureType::Ed25519 {
            return Err(self.wrong_type());
        }
        if !valid_note_text(text) {
            return Err(Error::MalformedNote(
                "text must end with a newline, no control characters",
            ));
        }
        Ok(NoteSignature {
            name: self.name.clone(),
            key_id: self.key_id,
            signature: self.key.sign(text.as_bytes()).to_bytes().to_vec(),
        })
    }

    /// A timestamped cosignature (type 0x04) over a checkpoint body, as a witness or
    /// partner makes it: `timestamp` is POSIX seconds, at most 2^63 - 1.
    pub fn cosign(&self, checkpoint_body: &str, timestamp: u64) -> Result<NoteSignature, Error> {
        if self.signature_type != SignatureType::CosignatureV1 {
            return Err(self.wrong_type());
        }
        if !valid_note_text(checkpoint_body) {
            return Err(Error::MalformedNote(
                "text must end with a newline, no control characters",
            ));
        }
        if timestamp > i64::MAX as u64 {
            return Err(Error::MalformedNote("cosignature timestamp above 2^63 - 1"));
        }
        let message = cosignature_message(checkpoint_body, timestamp);
        let mut signature = Vec::with_capacity(TIMESTAMP_LEN + ED25519_SIGNATURE_LEN);
        signature.extend_from_slice(&timestamp.to_be_bytes());
        signature.extend_from_slice(&self.key.sign(message.as_bytes()).to_bytes());
        Ok(NoteSignature {
            name: self.name.clone(),
            key_id: self.key_id,
            signature,
        })
    }
}

impl fmt::Debug for SignerKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "SignerKey({}+{:08x}, secret redacted)",
            self.name, self.key_id
        )
    }
}

/// A signature that verified against a known key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedSignature {
    pub name: String,
    pub key_id: u32,
    pub signature_type: SignatureType,
    /// Present for cosignatures: when the cosigner signed.
    pub timestamp: Option<u64>,
}

/// A note whose signatures were checked against a set of known keys.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpenedNote {
    pub text: String,
    /// Valid signatures by known keys, at most one per key.
    pub verified: Vec<VerifiedSignature>,
    /// Signatures by keys not in the known set; ignored, as the spec requires.
    pub unverified: Vec<NoteSignature>,
}

/// Parses and verifies a signed note. Signatures from unknown (name, key ID) pairs are
/// ignored; a signature from a known key that fails rejects the whole note; at least
/// one known key must have signed.
pub fn open_note(message: &str, known: &[VerifierKey]) -> Result<OpenedNote, Error> {
    let note = Note::parse(message)?;
    let mut verified: Vec<VerifiedSignature> = Vec::new();
    let mut unverified = Vec::new();
    for signature in note.signatures {
        let mut matching = known
            .iter()
            .filter(|k| k.name == signature.name && k.key_id == signature.key_id);
        let Some(key) = matching.next() else {
            unverified.push(signature);
            continue;
        };
        if matching.any(|other| other != key) {
            return Err(Error::AmbiguousKey {
                name: signature.name,
                key_id: signature.key_id,
            });
        }
        let timestamp = key.verify(&note.text, &signature.signature)?;
        if !verified
            .iter()
            .any(|v| v.name == signature.name && v.key_id == signature.key_id)
        {
            verified.push(VerifiedSignature {
                name: signature.name,
                key_id: signature.key_id,
                signature_type: key.signature_type,
                timestamp,
            });
        }
    }
    if verified.is_empty() {
        return Err(Error::NoKnownSignature);
    }
    Ok(OpenedNote {
        text: note.text,
        verified,
        unverified,
    })
}
