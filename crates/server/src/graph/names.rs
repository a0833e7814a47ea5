//! Interned names: every endpoint, rule and node name the flows mention, numbered from 1.
//! The numbers are the store's too (`names` table), so an edge is a row of integers on
//! disk and a few words in memory.

use foldhash::HashMap;
use std::sync::Arc;

#[derive(Default)]
pub struct Names {
    ids: HashMap<Arc<str>, u32>,
    /// `names[n - 1]` is name number `n`.
    names: Vec<Arc<str>>,
}

impl Names {
    pub fn id(&self, name: &str) -> Option<u32> {
        self.ids.get(name).copied()
    }

    /// The name of `id`; empty for 0 or an unknown number (never produced by `insert`).
    pub fn name(&self, id: u32) -> &str {
        match id.checked_sub(1).and_then(|i| self.names.get(i as usize)) {
            Some(n) => n,
            None => "",
        }
    }

    /// The number the next new name gets.
    pub fn next_id(&self) -> u32 {
        self.names.len() as u32 + 1
    }

    /// Adds `name` as number `id` (ids come from `next_id`, so the table stays dense;
    /// a gap, which only a hand-edited database could hold, is filled with empty names).
    pub fn insert(&mut self, id: u32, name: &str) {
        if id == 0 || self.ids.contains_key(name) {
            return;
        }
        let name: Arc<str> = Arc::from(name);
        let i = id as usize - 1;
        if i >= self.names.len() {
            self.names.resize(i + 1, Arc::from(""));
        }
        self.names[i] = name.clone();
        self.ids.insert(name, id);
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }
}
