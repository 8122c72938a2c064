//! JSON paths of findings, built without allocation while walking and
//! rendered (`$.a.b[0]`) only when a finding is emitted.

use std::fmt::Write;

#[derive(Debug, Clone, Copy)]
enum Step<'a> {
    Root,
    Key(&'a str),
    Index(usize),
}

/// A path as a chain of borrowed steps up to the root.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Path<'a> {
    parent: Option<&'a Path<'a>>,
    step: Step<'a>,
}

impl<'a> Path<'a> {
    pub(crate) const ROOT: Path<'static> = Path {
        parent: None,
        step: Step::Root,
    };

    pub(crate) fn key<'b>(&'b self, key: &'b str) -> Path<'b> {
        Path {
            parent: Some(self),
            step: Step::Key(key),
        }
    }

    pub(crate) fn index<'b>(&'b self, index: usize) -> Path<'b> {
        Path {
            parent: Some(self),
            step: Step::Index(index),
        }
    }

    pub(crate) fn render(&self) -> String {
        let mut steps = Vec::new();
        let mut at = Some(self);
        while let Some(path) = at {
            steps.push(path.step);
            at = path.parent;
        }
        let mut out = String::from("$");
        for step in steps.iter().rev() {
            match step {
                Step::Root => {}
                Step::Key(key) => crate::finding::push_path_key(&mut out, key),
                Step::Index(index) => {
                    let _ = write!(out, "[{index}]");
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_keys_indexes_and_odd_keys() {
        let root = Path::ROOT;
        let a = root.key("granular_markings");
        let b = a.index(0);
        let c = b.key("selectors");
        assert_eq!(c.render(), "$.granular_markings[0].selectors");
        let odd = root.key("a.b'c");
        assert_eq!(odd.render(), "$['a.b\\'c']");
        assert_eq!(Path::ROOT.render(), "$");
    }
}
