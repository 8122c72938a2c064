//! C2SP tlog-checkpoint note bodies: origin line, decimal tree size, base64 root hash,
//! optional extension lines, each ending in a newline.

use crate::{Error, Hash};

/// A checkpoint body. Construct with [`Checkpoint::new`] or [`Checkpoint::parse`]; both
/// enforce the format, so a value always formats to a valid body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    origin: String,
    size: u64,
    root: Hash,
    extensions: Vec<String>,
}

fn valid_line(line: &str) -> bool {
    !line.is_empty() && !line.chars().any(char::is_control)
}

impl Checkpoint {
    /// A checkpoint for our own log. The origin must be usable as a signed-note key
    /// name too (no spaces, no `+`), because the log signs with the origin as its name.
    pub fn new(origin: &str, size: u64, root: Hash) -> Result<Self, Error> {
        if !valid_line(origin) || origin.chars().any(|c| c.is_whitespace() || c == '+') {
            return Err(Error::MalformedCheckpoint(
                "origin must be non-empty, without spaces, '+' or control characters",
            ));
        }
        Ok(Self {
            origin: origin.to_owned(),
            size,
            root,
            extensions: Vec::new(),
        })
    }

    /// Adds extension lines (not recommended by the spec; kept for completeness).
    pub fn with_extensions(mut self, extensions: Vec<String>) -> Result<Self, Error> {
        if !extensions.iter().all(|line| valid_line(line)) {
            return Err(Error::MalformedCheckpoint(
                "extension lines must be non-empty without control characters",
            ));
        }
        self.extensions = extensions;
        Ok(self)
    }

    /// Parses a note body strictly: every line newline-terminated, size in canonical
    /// decimal, root in canonical base64 of 32 bytes, no empty lines.
    pub fn parse(body: &str) -> Result<Self, Error> {
        let Some(without_last_newline) = body.strip_suffix('\n') else {
            return Err(Error::MalformedCheckpoint("body must end with a newline"));
        };
        let mut lines = without_last_newline.split('\n');
        let (Some(origin), Some(size_line), Some(root_line)) =
            (lines.next(), lines.next(), lines.next())
        else {
            return Err(Error::MalformedCheckpoint("fewer than three lines"));
        };
        if !valid_line(origin) {
            return Err(Error::MalformedCheckpoint(
                "origin line is empty or has control characters",
            ));
        }
        let size = parse_decimal(size_line).ok_or(Error::MalformedCheckpoint(
            "tree size is not a canonical decimal",
        ))?;
        let root = Hash::from_base64(root_line)
            .map_err(|_| Error::MalformedCheckpoint("root hash is not base64 of 32 bytes"))?;
        let extensions: Vec<String> = lines.map(str::to_owned).collect();
        if !extensions.iter().all(|line| valid_line(line)) {
            return Err(Error::MalformedCheckpoint(
                "empty or invalid extension line",
            ));
        }
        Ok(Self {
            origin: origin.to_owned(),
            size,
            root,
            extensions,
        })
    }

    /// The note body, ending in a newline.
    pub fn to_body(&self) -> String {
        let mut out = format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            self.root.to_base64()
        );
        for line in &self.extensions {
            out.push_str(line);
            out.push('\n');
        }
        out
    }

    pub fn origin(&self) -> &str {
        &self.origin
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    pub fn root(&self) -> &Hash {
        &self.root
    }

    pub fn extensions(&self) -> &[String] {
        &self.extensions
    }
}

/// ASCII digits only, no sign, no leading zero unless the value is 0, fits in u64.
fn parse_decimal(text: &str) -> Option<u64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if text.len() > 1 && text.starts_with('0') {
        return None;
    }
    text.parse().ok()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test code")]
    use super::*;

    const SPEC_BODY: &str =
        "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";

    #[test]
    fn spec_example_round_trips() {
        let cp = Checkpoint::parse(SPEC_BODY).unwrap();
        assert_eq!(cp.origin(), "example.com/behind-the-sofa");
        assert_eq!(cp.size(), 20852163);
        assert_eq!(cp.to_body(), SPEC_BODY);
    }

    #[test]
    fn extensions_round_trip() {
        let body = format!("{SPEC_BODY}ext one\next two\n");
        let cp = Checkpoint::parse(&body).unwrap();
        assert_eq!(cp.extensions(), ["ext one", "ext two"]);
        assert_eq!(cp.to_body(), body);
    }

    #[test]
    fn malformed_bodies_are_rejected() {
        let root = "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=";
        for bad in [
            String::new(),
            SPEC_BODY.trim_end().to_owned(),
            format!("o\n5\n{root}\n\n"),
            format!("o\n5\n{root}\n\nx\n"),
            format!("\n5\n{root}\n"),
            format!("o\n05\n{root}\n"),
            format!("o\n+5\n{root}\n"),
            format!("o\n 5\n{root}\n"),
            format!("o\n18446744073709551616\n{root}\n"),
            format!("o\n5\n{}\n", &root[..40]),
            format!("o\n5\n{}\n", root.replace('=', "")),
            "o\n5\n".to_owned(),
            format!("o\r\n5\n{root}\n"),
            format!("o\n5\n{root}\r\n"),
        ] {
            assert!(Checkpoint::parse(&bad).is_err(), "accepted {bad:?}");
        }
        assert!(Checkpoint::parse(&format!("o\n0\n{root}\n")).is_ok());
    }

    #[test]
    fn new_rejects_origins_that_cannot_be_key_names() {
        for bad in ["", "a b", "a+b", "a\nb"] {
            assert!(Checkpoint::new(bad, 0, Hash::default()).is_err());
        }
        assert!(Checkpoint::new("tearline.example/p/acme", 0, Hash::default()).is_ok());
    }
}
