//! The byte source under the reader: gzip detection, a read buffer, line
//! and column tracking, recorders that keep an object's original bytes, and
//! a framing scanner that steps over one JSON value.
//!
//! The scanner only follows strings and brackets (it knows where a value
//! ends, not whether everything inside is grammatical); `parse_object`
//! checks the full grammar of each object afterwards. That split is what
//! lets a grammar error inside one object be that object's problem, and it
//! works on whole buffer chunks: serde_json's `Read`-based deserializer
//! pulls one byte per call and measured about seven times slower here.

use std::io::{self, BufReader, Read};

use flate2::bufread::MultiGzDecoder;

const BUFFER_BYTES: usize = 64 * 1024;
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// The sniffed first bytes put back in front of the rest of the input.
type Rewound<R> = io::Chain<io::Cursor<Vec<u8>>, R>;

/// The input, decompressed when it is gzip.
pub(crate) enum Decoded<R: Read> {
    Plain(Rewound<R>),
    Gzip(Box<MultiGzDecoder<BufReader<Rewound<R>>>>),
}

impl<R: Read> Decoded<R> {
    pub(crate) fn is_gzip(&self) -> bool {
        matches!(self, Decoded::Gzip(_))
    }
}

impl<R: Read> Read for Decoded<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        match self {
            Decoded::Plain(plain) => plain.read(out),
            Decoded::Gzip(gzip) => gzip.read(out),
        }
    }
}

/// Wraps `input` in a gzip decoder when it starts with the gzip magic bytes.
/// Detection is by content, never by file name, so stdin works too.
pub(crate) fn decompress_if_gzip<R: Read>(mut input: R) -> io::Result<Decoded<R>> {
    let mut magic = [0u8; 2];
    let mut got = 0;
    while got < magic.len() {
        let rest = magic.get_mut(got..).unwrap_or_default();
        match input.read(rest) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
            Err(err) => return Err(err),
        }
    }
    let prefix = io::Cursor::new(magic.get(..got).unwrap_or_default().to_vec());
    let whole = prefix.chain(input);
    if got == magic.len() && magic == GZIP_MAGIC {
        Ok(Decoded::Gzip(Box::new(MultiGzDecoder::new(
            BufReader::new(whole),
        ))))
    } else {
        Ok(Decoded::Plain(whole))
    }
}

/// Keeps the bytes that pass through while switched on, up to a cap.
#[derive(Debug, Default)]
pub(crate) struct Recorder {
    on: bool,
    cap: usize,
    bytes: Vec<u8>,
    /// Bytes seen once past the cap (then none are kept).
    dropped: u64,
}

impl Recorder {
    fn start(&mut self, cap: usize) {
        self.on = true;
        self.cap = cap;
        self.bytes.clear();
        self.dropped = 0;
    }

    #[inline]
    fn feed(&mut self, chunk: &[u8]) {
        if !self.on {
            return;
        }
        if self.dropped == 0 && self.bytes.len() + chunk.len() <= self.cap {
            self.bytes.extend_from_slice(chunk);
        } else {
            // Past the cap: free what was kept, only count from here on.
            self.dropped += (self.bytes.len() + chunk.len()) as u64;
            self.bytes = Vec::new();
        }
    }

    /// Stops recording and hands over what was kept, or the total length
    /// seen when it went past the cap.
    fn finish(&mut self) -> Recorded {
        self.on = false;
        if self.dropped > 0 {
            let total = self.dropped;
            self.dropped = 0;
            Recorded::Overflowed { total_bytes: total }
        } else {
            Recorded::Kept(std::mem::take(&mut self.bytes))
        }
    }

    fn stop_and_discard(&mut self) {
        self.on = false;
        self.bytes = Vec::new();
        self.dropped = 0;
    }
}

#[derive(Debug)]
pub(crate) enum Recorded {
    Kept(Vec<u8>),
    Overflowed { total_bytes: u64 },
}

/// Why the scanner could not step over a value.
#[derive(Debug)]
pub(crate) enum Scan {
    Io(io::Error),
    /// The input ended inside the value.
    Eof,
    /// A byte that cannot start a value (left unconsumed).
    Unexpected(u8),
    /// A closing bracket of the wrong kind (left unconsumed).
    Mismatch {
        expected: u8,
        found: u8,
    },
}

impl From<io::Error> for Scan {
    fn from(err: io::Error) -> Self {
        Scan::Io(err)
    }
}

/// One bit per open bracket (set for `{`): nesting 20,000 deep costs 2.5 KB
/// and no stack.
#[derive(Debug, Default)]
struct BracketStack {
    bits: Vec<u64>,
    depth: usize,
}

impl BracketStack {
    fn push(&mut self, brace: bool) {
        let (word, bit) = (self.depth / 64, self.depth % 64);
        if word >= self.bits.len() {
            self.bits.push(0);
        }
        if let Some(slot) = self.bits.get_mut(word) {
            if brace {
                *slot |= 1 << bit;
            } else {
                *slot &= !(1 << bit);
            }
        }
        self.depth += 1;
    }

    /// The closer the innermost open bracket wants.
    fn expected_closer(&self) -> Option<u8> {
        let top = self.depth.checked_sub(1)?;
        let brace = self
            .bits
            .get(top / 64)
            .is_some_and(|word| word & (1 << (top % 64)) != 0);
        Some(if brace { b'}' } else { b']' })
    }

    fn pop(&mut self) {
        self.depth = self.depth.saturating_sub(1);
    }
}

/// The buffered, tracked input.
pub(crate) struct Source<R> {
    inner: R,
    buf: Box<[u8]>,
    pos: usize,
    filled: usize,
    /// Bytes consumed so far.
    consumed: u64,
    /// Newlines consumed so far (line numbers are this plus one).
    newlines: u64,
    /// Bytes consumed since the last newline (for column numbers).
    column: u64,
    brackets: BracketStack,
    /// Records the top-level object (when it is a single object).
    pub(crate) top: Recorder,
    /// Records one element (an object of a bundle, array or stream).
    pub(crate) element: Recorder,
}

impl<R> std::fmt::Debug for Source<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Source")
            .field("consumed", &self.consumed)
            .field("newlines", &self.newlines)
            .finish_non_exhaustive()
    }
}

fn is_delimiter(byte: u8) -> bool {
    matches!(
        byte,
        b' ' | b'\t' | b'\r' | b'\n' | b',' | b':' | b'[' | b']' | b'{' | b'}' | b'"'
    )
}

impl<R: Read> Source<R> {
    pub(crate) fn new(inner: R) -> Self {
        Source {
            inner,
            buf: vec![0u8; BUFFER_BYTES].into_boxed_slice(),
            pos: 0,
            filled: 0,
            consumed: 0,
            newlines: 0,
            column: 0,
            brackets: BracketStack::default(),
            top: Recorder::default(),
            element: Recorder::default(),
        }
    }

    pub(crate) fn consumed(&self) -> u64 {
        self.consumed
    }

    /// 1-based line of the next byte.
    pub(crate) fn line(&self) -> u64 {
        self.newlines + 1
    }

    /// 1-based column of the next byte (in bytes).
    pub(crate) fn column(&self) -> u64 {
        self.column + 1
    }

    pub(crate) fn start_top(&mut self, cap: usize) {
        self.top.start(cap);
    }

    pub(crate) fn finish_top(&mut self) -> Recorded {
        self.top.finish()
    }

    pub(crate) fn discard_top(&mut self) {
        self.top.stop_and_discard();
    }

    pub(crate) fn start_element(&mut self, cap: usize) {
        self.element.start(cap);
    }

    pub(crate) fn finish_element(&mut self) -> Recorded {
        self.element.finish()
    }

    fn refill(&mut self) -> io::Result<()> {
        loop {
            match self.inner.read(&mut self.buf) {
                Ok(n) => {
                    self.pos = 0;
                    self.filled = n;
                    return Ok(());
                }
                Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                Err(err) => return Err(err),
            }
        }
    }

    /// The buffered bytes from the read position; empty only at the end.
    pub(crate) fn buffered(&mut self) -> io::Result<&[u8]> {
        if self.pos >= self.filled {
            self.refill()?;
        }
        Ok(self.buf.get(self.pos..self.filled).unwrap_or_default())
    }

    /// The buffered bytes, after reading until at least `n` are there (or
    /// the input ends): for sniffing a byte-order mark.
    pub(crate) fn head(&mut self, n: usize) -> io::Result<&[u8]> {
        if self.filled - self.pos < n {
            self.buf.copy_within(self.pos..self.filled, 0);
            self.filled -= self.pos;
            self.pos = 0;
            while self.filled < n.min(self.buf.len()) {
                let room = self.buf.get_mut(self.filled..).unwrap_or_default();
                match self.inner.read(room) {
                    Ok(0) => break,
                    Ok(got) => self.filled += got,
                    Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                    Err(err) => return Err(err),
                }
            }
        }
        Ok(self.buf.get(self.pos..self.filled).unwrap_or_default())
    }

    /// The next byte without consuming it; `None` at the end.
    pub(crate) fn peek(&mut self) -> io::Result<Option<u8>> {
        Ok(self.buffered()?.first().copied())
    }

    /// Consumes `n` bytes that are already buffered.
    pub(crate) fn consume(&mut self, n: usize) {
        let start = self.pos;
        let end = (start + n).min(self.filled);
        self.pos = end;
        let chunk = self.buf.get(start..end).unwrap_or_default();
        self.consumed += chunk.len() as u64;
        match memchr::memrchr(b'\n', chunk) {
            Some(last) => {
                self.newlines += memchr::memchr_iter(b'\n', chunk).count() as u64;
                self.column = (chunk.len() - last - 1) as u64;
            }
            None => self.column += chunk.len() as u64,
        }
        self.top.feed(chunk);
        self.element.feed(chunk);
    }

    /// Skips JSON whitespace; returns the next byte (not consumed).
    pub(crate) fn skip_whitespace(&mut self) -> io::Result<Option<u8>> {
        loop {
            let buf = self.buffered()?;
            let Some(&first) = buf.first() else {
                return Ok(None);
            };
            match buf
                .iter()
                .position(|b| !matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
            {
                Some(0) => return Ok(Some(first)),
                Some(n) => {
                    let next = buf.get(n).copied();
                    self.consume(n);
                    return Ok(next);
                }
                None => {
                    let n = buf.len();
                    self.consume(n);
                }
            }
        }
    }

    /// Steps over one JSON value starting at the next byte (whitespace
    /// already skipped), feeding the recorders.
    pub(crate) fn skip_value(&mut self) -> Result<(), Scan> {
        match self.peek()? {
            None => Err(Scan::Eof),
            Some(b'"') => {
                self.consume(1);
                self.skip_string_rest()
            }
            Some(b'{' | b'[') => self.skip_container(),
            Some(byte @ (b'}' | b']' | b',' | b':')) => Err(Scan::Unexpected(byte)),
            Some(_) => self.skip_scalar(),
        }
    }

    /// Numbers, literals, and any other run of non-delimiters (whose
    /// grammar the parser judges later).
    fn skip_scalar(&mut self) -> Result<(), Scan> {
        loop {
            let buf = self.buffered()?;
            if buf.is_empty() {
                return Ok(());
            }
            let n = buf
                .iter()
                .position(|&b| is_delimiter(b))
                .unwrap_or(buf.len());
            let ended = n < buf.len();
            self.consume(n);
            if ended {
                return Ok(());
            }
        }
    }

    /// After an opening quote: through the closing quote.
    fn skip_string_rest(&mut self) -> Result<(), Scan> {
        loop {
            let (n, hit) = {
                let buf = self.buffered()?;
                if buf.is_empty() {
                    return Err(Scan::Eof);
                }
                match memchr::memchr2(b'"', b'\\', buf) {
                    Some(at) => (at + 1, buf.get(at).copied()),
                    None => (buf.len(), None),
                }
            };
            self.consume(n);
            match hit {
                Some(b'"') => return Ok(()),
                // A backslash: the next byte is escaped, whatever it is.
                Some(_) => {
                    if self.peek()?.is_none() {
                        return Err(Scan::Eof);
                    }
                    self.consume(1);
                }
                None => {}
            }
        }
    }

    /// At a `{` or `[`: through its matching closer. Works a whole buffer
    /// chunk at a time (strings included) and books each chunk once.
    fn skip_container(&mut self) -> Result<(), Scan> {
        self.brackets.depth = 0;
        let mut in_string = false;
        // A backslash ended the previous chunk: skip the escaped byte.
        let mut escape_pending = false;
        loop {
            let mut outcome: Option<Result<(), Scan>> = None;
            let used = {
                if self.pos >= self.filled {
                    self.refill()?;
                }
                let buf = self.buf.get(self.pos..self.filled).unwrap_or_default();
                if buf.is_empty() {
                    return Err(Scan::Eof);
                }
                let mut at = 0;
                if escape_pending {
                    escape_pending = false;
                    at = 1;
                }
                while at < buf.len() {
                    let rest = buf.get(at..).unwrap_or_default();
                    if in_string {
                        match memchr::memchr2(b'"', b'\\', rest) {
                            None => at = buf.len(),
                            Some(k) if rest.get(k) == Some(&b'"') => {
                                in_string = false;
                                at += k + 1;
                            }
                            Some(k) => {
                                if at + k + 1 < buf.len() {
                                    at += k + 2;
                                } else {
                                    escape_pending = true;
                                    at = buf.len();
                                }
                            }
                        }
                        continue;
                    }
                    let Some(k) = rest
                        .iter()
                        .position(|b| matches!(b, b'"' | b'{' | b'[' | b'}' | b']'))
                    else {
                        at = buf.len();
                        break;
                    };
                    at += k;
                    match rest.get(k).copied().unwrap_or(b'"') {
                        b'"' => in_string = true,
                        b'{' => self.brackets.push(true),
                        b'[' => self.brackets.push(false),
                        found => {
                            let expected = self.brackets.expected_closer();
                            if expected != Some(found) {
                                outcome = Some(Err(match expected {
                                    Some(expected) => Scan::Mismatch { expected, found },
                                    None => Scan::Unexpected(found),
                                }));
                                break;
                            }
                            self.brackets.pop();
                            if self.brackets.depth == 0 {
                                at += 1;
                                outcome = Some(Ok(()));
                                break;
                            }
                        }
                    }
                    at += 1;
                }
                at
            };
            self.consume(used);
            if let Some(outcome) = outcome {
                return outcome;
            }
        }
    }

    /// Reads one line (up to and including `\n`, or to the end) into `line`,
    /// keeping at most `cap` bytes. Returns the line's full length, or
    /// `None` at the end of the input.
    pub(crate) fn read_line(&mut self, line: &mut Vec<u8>, cap: usize) -> io::Result<Option<u64>> {
        line.clear();
        let mut total: u64 = 0;
        loop {
            let (take, done) = {
                let chunk = self.buffered()?;
                if chunk.is_empty() {
                    return Ok((total > 0).then_some(total));
                }
                let (take, done) = match memchr::memchr(b'\n', chunk) {
                    Some(at) => (at + 1, true),
                    None => (chunk.len(), false),
                };
                let piece = chunk.get(..take).unwrap_or_default();
                let room = cap.saturating_sub(line.len());
                line.extend_from_slice(piece.get(..room.min(piece.len())).unwrap_or_default());
                (take, done)
            };
            total += take as u64;
            self.consume(take);
            if done {
                return Ok(Some(total));
            }
        }
    }
}
