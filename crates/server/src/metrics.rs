//! Prometheus metrics, served on their own listener so that scraping needs
//! no TAXII credentials and never shares a port with partners.

use std::sync::Mutex;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub method: String,
    pub endpoint: String,
    pub status: u16,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct EndpointLabels {
    pub endpoint: String,
}

#[derive(Debug)]
pub struct Metrics {
    registry: Mutex<Registry>,
    pub requests: Family<RequestLabels, Counter>,
    pub durations: Family<EndpointLabels, Histogram>,
    pub objects_stored: Counter,
    pub objects_duplicate: Counter,
    pub objects_rejected: Counter,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("tearline");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests by method, endpoint and status",
            requests.clone(),
        );
        let durations = Family::<EndpointLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.0005, 2.0, 16))
        });
        registry.register(
            "http_request_duration_seconds",
            "Time to answer a request, by endpoint",
            durations.clone(),
        );
        let objects_stored = Counter::default();
        registry.register(
            "objects_stored",
            "STIX object versions stored",
            objects_stored.clone(),
        );
        let objects_duplicate = Counter::default();
        registry.register(
            "objects_duplicate",
            "STIX object versions received that were already stored",
            objects_duplicate.clone(),
        );
        let objects_rejected = Counter::default();
        registry.register(
            "objects_rejected",
            "STIX objects refused (invalid)",
            objects_rejected.clone(),
        );
        Metrics {
            registry: Mutex::new(registry),
            requests,
            durations,
            objects_stored,
            objects_duplicate,
            objects_rejected,
        }
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut text = String::new();
        if let Ok(registry) = self.registry.lock() {
            // Writing into a String cannot fail.
            let _ = encode(&mut text, &registry);
        }
        text
    }
}
