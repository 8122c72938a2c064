//! Recursive-descent parser.
//!
//! Binary operators are parsed with loops into n-ary nodes; the only
//! recursion is into parentheses and brackets, and every level of those
//! counts against [`PatternLimits::max_depth`].

use crate::ast::*;
use crate::lexer::{Kind, Token, tokenize};
use crate::{PatternError, PatternErrorKind, PatternLimits, StixVersion};

/// Nesting allowed whatever the caller asks for: parsing, printing and
/// matching recurse once per level, and deeper input could exhaust a 2 MiB
/// thread stack in an unoptimised build. Real patterns nest a few levels.
pub(crate) const HARD_MAX_DEPTH: usize = 128;

pub(crate) fn parse(
    text: &str,
    version: StixVersion,
    limits: &PatternLimits,
) -> Result<Pattern, PatternError> {
    if text.len() > limits.max_bytes {
        return Err(PatternError::new(
            text,
            limits.max_bytes,
            PatternErrorKind::TooLong {
                max_bytes: limits.max_bytes,
            },
        ));
    }
    let tokens = tokenize(text, version);
    let mut parser = Parser {
        text,
        tokens: &tokens,
        pos: 0,
        version,
        max_depth: limits.max_depth.min(HARD_MAX_DEPTH),
    };
    let root = parser.observation_chain(0)?;
    parser.expect(Kind::Eof, "the end of the pattern or an operator")?;
    check_leading_bracket(text)?;
    Ok(Pattern { version, root })
}

/// The reference validator insists that, past any opening parentheses and
/// whitespace, a pattern starts with `[`; this only differs from the grammar
/// for a pattern that starts with a comment.
fn check_leading_bracket(text: &str) -> Result<(), PatternError> {
    let first = text
        .chars()
        .find(|&c| c != '(' && !(c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)));
    if first == Some('[') {
        Ok(())
    } else {
        Err(PatternError::new(text, 0, PatternErrorKind::MissingBracket))
    }
}

struct Parser<'t> {
    text: &'t str,
    tokens: &'t [Token],
    pos: usize,
    version: StixVersion,
    max_depth: usize,
}

impl<'t> Parser<'t> {
    fn peek(&self) -> Token {
        self.tokens.get(self.pos).copied().unwrap_or(Token {
            kind: Kind::Eof,
            start: self.text.len(),
            end: self.text.len(),
        })
    }

    fn bump(&mut self) -> Token {
        let t = self.peek();
        if t.kind != Kind::Eof {
            self.pos += 1;
        }
        t
    }

    fn eat(&mut self, kind: Kind) -> bool {
        if self.peek().kind == kind {
            self.bump();
            true
        } else {
            false
        }
    }

    fn slice(&self, t: Token) -> &'t str {
        self.text.get(t.start..t.end).unwrap_or("")
    }

    fn unexpected(&self, expected: &str) -> PatternError {
        let t = self.peek();
        let found = if t.kind == Kind::Eof {
            "the end of the pattern".to_string()
        } else {
            let s = self.slice(t);
            let shown: String = s.chars().take(40).collect();
            format!("{} '{}'", t.kind.describe(), shown)
        };
        PatternError::new(
            self.text,
            t.start,
            PatternErrorKind::Syntax {
                expected: expected.to_string(),
                found,
            },
        )
    }

    fn expect(&mut self, kind: Kind, expected: &str) -> Result<Token, PatternError> {
        if self.peek().kind == kind {
            Ok(self.bump())
        } else {
            Err(self.unexpected(expected))
        }
    }

    fn enter(&self, depth: usize) -> Result<usize, PatternError> {
        let next = depth + 1;
        if next > self.max_depth {
            Err(PatternError::new(
                self.text,
                self.peek().start,
                PatternErrorKind::TooDeep {
                    max_depth: self.max_depth,
                },
            ))
        } else {
            Ok(next)
        }
    }

    /// `a FOLLOWEDBY b ...`, whose operands are `OR` chains of `AND` chains.
    fn observation_chain(&mut self, depth: usize) -> Result<ObservationExpr, PatternError> {
        let mut followed = vec![self.observation_or(depth)?];
        while self.eat(Kind::FollowedBy) {
            followed.push(self.observation_or(depth)?);
        }
        Ok(collapse(followed, ObservationExpr::FollowedBy))
    }

    fn observation_or(&mut self, depth: usize) -> Result<ObservationExpr, PatternError> {
        let mut ors = vec![self.observation_and(depth)?];
        while self.eat(Kind::Or) {
            ors.push(self.observation_and(depth)?);
        }
        Ok(collapse(ors, ObservationExpr::Or))
    }

    fn observation_and(&mut self, depth: usize) -> Result<ObservationExpr, PatternError> {
        let mut ands = vec![self.observation(depth)?];
        while self.eat(Kind::And) {
            ands.push(self.observation(depth)?);
        }
        Ok(collapse(ands, ObservationExpr::And))
    }

    fn observation(&mut self, depth: usize) -> Result<ObservationExpr, PatternError> {
        let expr = match self.peek().kind {
            Kind::LBrack => {
                let inner = self.enter(depth)?;
                self.bump();
                let comparison = self.comparison_or(inner)?;
                self.expect(Kind::RBrack, "']' or a comparison operator")?;
                ObservationExpr::Bracket(comparison)
            }
            Kind::LParen => {
                let inner = self.enter(depth)?;
                self.bump();
                let group = self.observation_chain(inner)?;
                self.expect(Kind::RParen, "')' or an observation operator")?;
                ObservationExpr::Group(Box::new(group))
            }
            _ => return Err(self.unexpected("'[' or '('")),
        };
        let mut qualifiers = Vec::new();
        loop {
            match self.peek().kind {
                Kind::Within => {
                    self.bump();
                    let t = self.peek();
                    if !matches!(t.kind, Kind::IntPos | Kind::FloatPos) {
                        return Err(self.unexpected("a positive number of seconds"));
                    }
                    self.bump();
                    self.expect(Kind::Seconds, "'SECONDS'")?;
                    qualifiers.push(Qualifier::Within(NumberText(self.slice(t).to_string())));
                }
                Kind::Repeats => {
                    self.bump();
                    let t = self.expect(Kind::IntPos, "a positive integer")?;
                    self.expect(Kind::Times, "'TIMES'")?;
                    qualifiers.push(Qualifier::Repeats(NumberText(self.slice(t).to_string())));
                }
                Kind::Start => {
                    self.bump();
                    let start = self.expect(Kind::Timestamp, "a timestamp t'...'")?;
                    self.expect(Kind::Stop, "'STOP'")?;
                    let stop = self.expect(Kind::Timestamp, "a timestamp t'...'")?;
                    qualifiers.push(Qualifier::StartStop {
                        start: self.timestamp(start),
                        stop: self.timestamp(stop),
                    });
                }
                _ => break,
            }
        }
        Ok(if qualifiers.is_empty() {
            expr
        } else {
            ObservationExpr::Qualified {
                expr: Box::new(expr),
                qualifiers,
            }
        })
    }

    fn comparison_or(&mut self, depth: usize) -> Result<ComparisonExpr, PatternError> {
        let mut ors = vec![self.comparison_and(depth)?];
        while self.eat(Kind::Or) {
            ors.push(self.comparison_and(depth)?);
        }
        Ok(collapse(ors, ComparisonExpr::Or))
    }

    fn comparison_and(&mut self, depth: usize) -> Result<ComparisonExpr, PatternError> {
        let mut ands = vec![self.property_test(depth)?];
        while self.eat(Kind::And) {
            ands.push(self.property_test(depth)?);
        }
        Ok(collapse(ands, ComparisonExpr::And))
    }

    fn property_test(&mut self, depth: usize) -> Result<ComparisonExpr, PatternError> {
        match self.peek().kind {
            Kind::LParen => {
                let inner = self.enter(depth)?;
                self.bump();
                let group = self.comparison_or(inner)?;
                self.expect(Kind::RParen, "')' or a comparison operator")?;
                Ok(ComparisonExpr::Group(Box::new(group)))
            }
            Kind::Not | Kind::Exists if self.version == StixVersion::V21 => {
                let negated = self.eat(Kind::Not);
                self.expect(Kind::Exists, "'EXISTS'")?;
                let path = self.object_path()?;
                Ok(ComparisonExpr::Test(Comparison {
                    path,
                    negated,
                    operator: Operator::Exists,
                    operand: Operand::None,
                }))
            }
            _ => {
                let path = self.object_path()?;
                let negated = self.eat(Kind::Not);
                let op = self.bump();
                let (operator, operand) = match op.kind {
                    Kind::Eq | Kind::Neq => {
                        let operator = if op.kind == Kind::Eq {
                            Operator::Eq
                        } else {
                            Operator::Neq
                        };
                        (operator, Operand::Literal(self.literal(true)?))
                    }
                    Kind::Lt | Kind::Le | Kind::Gt | Kind::Ge => {
                        let operator = match op.kind {
                            Kind::Lt => Operator::Lt,
                            Kind::Le => Operator::Le,
                            Kind::Gt => Operator::Gt,
                            _ => Operator::Ge,
                        };
                        (operator, Operand::Literal(self.literal(false)?))
                    }
                    Kind::In => (Operator::In, Operand::Set(self.set_literal()?)),
                    Kind::Like | Kind::Matches | Kind::IsSubset | Kind::IsSuperset => {
                        let operator = match op.kind {
                            Kind::Like => Operator::Like,
                            Kind::Matches => Operator::Matches,
                            Kind::IsSubset => Operator::IsSubset,
                            _ => Operator::IsSuperset,
                        };
                        let t = self.expect(Kind::Str, "a string")?;
                        (operator, Operand::Literal(Literal::Str(self.string(t))))
                    }
                    _ => {
                        self.pos -= usize::from(op.kind != Kind::Eof);
                        return Err(self.unexpected("a comparison operator"));
                    }
                };
                Ok(ComparisonExpr::Test(Comparison {
                    path,
                    negated,
                    operator,
                    operand,
                }))
            }
        }
    }

    fn object_path(&mut self) -> Result<ObjectPath, PatternError> {
        let t = self.peek();
        if !matches!(t.kind, Kind::IdentNoHyphen | Kind::IdentHyphen) {
            return Err(self.unexpected("an object type"));
        }
        self.bump();
        let object_type = self.slice(t).to_string();
        self.expect(Kind::Colon, "':'")?;
        let mut steps = vec![self.key()?];
        loop {
            match self.peek().kind {
                Kind::Dot => {
                    self.bump();
                    steps.push(self.key()?);
                }
                Kind::LBrack => {
                    self.bump();
                    let t = self.bump();
                    let step = match t.kind {
                        Kind::IntPos | Kind::IntNeg => {
                            PathStep::Index(NumberText(self.slice(t).to_string()))
                        }
                        Kind::Star => PathStep::AnyIndex,
                        _ => {
                            self.pos -= usize::from(t.kind != Kind::Eof);
                            return Err(self.unexpected("a list index or '*'"));
                        }
                    };
                    self.expect(Kind::RBrack, "']'")?;
                    steps.push(step);
                }
                _ => break,
            }
        }
        Ok(ObjectPath { object_type, steps })
    }

    fn key(&mut self) -> Result<PathStep, PatternError> {
        let t = self.peek();
        match t.kind {
            Kind::IdentNoHyphen => {
                self.bump();
                Ok(PathStep::Key {
                    name: self.slice(t).to_string(),
                    quoted: false,
                })
            }
            Kind::Str => {
                self.bump();
                Ok(PathStep::Key {
                    name: self.string(t),
                    quoted: true,
                })
            }
            _ => Err(self.unexpected("a property name (quote names with hyphens)")),
        }
    }

    fn set_literal(&mut self) -> Result<Vec<Literal>, PatternError> {
        self.expect(Kind::LParen, "'('")?;
        let mut items = Vec::new();
        if self.eat(Kind::RParen) {
            return Ok(items);
        }
        loop {
            items.push(self.literal(true)?);
            if self.eat(Kind::Comma) {
                continue;
            }
            self.expect(Kind::RParen, "',' or ')'")?;
            return Ok(items);
        }
    }

    fn literal(&mut self, allow_bool: bool) -> Result<Literal, PatternError> {
        let t = self.peek();
        let text = self.slice(t);
        let inner = || {
            text.get(2..text.len().saturating_sub(1))
                .unwrap_or("")
                .to_string()
        };
        let literal = match t.kind {
            Kind::IntPos | Kind::IntNeg => Literal::Int(NumberText(text.to_string())),
            Kind::FloatPos | Kind::FloatNeg => Literal::Float(NumberText(text.to_string())),
            Kind::Str => Literal::Str(self.string(t)),
            Kind::Bool if allow_bool => Literal::Bool(text == "true"),
            Kind::Binary => Literal::Binary(inner()),
            Kind::Hex => Literal::Hex(inner()),
            Kind::Timestamp => Literal::Timestamp(self.timestamp(t)),
            _ => {
                return Err(self.unexpected(if allow_bool {
                    "a constant"
                } else {
                    "an orderable constant (not a boolean)"
                }));
            }
        };
        self.bump();
        Ok(literal)
    }

    fn timestamp(&self, t: Token) -> TimestampText {
        let text = self.slice(t);
        TimestampText(
            text.get(2..text.len().saturating_sub(1))
                .unwrap_or("")
                .to_string(),
        )
    }

    fn string(&self, t: Token) -> String {
        let text = self.slice(t);
        unescape(text.get(1..text.len().saturating_sub(1)).unwrap_or(""))
    }
}

/// Resolves the two escapes the grammar allows, `\'` and `\\`.
pub(crate) fn unescape(body: &str) -> String {
    let mut out = String::with_capacity(body.len());
    let mut chars = body.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(next) = chars.next() {
                out.push(next);
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn collapse<T>(mut items: Vec<T>, make: fn(Vec<T>) -> T) -> T {
    if items.len() == 1
        && let Some(only) = items.pop()
    {
        return only;
    }
    make(items)
}

#[cfg(test)]
mod tests {
    use crate::{PatternErrorKind, PatternLimits, StixVersion, parse};

    fn error(text: &str) -> (usize, usize, PatternErrorKind) {
        match parse(text, StixVersion::V21, &PatternLimits::default()) {
            Ok(p) => panic!("{text} parsed as {p:?}"),
            Err(e) => (e.line, e.column, e.kind),
        }
    }

    #[test]
    fn errors_carry_their_position() {
        let (line, column, kind) = error("[file:size = ]");
        assert_eq!((line, column), (1, 14));
        assert!(matches!(kind, PatternErrorKind::Syntax { .. }));
        assert_eq!(error("[a:b = 1]\n  AND").1, 6);
        assert_eq!(error("[a:b = 1]\n  AND").0, 2);
        assert_eq!(error("[a:b = 1] within 2 seconds").1, 11);
        assert!(matches!(
            error("/* c */ [a:b = 1]").2,
            PatternErrorKind::MissingBracket
        ));
    }

    #[test]
    fn limits_bound_length_and_depth() {
        let limits = PatternLimits {
            max_bytes: 16,
            max_depth: 3,
        };
        assert!(matches!(
            parse(
                "[file:name = 'too long for the limit']",
                StixVersion::V21,
                &limits
            )
            .map_err(|e| e.kind),
            Err(PatternErrorKind::TooLong { max_bytes: 16 })
        ));
        let deep = format!("{}[a:b = 1]{}", "(".repeat(3), ")".repeat(3));
        let limits = PatternLimits {
            max_bytes: 1024,
            max_depth: 3,
        };
        assert!(matches!(
            parse(&deep, StixVersion::V21, &limits).map_err(|e| e.kind),
            Err(PatternErrorKind::TooDeep { max_depth: 3 })
        ));
        let nested = "[((((a:b = 1))))]";
        assert!(parse(nested, StixVersion::V21, &PatternLimits::default()).is_ok());
        // Far deeper than any stack could take, yet only an error.
        let hostile = "(".repeat(100_000);
        assert!(
            parse(
                &hostile,
                StixVersion::V21,
                &PatternLimits {
                    max_bytes: 1 << 20,
                    max_depth: usize::MAX
                }
            )
            .is_err()
        );
    }

    #[test]
    fn long_operator_chains_need_no_recursion() {
        let chain = vec!["[ipv4-addr:value = '10.0.0.1' OR ipv4-addr:value = '10.0.0.2']"; 10_000]
            .join(" OR ");
        let parsed = parse(&chain, StixVersion::V21, &PatternLimits::default());
        assert!(
            matches!(parsed.map(|p| p.root), Ok(crate::ast::ObservationExpr::Or(v)) if v.len() == 10_000)
        );
    }
}
