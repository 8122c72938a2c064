//! The streaming pass: finds the format, walks the top level (the bundle's
//! properties in any order, then the elements of `objects`), and cuts out
//! each object's original bytes.
//!
//! The top level is parsed by hand, strictly; each element is stepped over
//! by the framing scanner while its bytes are recorded, so nesting depth
//! costs no stack here, an oversized element costs no memory past the cap,
//! and bad UTF-8 or a grammar error inside one element is that element's
//! problem rather than the end of the stream.

use std::io::{self, Read};

use serde_json::Value;

use super::object::{kind_of_non_object, syntax_problem};
use super::source::{Decoded, Recorded, Scan, Source, decompress_if_gzip};
use super::{BundleInfo, Format, JsonProblem, Position, RawObject, ReadError, ReadSummary};
use crate::Limits;

const UTF8_BOM: [u8; 3] = [0xef, 0xbb, 0xbf];

pub(crate) fn read<R, E, F>(
    input: R,
    limits: &Limits,
    on_object: F,
) -> Result<ReadSummary, ReadError<E>>
where
    R: Read,
    F: FnMut(RawObject) -> Result<(), E>,
{
    let decoded = decompress_if_gzip(input).map_err(ReadError::Io)?;
    let gzip = decoded.is_gzip();
    let mut ctx = Ctx {
        source: Source::new(decoded),
        limits,
        on_object,
        gzip,
        next_index: 0,
        in_element: false,
        hold: false,
        held: Vec::new(),
        held_bytes: 0,
        assumed_bundle: false,
        objects_not_array: None,
        callback_error: std::marker::PhantomData,
    };
    let (format, bundle) = ctx.run()?;
    Ok(ReadSummary {
        format,
        objects: ctx.next_index,
        gzip,
        bytes: ctx.source.consumed(),
        bundle,
    })
}

struct Ctx<'l, R: Read, E, F> {
    source: Source<Decoded<R>>,
    limits: &'l Limits,
    on_object: F,
    gzip: bool,
    next_index: usize,
    /// Inside an element (for error positions).
    in_element: bool,
    /// Hold elements back: the top-level object's type is not known yet.
    hold: bool,
    held: Vec<RawObject>,
    held_bytes: usize,
    /// Elements were handed out before the type showed a bundle.
    assumed_bundle: bool,
    /// What the top-level `objects` held when it was not an array.
    objects_not_array: Option<&'static str>,
    callback_error: std::marker::PhantomData<fn() -> E>,
}

#[derive(Default)]
struct MapFacts {
    type_: Option<Scalar>,
    id: Option<Scalar>,
    spec_version: Option<Scalar>,
}

impl MapFacts {
    fn is_bundle(&self) -> bool {
        matches!(&self.type_, Some(Scalar::Str(t)) if t == "bundle")
    }
}

/// A top-level value we only care about when it is a string.
enum Scalar {
    Str(String),
    Other,
}

impl Scalar {
    fn into_string(self) -> Option<String> {
        match self {
            Scalar::Str(s) => Some(s),
            Scalar::Other => None,
        }
    }
}

enum Sniffed {
    Utf16,
    Byte(u8),
}

impl<R, E, F> Ctx<'_, R, E, F>
where
    R: Read,
    F: FnMut(RawObject) -> Result<(), E>,
{
    fn run(&mut self) -> Result<(Format, Option<BundleInfo>), ReadError<E>> {
        let first = self.start()?;
        let start_line = self.source.line();
        let (format, bundle) = if first == b'[' {
            self.source.consume(1);
            self.elements()?;
            (Format::Array, None)
        } else {
            self.top_object(start_line)?
        };
        let one_line = self.source.line() == start_line;
        match (self.whitespace()?, format) {
            (None, _) => Ok((format, bundle)),
            (Some(b'{'), Format::Object) => {
                if one_line {
                    self.json_lines()?;
                } else {
                    self.concatenated()?;
                }
                Ok((Format::JsonLines, None))
            }
            (Some(_), _) => Err(ReadError::TrailingData {
                after: match format {
                    Format::Bundle => "bundle",
                    Format::Array => "array",
                    Format::Object | Format::JsonLines => "object",
                },
                position: self.here(),
            }),
        }
    }

    /// Skips a byte-order mark and whitespace, and checks the first byte.
    fn start(&mut self) -> Result<u8, ReadError<E>> {
        let first = self.sniff().map_err(|err| self.io_error(err))?;
        match first {
            None => Err(ReadError::Empty),
            Some(Sniffed::Utf16) => Err(ReadError::Utf16),
            Some(Sniffed::Byte(byte @ (b'{' | b'['))) => Ok(byte),
            Some(Sniffed::Byte(byte)) if !(0x20..0x7f).contains(&byte) => Err(ReadError::Binary {
                offset: self.source.consumed(),
                byte,
            }),
            Some(Sniffed::Byte(byte)) => Err(ReadError::NotStix {
                found: char::from(byte),
                position: self.here(),
            }),
        }
    }

    fn sniff(&mut self) -> io::Result<Option<Sniffed>> {
        let head = self.source.head(UTF8_BOM.len())?;
        if head.starts_with(&UTF8_BOM) {
            self.source.consume(UTF8_BOM.len());
        } else if head.starts_with(&[0xff, 0xfe])
            || head.starts_with(&[0xfe, 0xff])
            || (head.len() >= 2 && (head.first() == Some(&0) || head.get(1) == Some(&0)))
        {
            return Ok(Some(Sniffed::Utf16));
        }
        Ok(self.source.skip_whitespace()?.map(Sniffed::Byte))
    }

    /// The top-level object, at its `{`: a bundle (streamed) or one object.
    fn top_object(
        &mut self,
        start_line: u64,
    ) -> Result<(Format, Option<BundleInfo>), ReadError<E>> {
        self.source.start_top(self.limits.max_object_bytes);
        self.source.consume(1);
        self.hold = true;
        let mut facts = MapFacts::default();
        let mut first = true;
        loop {
            match self.whitespace()? {
                Some(b'}') if first => {
                    self.source.consume(1);
                    break;
                }
                Some(b'"') => {}
                Some(b'}') => return Err(self.syntax("a property name after ','")),
                Some(_) => return Err(self.syntax("a property name in double quotes")),
                None => return Err(self.truncated()),
            }
            first = false;
            let key = self.key()?;
            match self.whitespace()? {
                Some(b':') => self.source.consume(1),
                Some(_) => return Err(self.syntax("':' after the property name")),
                None => return Err(self.truncated()),
            }
            let next = self.whitespace()?;
            match key.as_str() {
                "type" | "id" | "spec_version" => {
                    let value = self.small_value()?;
                    let slot = match key.as_str() {
                        "type" => &mut facts.type_,
                        "id" => &mut facts.id,
                        _ => &mut facts.spec_version,
                    };
                    // A repeated key is the object's problem, found when it
                    // is parsed; for the bundle the first value counts.
                    if slot.is_none() {
                        *slot = Some(value);
                        if key == "type" && facts.is_bundle() {
                            self.source.discard_top();
                            self.release_held().map_err(ReadError::Callback)?;
                        }
                    }
                }
                "objects" if facts.type_.is_none() || facts.is_bundle() => {
                    if next == Some(b'[') {
                        self.source.consume(1);
                        self.elements()?;
                    } else {
                        // Not a bundle's list (STIX 2.0 observed-data has
                        // an `objects` dictionary); an error if this turns
                        // out to be a bundle.
                        self.objects_not_array = Some(match next {
                            Some(b'{') => "an object",
                            Some(byte) => kind_of_non_object(byte).unwrap_or("not JSON"),
                            None => "missing",
                        });
                        self.skip()?;
                    }
                }
                _ => self.skip()?,
            }
            match self.whitespace()? {
                Some(b',') => self.source.consume(1),
                Some(b'}') => {
                    self.source.consume(1);
                    break;
                }
                Some(_) => return Err(self.syntax("',' or '}' after a property value")),
                None => return Err(self.truncated()),
            }
        }
        if facts.is_bundle() {
            if let Some(found) = self.objects_not_array {
                return Err(ReadError::BadBundle {
                    detail: format!("its \"objects\" is {found}, not an array of objects"),
                });
            }
            self.release_held().map_err(ReadError::Callback)?;
            let bundle = BundleInfo {
                id: facts.id.and_then(Scalar::into_string),
                spec_version: facts.spec_version.and_then(Scalar::into_string),
            };
            return Ok((Format::Bundle, Some(bundle)));
        }
        if self.assumed_bundle {
            return Err(ReadError::NotABundle {
                limit: self.limits.max_object_bytes,
            });
        }
        self.held.clear();
        self.held_bytes = 0;
        self.hold = false;
        // The single object is object 0, whatever its `objects` held.
        self.next_index = 0;
        let recorded = self.source.finish_top();
        let object = self.cut(recorded, start_line);
        self.emit(object).map_err(ReadError::Callback)?;
        Ok((Format::Object, None))
    }

    /// A top-level property name, at its opening quote.
    fn key(&mut self) -> Result<String, ReadError<E>> {
        let limit = self.limits.max_string_bytes;
        let raw = self.record_value(limit + 2, "property name")?;
        serde_json::from_slice::<String>(&raw).map_err(|err| ReadError::Syntax {
            detail: format!(
                "invalid property name: {}",
                super::object::strip_position(&err.to_string())
            ),
            position: self.here(),
        })
    }

    /// The value of `type`, `id` or `spec_version` at the top level.
    fn small_value(&mut self) -> Result<Scalar, ReadError<E>> {
        let limit = self.limits.max_string_bytes;
        let raw = self.record_value(limit + 2, "property value")?;
        Ok(match serde_json::from_slice::<Value>(&raw) {
            Ok(Value::String(s)) => Scalar::Str(s),
            // Anything else (or a grammar error, which parse_object reports
            // if this is a single object) is not a bundle's.
            _ => Scalar::Other,
        })
    }

    fn record_value(&mut self, cap: usize, what: &'static str) -> Result<Vec<u8>, ReadError<E>> {
        self.source.start_element(cap);
        let scanned = self.source.skip_value();
        let recorded = self.source.finish_element();
        scanned.map_err(|err| self.scan_error(err))?;
        match recorded {
            Recorded::Kept(bytes) => Ok(bytes),
            Recorded::Overflowed { .. } => Err(ReadError::TooLarge {
                what,
                limit: cap - 2,
                position: self.here(),
            }),
        }
    }

    /// After a `[`: the elements through the closing `]`.
    fn elements(&mut self) -> Result<(), ReadError<E>> {
        match self.whitespace()? {
            Some(b']') => {
                self.source.consume(1);
                return Ok(());
            }
            None => return Err(self.truncated()),
            Some(_) => {}
        }
        loop {
            self.element()?;
            match self.whitespace()? {
                Some(b',') => {
                    self.source.consume(1);
                    match self.whitespace()? {
                        Some(b']') => return Err(self.syntax("an object after ','")),
                        None => return Err(self.truncated()),
                        Some(_) => {}
                    }
                }
                Some(b']') => {
                    self.source.consume(1);
                    return Ok(());
                }
                Some(_) => return Err(self.syntax("',' or ']' after an object")),
                None => return Err(self.truncated()),
            }
        }
    }

    /// One element, at its first byte: recorded and handed on (or held).
    fn element(&mut self) -> Result<(), ReadError<E>> {
        let start_line = self.source.line();
        self.source.start_element(self.limits.max_object_bytes);
        self.in_element = true;
        let scanned = self.source.skip_value();
        let recorded = self.source.finish_element();
        scanned.map_err(|err| self.scan_error(err))?;
        self.in_element = false;
        let object = self.cut(recorded, start_line);
        if self.hold {
            self.held_bytes += object.text.as_ref().map_or(0, String::len);
            self.held.push(object);
            if self.held_bytes > self.limits.max_object_bytes {
                // Too much to hold for a single object: it can only be a
                // bundle whose type comes later.
                self.assumed_bundle = true;
                self.release_held().map_err(ReadError::Callback)?;
            }
            Ok(())
        } else {
            self.emit(object).map_err(ReadError::Callback)
        }
    }

    /// Objects after a first multi-line object: framed by the scanner.
    fn concatenated(&mut self) -> Result<(), ReadError<E>> {
        while self.whitespace()?.is_some() {
            self.element()?;
        }
        Ok(())
    }

    /// The lines after the first object of JSON lines: each line is one
    /// object, so a broken line is that line's problem.
    fn json_lines(&mut self) -> Result<(), ReadError<E>> {
        let limit = self.limits.max_object_bytes;
        let cap = limit + 2;
        let mut line = Vec::new();
        loop {
            let line_number = self.source.line();
            let total = match self.source.read_line(&mut line, cap) {
                Ok(Some(total)) => total,
                Ok(None) => return Ok(()),
                Err(err) => return Err(self.io_error(err)),
            };
            let text = if total > cap as u64 {
                Err(JsonProblem::ObjectTooLarge { limit, size: total })
            } else {
                let trimmed = line.trim_ascii();
                if trimmed.is_empty() {
                    continue;
                }
                check_line(trimmed, limit)
            };
            let object = RawObject {
                index: self.next_index,
                line: line_number,
                text,
            };
            self.next_index += 1;
            self.emit(object).map_err(ReadError::Callback)?;
        }
    }

    /// Turns recorded bytes into an object (or its problem).
    fn cut(&mut self, recorded: Recorded, line: u64) -> RawObject {
        let index = self.next_index;
        self.next_index += 1;
        let limit = self.limits.max_object_bytes;
        let text = match recorded {
            Recorded::Overflowed { total_bytes } => Err(JsonProblem::ObjectTooLarge {
                limit,
                size: total_bytes,
            }),
            Recorded::Kept(bytes) => object_text(bytes, limit),
        };
        RawObject { index, line, text }
    }

    fn emit(&mut self, object: RawObject) -> Result<(), E> {
        (self.on_object)(object)
    }

    fn release_held(&mut self) -> Result<(), E> {
        self.hold = false;
        self.held_bytes = 0;
        for object in std::mem::take(&mut self.held) {
            self.emit(object)?;
        }
        Ok(())
    }

    fn skip(&mut self) -> Result<(), ReadError<E>> {
        self.source.skip_value().map_err(|err| self.scan_error(err))
    }

    fn whitespace(&mut self) -> Result<Option<u8>, ReadError<E>> {
        let next = self.source.skip_whitespace();
        next.map_err(|err| self.io_error(err))
    }

    fn here(&self) -> Position {
        Position {
            line: self.source.line(),
            column: self.source.column(),
            object_index: self.in_element.then_some(self.next_index),
        }
    }

    fn syntax(&self, expected: &str) -> ReadError<E> {
        ReadError::Syntax {
            detail: format!("expected {expected}"),
            position: self.here(),
        }
    }

    fn truncated(&self) -> ReadError<E> {
        ReadError::Truncated {
            position: self.here(),
        }
    }

    fn io_error(&self, err: io::Error) -> ReadError<E> {
        let decoding = matches!(
            err.kind(),
            io::ErrorKind::InvalidInput | io::ErrorKind::InvalidData | io::ErrorKind::UnexpectedEof
        );
        if self.gzip && decoding {
            ReadError::Gzip {
                detail: err.to_string(),
                position: self.here(),
            }
        } else {
            ReadError::Io(err)
        }
    }

    fn scan_error(&self, err: Scan) -> ReadError<E> {
        match err {
            Scan::Io(err) => self.io_error(err),
            Scan::Eof => self.truncated(),
            Scan::Unexpected(byte) => ReadError::Syntax {
                detail: format!("unexpected {}", describe(byte)),
                position: self.here(),
            },
            Scan::Mismatch { expected, found } => ReadError::Syntax {
                detail: format!(
                    "{} where {} was expected to close the open bracket",
                    describe(found),
                    describe(expected)
                ),
                position: self.here(),
            },
        }
    }
}

fn describe(byte: u8) -> String {
    if byte.is_ascii_graphic() {
        format!("'{}'", char::from(byte))
    } else {
        format!("byte 0x{byte:02x}")
    }
}

/// Checks one line of JSON lines. A line has no brackets to frame it, so
/// its grammar is checked here: a broken line must not pass as an object.
fn check_line(line: &[u8], limit: usize) -> Result<String, JsonProblem> {
    if line.len() > limit {
        return Err(JsonProblem::ObjectTooLarge {
            limit,
            size: line.len() as u64,
        });
    }
    let text = std::str::from_utf8(line).map_err(|err| JsonProblem::InvalidUtf8 {
        offset: err.valid_up_to(),
    })?;
    if let Err(err) = serde_json::from_str::<serde::de::IgnoredAny>(text) {
        return Err(syntax_problem(&err, text));
    }
    object_text(line.to_vec(), limit)
}

/// Checks an object's bytes: it starts like an object, fits the limit, and
/// is UTF-8. The full grammar is `parse_object`'s job.
fn object_text(bytes: Vec<u8>, limit: usize) -> Result<String, JsonProblem> {
    match bytes.first() {
        Some(b'{') => {}
        Some(&other) => {
            return Err(JsonProblem::NotAnObject {
                found: kind_of_non_object(other).unwrap_or("something that is not JSON"),
            });
        }
        None => return Err(JsonProblem::NotAnObject { found: "nothing" }),
    }
    if bytes.len() > limit {
        return Err(JsonProblem::ObjectTooLarge {
            limit,
            size: bytes.len() as u64,
        });
    }
    String::from_utf8(bytes).map_err(|err| JsonProblem::InvalidUtf8 {
        offset: err.utf8_error().valid_up_to(),
    })
}
