//! Reading STIX content: bundles, single objects, arrays of objects and JSON
//! lines, plain or gzip-compressed, from any `Read`.
//!
//! The reader streams: a bundle of any size is read object by object and
//! never held whole. Memory is bounded by [`Limits::max_object_bytes`] (a
//! little over twice that in the worst case, see [`read`]). Each object
//! keeps its original text, so stores and hashes can use the exact bytes.
//!
//! Two kinds of trouble are told apart:
//! * a problem of one object ([`JsonProblem`], e.g. a repeated key, an
//!   element that is not an object, an object over the size limit) is
//!   handed to the caller with that object and the stream goes on;
//! * a problem of the input ([`ReadError`], e.g. a JSON syntax error in a
//!   bundle, a truncated file, a binary file) ends the stream, since the
//!   JSON cannot be followed past it.
//!
//! How the format is told: by the first non-space byte. `[` is an array of
//! objects. `{` is a bundle when the top-level object has `"type":
//! "bundle"` (its keys may come in any order), else a single object; a
//! single object followed by another `{` makes JSON lines (one object per
//! line). A leading UTF-8 byte-order mark is skipped. Gzip is recognised by
//! its magic bytes, not by a file name.

use std::convert::Infallible;
use std::fmt;
use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::Path;

mod object;
mod source;
mod stream;

pub use object::{JsonProblem, SERDE_JSON_MAX_DEPTH, parse_object};

use crate::Limits;

/// How the input was laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// A STIX bundle: `{"type": "bundle", "objects": [...]}`.
    Bundle,
    /// One object at the top level.
    Object,
    /// A JSON array of objects.
    Array,
    /// One object per line.
    JsonLines,
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Format::Bundle => "bundle",
            Format::Object => "object",
            Format::Array => "array",
            Format::JsonLines => "JSON lines",
        })
    }
}

/// One object as read, before parsing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawObject {
    /// Position in the input from 0: the n-th element of the bundle's
    /// `objects` or of the array, or the n-th non-empty line.
    pub index: usize,
    /// 1-based line of the (decompressed) input where the object starts.
    pub line: u64,
    /// The object's original text, exactly as in the input, or why it could
    /// not be taken. The reader checks that it is UTF-8, starts with `{`
    /// and is closed (strings and brackets balance); the rest of the JSON
    /// grammar is checked by [`RawObject::parse`] / [`parse_object`], so a
    /// grammar error inside one object is that object's problem.
    pub text: Result<String, JsonProblem>,
}

impl RawObject {
    /// Parses the text with [`parse_object`], or gives the reader's problem.
    pub fn parse(&self, limits: &Limits) -> Result<serde_json::Value, JsonProblem> {
        match &self.text {
            Ok(text) => parse_object(text, limits),
            Err(problem) => Err(problem.clone()),
        }
    }
}

/// Facts about a bundle (not its objects).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BundleInfo {
    /// The bundle's `id`, when it is a string.
    pub id: Option<String>,
    /// The bundle's `spec_version`, when present. STIX 2.1 bundles have no
    /// such property; STIX 2.0 bundles carry `"2.0"`, so this is a sign of
    /// STIX 2.0 content (or of a 2.1 writer that kept the old habit).
    pub spec_version: Option<String>,
}

/// What was read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadSummary {
    pub format: Format,
    /// Objects handed to the callback (with or without a problem).
    pub objects: usize,
    /// Whether the input was gzip-compressed.
    pub gzip: bool,
    /// Bytes read after decompression.
    pub bytes: u64,
    /// `Some` when the input was a bundle.
    pub bundle: Option<BundleInfo>,
}

/// Where in the input a stream error happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    /// 1-based line of the decompressed input.
    pub line: u64,
    /// 1-based column, in bytes.
    pub column: u64,
    /// The object being read, when inside one (0-based, as
    /// [`RawObject::index`]).
    pub object_index: Option<usize>,
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {} column {}", self.line, self.column)?;
        if let Some(index) = self.object_index {
            write!(f, " (in object {index})")?;
        }
        Ok(())
    }
}

/// A problem that ends the stream: nothing after it can be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError<E = Infallible> {
    #[error("cannot read the input: {0}")]
    Io(#[source] io::Error),
    #[error(
        "the gzip data is corrupt or cut short ({detail}) at {position}; \
         fetch or compress the file again"
    )]
    Gzip { detail: String, position: Position },
    #[error(
        "the input is empty; expected a STIX bundle, an object, an array of objects \
         or JSON lines"
    )]
    Empty,
    #[error(
        "the input is not text (byte 0x{byte:02x} at offset {offset}); expected UTF-8 JSON, \
         plain or gzip-compressed"
    )]
    Binary { offset: u64, byte: u8 },
    #[error(
        "the input is UTF-16 text; STIX JSON must be UTF-8 \
         (convert it, e.g. iconv -f UTF-16 -t UTF-8)"
    )]
    Utf16,
    #[error(
        "the input does not look like STIX JSON: it starts with {found:?} at {position}; \
         expected a bundle or object ({{), an array of objects ([) or JSON lines"
    )]
    NotStix { found: char, position: Position },
    #[error("JSON syntax error at {position}: {detail}")]
    Syntax { detail: String, position: Position },
    #[error(
        "the input ends in the middle of the JSON at {position}; the file looks \
         truncated: fetch it again"
    )]
    Truncated { position: Position },
    #[error(
        "unexpected data after the end of the {after} at {position}; a file holds one \
         bundle, one object, one array of objects, or JSON lines (one object per line)"
    )]
    TrailingData {
        after: &'static str,
        position: Position,
    },
    #[error("the bundle's {what} at {position} is longer than the limit of {limit} bytes")]
    TooLarge {
        what: &'static str,
        limit: usize,
        position: Position,
    },
    #[error(
        "the top-level object has an `objects` array larger than the limit of {limit} bytes \
         on one object, but its type is not \"bundle\""
    )]
    NotABundle { limit: usize },
    #[error("the input is not a valid bundle: {detail}")]
    BadBundle { detail: String },
    #[error("stopped by the caller: {0}")]
    Callback(E),
}

/// Reads STIX content from `input` (plain or gzip) and hands each object to
/// `on_object`, in input order. An error from `on_object` stops the reading
/// and comes back as [`ReadError::Callback`].
///
/// Memory: one object at a time, at most `limits.max_object_bytes` of it
/// kept (larger objects become [`JsonProblem::ObjectTooLarge`]). The one
/// exception is a top-level object whose `objects` array comes before its
/// `type`: until `type` shows whether it is a bundle, up to
/// `max_object_bytes` of elements are held back (plus as much of the
/// top-level text).
pub fn read<R, E, F>(input: R, limits: &Limits, on_object: F) -> Result<ReadSummary, ReadError<E>>
where
    R: Read,
    F: FnMut(RawObject) -> Result<(), E>,
{
    stream::read(input, limits, on_object)
}

/// Reads every object into memory; for tests and small inputs only (the
/// whole point of [`read`] is not to do this).
pub fn read_all<R: Read>(
    input: R,
    limits: &Limits,
) -> Result<(ReadSummary, Vec<RawObject>), ReadError> {
    let mut objects = Vec::new();
    let summary = read(input, limits, |object| {
        objects.push(object);
        Ok::<(), Infallible>(())
    })?;
    Ok((summary, objects))
}

/// Opens a file for [`read`], decompressing it when it is gzip (by content,
/// not by name), so callers that want plain bytes get them too.
pub fn open(path: &Path) -> io::Result<Box<dyn Read + Send>> {
    let file = File::open(path)?;
    Ok(Box::new(source::decompress_if_gzip(BufReader::new(file))?))
}
