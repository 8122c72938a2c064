//! Need-to-know release.
//!
//! This crate decides what of the home party's intelligence a partner
//! receives and builds it. It knows neither HTTP nor SQL: callers hand it
//! objects and decisions, it hands back derivatives and reasons.
//!
//! Today it holds the two pure cores of a release:
//! - [`redact`]: one object → its derivative for one recipient, built by
//!   copying only cleared content into an empty object (allow-list, never
//!   delete-from-original), with granular-marking selectors rewritten;
//! - [`closure`]: a set of derivatives → references closed over what the
//!   recipient actually receives, withholding what cannot stand alone.

#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

pub mod closure;
pub mod pipeline;
pub mod policy;
pub mod prune;
pub mod redact;
