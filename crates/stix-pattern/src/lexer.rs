//! Tokens of the patterning language.
//!
//! The token rules follow the OASIS ANTLR grammar exactly (longest match,
//! ties go to the rule listed first), because the set of accepted patterns
//! is decided here as much as in the parser: `t'2024-13-01T00:00:00Z'` is
//! not a timestamp token, so it is not a valid pattern.

use crate::StixVersion;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    IntPos,
    IntNeg,
    FloatPos,
    FloatNeg,
    Hex,
    Binary,
    Str,
    Bool,
    Timestamp,
    And,
    Or,
    Not,
    FollowedBy,
    Like,
    Matches,
    IsSuperset,
    IsSubset,
    Exists,
    Last,
    In,
    Start,
    Stop,
    Seconds,
    Within,
    Repeats,
    Times,
    IdentNoHyphen,
    IdentHyphen,
    Eq,
    Neq,
    Lt,
    Le,
    Gt,
    Ge,
    Quote,
    Colon,
    Dot,
    Comma,
    RParen,
    LParen,
    RBrack,
    LBrack,
    Plus,
    Minus,
    Caret,
    Slash,
    Star,
    Invalid,
    Eof,
}

impl Kind {
    /// How the token is named in error messages.
    pub(crate) fn describe(self) -> &'static str {
        match self {
            Kind::IntPos | Kind::IntNeg => "an integer",
            Kind::FloatPos | Kind::FloatNeg => "a float",
            Kind::Hex => "a hex literal",
            Kind::Binary => "a binary literal",
            Kind::Str => "a string",
            Kind::Bool => "a boolean",
            Kind::Timestamp => "a timestamp",
            Kind::And => "'AND'",
            Kind::Or => "'OR'",
            Kind::Not => "'NOT'",
            Kind::FollowedBy => "'FOLLOWEDBY'",
            Kind::Like => "'LIKE'",
            Kind::Matches => "'MATCHES'",
            Kind::IsSuperset => "'ISSUPERSET'",
            Kind::IsSubset => "'ISSUBSET'",
            Kind::Exists => "'EXISTS'",
            Kind::Last => "'LAST'",
            Kind::In => "'IN'",
            Kind::Start => "'START'",
            Kind::Stop => "'STOP'",
            Kind::Seconds => "'SECONDS'",
            Kind::Within => "'WITHIN'",
            Kind::Repeats => "'REPEATS'",
            Kind::Times => "'TIMES'",
            Kind::IdentNoHyphen | Kind::IdentHyphen => "an identifier",
            Kind::Eq => "'='",
            Kind::Neq => "'!='",
            Kind::Lt => "'<'",
            Kind::Le => "'<='",
            Kind::Gt => "'>'",
            Kind::Ge => "'>='",
            Kind::Quote => "an unterminated or malformed quoted literal",
            Kind::Colon => "':'",
            Kind::Dot => "'.'",
            Kind::Comma => "','",
            Kind::RParen => "')'",
            Kind::LParen => "'('",
            Kind::RBrack => "']'",
            Kind::LBrack => "'['",
            Kind::Plus => "'+'",
            Kind::Minus => "'-'",
            Kind::Caret => "'^'",
            Kind::Slash => "'/'",
            Kind::Star => "'*'",
            Kind::Invalid => "an invalid character",
            Kind::Eof => "the end of the pattern",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Token {
    pub kind: Kind,
    pub start: usize,
    pub end: usize,
}

/// Whitespace as the grammar's `WS` rule defines it (not Rust's notion).
fn is_ws(c: char) -> bool {
    matches!(
        c,
        ' ' | '\t'
            | '\r'
            | '\n'
            | '\u{000B}'
            | '\u{000C}'
            | '\u{0085}'
            | '\u{00A0}'
            | '\u{1680}'
            | '\u{2000}'
            ..='\u{200A}' | '\u{2028}' | '\u{2029}' | '\u{202F}' | '\u{205F}' | '\u{3000}'
    )
}

fn is_ident_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_'
}

fn is_ident_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

fn is_base64(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'+' || b == b'/'
}

/// Length of `[0-9]*` at `i`.
fn digits(s: &[u8], i: usize) -> usize {
    s.get(i..).map_or(0, |rest| {
        rest.iter().take_while(|b| b.is_ascii_digit()).count()
    })
}

/// Length of an unsigned integer `'0' | [1-9][0-9]*` at `i`, or 0.
fn uint_len(s: &[u8], i: usize) -> usize {
    match s.get(i) {
        Some(b'0') => 1,
        Some(b'1'..=b'9') => 1 + digits(s, i + 1),
        _ => 0,
    }
}

/// Length of `[0-9]* '.' [0-9]+` at `i`, or 0.
fn ufloat_len(s: &[u8], i: usize) -> usize {
    let int_part = digits(s, i);
    if s.get(i + int_part) != Some(&b'.') {
        return 0;
    }
    let frac = digits(s, i + int_part + 1);
    if frac == 0 { 0 } else { int_part + 1 + frac }
}

/// Length of a string literal starting at the quote at `i`, or 0 when it is
/// unterminated or holds an escape other than `\'` and `\\`.
pub(crate) fn string_len(s: &[u8], i: usize) -> usize {
    let mut j = i + 1;
    loop {
        match s.get(j) {
            None => return 0,
            Some(b'\'') => return j + 1 - i,
            Some(b'\\') => match s.get(j + 1) {
                Some(b'\'') | Some(b'\\') => j += 2,
                _ => return 0,
            },
            Some(_) => j += 1,
        }
    }
}

/// Content of a quoted `x'...'` literal starting at `i` (the prefix letter):
/// the index just past the closing quote, if there is one.
fn quoted_end(s: &[u8], i: usize) -> Option<usize> {
    if s.get(i + 1) != Some(&b'\'') {
        return None;
    }
    let body = s.get(i + 2..)?;
    let close = body.iter().position(|&b| b == b'\'')?;
    Some(i + 2 + close + 1)
}

fn hex_len(s: &[u8], i: usize) -> usize {
    let Some(end) = quoted_end(s, i) else {
        return 0;
    };
    let body = s.get(i + 2..end - 1).unwrap_or_default();
    if body.len() % 2 == 0 && body.iter().all(u8::is_ascii_hexdigit) {
        end - i
    } else {
        0
    }
}

fn binary_len(s: &[u8], i: usize) -> usize {
    let Some(end) = quoted_end(s, i) else {
        return 0;
    };
    let body = s.get(i + 2..end - 1).unwrap_or_default();
    let pad = body.iter().rev().take_while(|&&b| b == b'=').count();
    let data = body.get(..body.len() - pad).unwrap_or_default();
    if !body.is_empty() && body.len() % 4 == 0 && pad <= 2 && data.iter().all(|&b| is_base64(b)) {
        end - i
    } else {
        0
    }
}

/// `t'YYYY-MM-DDTHH:MM:SS(.f+)?Z'` with the grammar's digit ranges.
fn timestamp_len(s: &[u8], i: usize) -> usize {
    if s.get(i + 1) != Some(&b'\'') {
        return 0;
    }
    let Some(rest) = s.get(i + 2..) else {
        return 0;
    };
    let d = |k: usize| rest.get(k).copied().filter(u8::is_ascii_digit);
    let at = |k: usize, c: u8| rest.get(k) == Some(&c);
    let two = |k: usize, ok: fn(u8, u8) -> bool| match (d(k), d(k + 1)) {
        (Some(a), Some(b)) => ok(a, b),
        _ => false,
    };
    let fixed = (0..4).all(|k| d(k).is_some())
        && at(4, b'-')
        && two(5, |a, b| {
            (a == b'0' && b != b'0') || (a == b'1' && b <= b'2')
        })
        && at(7, b'-')
        && two(8, |a, b| {
            (a == b'0' && b != b'0') || a == b'1' || a == b'2' || (a == b'3' && b <= b'1')
        })
        && at(10, b'T')
        && two(11, |a, b| a <= b'1' || (a == b'2' && b <= b'3'))
        && at(13, b':')
        && two(14, |a, _| a <= b'5')
        && at(16, b':')
        && two(17, |a, b| a <= b'5' || (a == b'6' && b == b'0'));
    if !fixed {
        return 0;
    }
    let mut k = 19;
    if at(k, b'.') {
        let frac = digits(rest, k + 1);
        if frac == 0 {
            return 0;
        }
        k += 1 + frac;
    }
    if at(k, b'Z') && at(k + 1, b'\'') {
        2 + k + 2
    } else {
        0
    }
}

fn keyword(word: &[u8], version: StixVersion) -> Option<Kind> {
    Some(match word {
        b"AND" => Kind::And,
        b"OR" => Kind::Or,
        b"NOT" => Kind::Not,
        b"FOLLOWEDBY" => Kind::FollowedBy,
        b"LIKE" => Kind::Like,
        b"MATCHES" => Kind::Matches,
        b"ISSUPERSET" => Kind::IsSuperset,
        b"ISSUBSET" => Kind::IsSubset,
        b"EXISTS" if version == StixVersion::V21 => Kind::Exists,
        b"LAST" => Kind::Last,
        b"IN" => Kind::In,
        b"START" => Kind::Start,
        b"STOP" => Kind::Stop,
        b"SECONDS" => Kind::Seconds,
        b"WITHIN" => Kind::Within,
        b"REPEATS" => Kind::Repeats,
        b"TIMES" => Kind::Times,
        b"true" | b"false" => Kind::Bool,
        _ => return None,
    })
}

/// Splits `text` into tokens, skipping whitespace and comments. Every input
/// lexes (unknown characters become `Invalid` tokens for the parser to
/// reject), so the lexer itself never fails.
pub(crate) fn tokenize(text: &str, version: StixVersion) -> Vec<Token> {
    let s = text.as_bytes();
    let mut tokens = Vec::with_capacity(s.len() / 4 + 1);
    let mut i = 0;
    while let Some(&b) = s.get(i) {
        let (kind, len) = match b {
            b'-' => {
                let int = uint_len(s, i + 1);
                let float = ufloat_len(s, i + 1);
                if float > 0 && float >= int {
                    (Kind::FloatNeg, float + 1)
                } else if int > 0 {
                    (Kind::IntNeg, int + 1)
                } else {
                    (Kind::Minus, 1)
                }
            }
            b'+' | b'0'..=b'9' | b'.' => {
                let sign = usize::from(b == b'+');
                let int = uint_len(s, i + sign);
                let float = ufloat_len(s, i + sign);
                if float > 0 && float >= int {
                    (Kind::FloatPos, float + sign)
                } else if int > 0 {
                    (Kind::IntPos, int + sign)
                } else if b == b'+' {
                    (Kind::Plus, 1)
                } else {
                    (Kind::Dot, 1)
                }
            }
            b'\'' => match string_len(s, i) {
                0 => (Kind::Quote, 1),
                n => (Kind::Str, n),
            },
            _ if is_ident_start(b) => {
                let plain = s
                    .get(i..)
                    .map_or(0, |r| r.iter().take_while(|&&c| is_ident_char(c)).count());
                let hyphen = s.get(i..).map_or(0, |r| {
                    r.iter()
                        .take_while(|&&c| is_ident_char(c) || c == b'-')
                        .count()
                });
                let literal = match b {
                    b'h' => (Kind::Hex, hex_len(s, i)),
                    b'b' => (Kind::Binary, binary_len(s, i)),
                    b't' => (Kind::Timestamp, timestamp_len(s, i)),
                    _ => (Kind::Invalid, 0),
                };
                if literal.1 > hyphen {
                    literal
                } else if hyphen > plain {
                    (Kind::IdentHyphen, hyphen)
                } else {
                    let word = s.get(i..i + plain).unwrap_or_default();
                    (keyword(word, version).unwrap_or(Kind::IdentNoHyphen), plain)
                }
            }
            b'=' => (Kind::Eq, if s.get(i + 1) == Some(&b'=') { 2 } else { 1 }),
            b'!' if s.get(i + 1) == Some(&b'=') => (Kind::Neq, 2),
            b'<' => match s.get(i + 1) {
                Some(b'=') => (Kind::Le, 2),
                Some(b'>') => (Kind::Neq, 2),
                _ => (Kind::Lt, 1),
            },
            b'>' => match s.get(i + 1) {
                Some(b'=') => (Kind::Ge, 2),
                _ => (Kind::Gt, 1),
            },
            b':' => (Kind::Colon, 1),
            b',' => (Kind::Comma, 1),
            b'(' => (Kind::LParen, 1),
            b')' => (Kind::RParen, 1),
            b'[' => (Kind::LBrack, 1),
            b']' => (Kind::RBrack, 1),
            b'^' => (Kind::Caret, 1),
            b'*' => (Kind::Star, 1),
            b'/' => match s.get(i + 1) {
                Some(b'*') => {
                    let close = s
                        .get(i + 2..)
                        .and_then(|r| r.windows(2).position(|w| w == b"*/"));
                    match close {
                        Some(p) => {
                            i += 2 + p + 2;
                            continue;
                        }
                        None => (Kind::Slash, 1),
                    }
                }
                Some(b'/') => {
                    let len = s.get(i..).map_or(0, |r| {
                        r.iter().take_while(|&&c| c != b'\r' && c != b'\n').count()
                    });
                    i += len;
                    continue;
                }
                _ => (Kind::Slash, 1),
            },
            _ => {
                let c = text.get(i..).and_then(|r| r.chars().next()).unwrap_or('\0');
                if is_ws(c) {
                    i += c.len_utf8();
                    continue;
                }
                (Kind::Invalid, c.len_utf8().max(1))
            }
        };
        tokens.push(Token {
            kind,
            start: i,
            end: i + len,
        });
        i += len;
    }
    tokens.push(Token {
        kind: Kind::Eof,
        start: s.len(),
        end: s.len(),
    });
    tokens
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(text: &str) -> Vec<Kind> {
        tokenize(text, StixVersion::V21)
            .into_iter()
            .map(|t| t.kind)
            .collect()
    }

    #[test]
    fn numbers_follow_longest_match() {
        assert_eq!(kinds("-12.5"), vec![Kind::FloatNeg, Kind::Eof]);
        assert_eq!(kinds("01"), vec![Kind::IntPos, Kind::IntPos, Kind::Eof]);
        assert_eq!(kinds("1."), vec![Kind::IntPos, Kind::Dot, Kind::Eof]);
        assert_eq!(kinds(".5"), vec![Kind::FloatPos, Kind::Eof]);
        assert_eq!(kinds("+7"), vec![Kind::IntPos, Kind::Eof]);
    }

    #[test]
    fn quoted_literals_need_their_exact_form() {
        assert_eq!(kinds("h'0a'"), vec![Kind::Hex, Kind::Eof]);
        assert_eq!(kinds("h'a'")[0], Kind::IdentNoHyphen);
        assert_eq!(kinds("b'YQ=='"), vec![Kind::Binary, Kind::Eof]);
        assert_eq!(kinds("b'===='")[0], Kind::IdentNoHyphen);
        assert_eq!(
            kinds("t'2016-02-30T00:00:60.5Z'"),
            vec![Kind::Timestamp, Kind::Eof]
        );
        assert_eq!(kinds("t'2016-13-01T00:00:00Z'")[0], Kind::IdentNoHyphen);
        assert_eq!(kinds(r"'a\'b\\'"), vec![Kind::Str, Kind::Eof]);
        assert_eq!(kinds(r"'a\n'")[0], Kind::Quote);
    }

    #[test]
    fn keywords_are_case_sensitive_and_version_dependent() {
        assert_eq!(
            kinds("AND and true TRUE")[..4],
            [
                Kind::And,
                Kind::IdentNoHyphen,
                Kind::Bool,
                Kind::IdentNoHyphen
            ]
        );
        assert_eq!(
            tokenize("EXISTS", StixVersion::V20)[0].kind,
            Kind::IdentNoHyphen
        );
        assert_eq!(kinds("EXISTS")[0], Kind::Exists);
        assert_eq!(
            kinds("x-y AND-")[..2],
            [Kind::IdentHyphen, Kind::IdentHyphen]
        );
    }

    #[test]
    fn comments_and_unicode_whitespace_are_skipped() {
        assert_eq!(
            kinds("/* x */ [\u{3000}] // y"),
            vec![Kind::LBrack, Kind::RBrack, Kind::Eof]
        );
        assert_eq!(
            kinds("/* x"),
            vec![Kind::Slash, Kind::Star, Kind::IdentNoHyphen, Kind::Eof]
        );
        assert_eq!(kinds("é")[0], Kind::Invalid);
    }
}
