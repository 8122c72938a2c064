//! STIX 2.1 core: read, validate and canonicalise objects.
//!
//! The crate does no I/O of its own beyond reading from a caller-supplied
//! `Read`, and never looks at a clock: every result depends only on its input.
//! Everything above it (store, release, server) stands on these rules, so the
//! parsers here treat all input as hostile: no panics, bounded depth, bounded
//! sizes (see [`Limits`]).

pub mod canonical;
pub mod finding;
pub mod limits;
pub mod markings;
pub mod reader;
pub mod selector;
pub mod validate;

pub use finding::{Finding, Severity};
pub use limits::Limits;
