//! The TAXII 2.1 HTTP API: an axum router over a [`store::Store`].
//!
//! This crate knows HTTP (status codes, media types, headers) and nothing
//! about SQL. [`router`] builds the TAXII service; [`metrics_router`] the
//! Prometheus endpoint for a separate listener. Sockets, TLS and
//! configuration files belong to the binary.

use std::sync::Arc;

use stix::Limits;
use stix::validate::Validator;
use store::Store;

pub mod api;
pub mod auth;
pub mod error;
pub mod filters;
pub mod ingest;
pub mod ledger_api;
pub mod ledger_ops;
pub mod media;
pub mod metrics;
pub mod releases;
pub mod timestamp;

mod handlers;
mod routes;

pub use error::ApiError;
pub use routes::{metrics_router, router};

/// What the operator configures about the TAXII service itself.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Discovery `title`.
    pub title: String,
    pub description: Option<String>,
    pub contact: Option<String>,
    pub limits: Limits,
    /// Page size when a request names no `limit` (capped by
    /// `limits.max_page_size`).
    pub default_page_size: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            title: "tearline".to_owned(),
            description: Some("Need-to-know threat-intelligence exchange (TAXII 2.1)".to_owned()),
            contact: None,
            limits: Limits::default(),
            default_page_size: 1_000,
        }
    }
}

/// Shared by every request.
#[derive(Debug, Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub settings: Arc<Settings>,
    pub validator: Arc<Validator>,
    pub authenticator: Arc<auth::Authenticator>,
    pub metrics: Arc<metrics::Metrics>,
    /// Signs ledger checkpoints; `None` answers the ledger's signed
    /// endpoints with an error (records and proofs still work).
    pub ledger_signer: Option<ledger_ops::LogSigner>,
}

impl AppState {
    pub fn new(store: Arc<dyn Store>, settings: Settings) -> Self {
        AppState {
            store,
            settings: Arc::new(settings),
            validator: Arc::new(Validator::default()),
            authenticator: Arc::new(auth::Authenticator::new()),
            metrics: Arc::new(metrics::Metrics::new()),
            ledger_signer: None,
        }
    }

    pub fn with_ledger_signer(mut self, signer: ledger_ops::LogSigner) -> Self {
        self.ledger_signer = Some(signer);
        self
    }
}
