//! What the GraphQL layer remembers of requests it saw (their parsed documents, see
//! [`crate::documents`]; that they passed validation, see [`crate::validated`]): a bounded map
//! shared by every request. When full it is emptied and refills with what is sent now, which for
//! the few requests a dashboard or an integrator repeats is at once. A panic elsewhere while the
//! map was held leaves it usable: it holds only what can be worked out again.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Mutex, MutexGuard};

/// At most `most` values by their keys.
#[derive(Debug)]
pub struct Kept<K, V> {
    most: usize,
    map: Mutex<HashMap<K, V>>,
}

impl<K: Eq + Hash, V: Clone> Kept<K, V> {
    /// An empty map that keeps at most `most` values.
    pub fn new(most: usize) -> Self {
        Self {
            most,
            map: Mutex::new(HashMap::new()),
        }
    }

    /// The value kept for `key`.
    pub fn get<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Eq + Hash + ?Sized,
    {
        self.map().get(key).cloned()
    }

    /// Keeps `value` for `key`, emptying the map first when it is full.
    pub fn keep(&self, key: K, value: V) {
        let mut map = self.map();
        if map.len() >= self.most {
            map.clear();
        }
        map.insert(key, value);
    }

    /// How many values are kept.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.map().len()
    }

    fn map(&self) -> MutexGuard<'_, HashMap<K, V>> {
        self.map
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
