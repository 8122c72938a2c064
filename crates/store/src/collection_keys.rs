//! Collection ids to the internal keys that objects refer to. A collection
//! is never deleted and its key never changes, so a key once read stays
//! right for the life of the process, on every node; remembering it saves a
//! database round trip on every object query.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

/// More collections than any deployment has; past it the map starts over.
const MAX_ENTRIES: usize = 10_000;

#[derive(Debug, Clone, Default)]
pub(crate) struct CollectionKeys(Arc<RwLock<HashMap<String, i64>>>);

impl CollectionKeys {
    pub(crate) fn get(&self, collection_id: &str) -> Option<i64> {
        self.0.read().ok()?.get(collection_id).copied()
    }

    pub(crate) fn remember(&self, collection_id: &str, key: i64) {
        if let Ok(mut keys) = self.0.write() {
            if keys.len() >= MAX_ENTRIES {
                keys.clear();
            }
            keys.insert(collection_id.to_owned(), key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_and_starts_over_when_full() {
        let keys = CollectionKeys::default();
        assert_eq!(keys.get("a"), None);
        keys.remember("a", 7);
        assert_eq!(keys.get("a"), Some(7));
        for n in 0..MAX_ENTRIES {
            keys.remember(&format!("c{n}"), n as i64);
        }
        assert_eq!(keys.get("a"), None, "cleared when full");
        assert_eq!(
            keys.get(&format!("c{}", MAX_ENTRIES - 1)),
            Some(MAX_ENTRIES as i64 - 1)
        );
    }
}
