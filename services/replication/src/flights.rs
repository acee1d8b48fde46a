//! Blobs in flight to a destination registry: the same blob is never copied twice at once.
//!
//! The first task to need a blob at a destination copies it while holding the blob's lock;
//! tasks that need it meanwhile wait, then mount it from the repository it arrived in (same
//! registry), so shared base layers cross the wire once per run. Per worker process.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::OwnedMutexGuard;

/// Where a blob already is at the destination, once a flight has landed it.
pub type Landed = Option<String>;

const MAX_ENTRIES: usize = 100_000;

#[derive(Default)]
pub struct Flights {
    blobs: Mutex<HashMap<String, Arc<tokio::sync::Mutex<Landed>>>>,
}

impl Flights {
    /// Waits for exclusive use of `digest` at `registry`; the guard says where it landed, if
    /// an earlier flight landed it, and is updated by whoever copies it.
    pub async fn hold(&self, registry: &str, digest: &str) -> OwnedMutexGuard<Landed> {
        let lock = {
            let mut all = self.blobs.lock().expect("flights lock");
            if all.len() > MAX_ENTRIES {
                all.retain(|_, l| Arc::strong_count(l) > 1);
            }
            all.entry(format!("{registry}\n{digest}"))
                .or_default()
                .clone()
        };
        lock.lock_owned().await
    }
}
