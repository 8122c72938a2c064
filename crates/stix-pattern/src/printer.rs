//! AST → pattern text. Parsing the output gives back an equal tree for any
//! tree the parser produced.

use std::fmt::{self, Display, Formatter, Write};

use crate::ast::*;

impl Display for Pattern {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        self.root.fmt(f)
    }
}

/// Binding strength, loosest first; a child that binds looser than its
/// parent needs parentheses (only hand-built trees ever do).
fn observation_rank(e: &ObservationExpr) -> u8 {
    match e {
        ObservationExpr::FollowedBy(_) => 0,
        ObservationExpr::Or(_) => 1,
        ObservationExpr::And(_) => 2,
        _ => 3,
    }
}

fn write_observation_child(
    f: &mut Formatter<'_>,
    e: &ObservationExpr,
    parent_rank: u8,
) -> fmt::Result {
    if observation_rank(e) <= parent_rank {
        write!(f, "({e})")
    } else {
        e.fmt(f)
    }
}

impl Display for ObservationExpr {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let (items, word) = match self {
            ObservationExpr::Bracket(c) => return write!(f, "[{c}]"),
            ObservationExpr::Group(inner) => return write!(f, "({inner})"),
            ObservationExpr::Qualified { expr, qualifiers } => {
                write_observation_child(f, expr, 2)?;
                for q in qualifiers {
                    write!(f, " {q}")?;
                }
                return Ok(());
            }
            ObservationExpr::And(v) => (v, "AND"),
            ObservationExpr::Or(v) => (v, "OR"),
            ObservationExpr::FollowedBy(v) => (v, "FOLLOWEDBY"),
        };
        let rank = observation_rank(self);
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                write!(f, " {word} ")?;
            }
            write_observation_child(f, item, rank)?;
        }
        Ok(())
    }
}

impl Display for Qualifier {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Qualifier::Within(n) => write!(f, "WITHIN {} SECONDS", n.as_str()),
            Qualifier::Repeats(n) => write!(f, "REPEATS {} TIMES", n.as_str()),
            Qualifier::StartStop { start, stop } => {
                write!(f, "START t'{}' STOP t'{}'", start.as_str(), stop.as_str())
            }
        }
    }
}

impl Display for ComparisonExpr {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let (items, word, rank) = match self {
            ComparisonExpr::Test(t) => return t.fmt(f),
            ComparisonExpr::Group(inner) => return write!(f, "({inner})"),
            ComparisonExpr::Or(v) => (v, "OR", 0),
            ComparisonExpr::And(v) => (v, "AND", 1),
        };
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                write!(f, " {word} ")?;
            }
            let child_rank = match item {
                ComparisonExpr::Or(_) => 0,
                ComparisonExpr::And(_) => 1,
                _ => 2,
            };
            if child_rank <= rank {
                write!(f, "({item})")?;
            } else {
                item.fmt(f)?;
            }
        }
        Ok(())
    }
}

impl Display for Comparison {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let not = if self.negated { "NOT " } else { "" };
        if self.operator == Operator::Exists {
            return write!(f, "{not}EXISTS {}", self.path);
        }
        write!(f, "{} {not}{} ", self.path, self.operator.as_str())?;
        match &self.operand {
            Operand::Literal(l) => l.fmt(f),
            Operand::Set(items) => {
                f.write_char('(')?;
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    item.fmt(f)?;
                }
                f.write_char(')')
            }
            Operand::None => Ok(()),
        }
    }
}

pub(crate) fn write_quoted(f: &mut impl Write, s: &str) -> fmt::Result {
    f.write_char('\'')?;
    for c in s.chars() {
        if c == '\'' || c == '\\' {
            f.write_char('\\')?;
        }
        f.write_char(c)?;
    }
    f.write_char('\'')
}

impl Display for Literal {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Literal::Int(n) | Literal::Float(n) => f.write_str(n.as_str()),
            Literal::Str(s) => write_quoted(f, s),
            Literal::Bool(b) => write!(f, "{b}"),
            Literal::Binary(s) => write!(f, "b'{s}'"),
            Literal::Hex(s) => write!(f, "h'{s}'"),
            Literal::Timestamp(t) => write!(f, "t'{}'", t.as_str()),
        }
    }
}

impl Display for ObjectPath {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "{}:", self.object_type)?;
        for (i, step) in self.steps.iter().enumerate() {
            match step {
                PathStep::Key { name, quoted } => {
                    if i > 0 {
                        f.write_char('.')?;
                    }
                    if *quoted {
                        write_quoted(f, name)?;
                    } else {
                        f.write_str(name)?;
                    }
                }
                PathStep::Index(n) => write!(f, "[{}]", n.as_str())?,
                PathStep::AnyIndex => f.write_str("[*]")?,
            }
        }
        Ok(())
    }
}
