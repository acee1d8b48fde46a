//! Per-policy limits shared by every task of the policy in this worker: a bandwidth budget
//! (bytes per second, a token bucket) and the number of artifacts copied at once.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use berth_oci::BlobStream;
use futures::StreamExt;
use tokio::sync::Semaphore;

/// A token bucket of `rate` bytes per second holding at most one second of burst.
pub struct Bandwidth {
    rate: u64,
    state: Mutex<(Instant, f64)>,
}

impl Bandwidth {
    pub fn new(rate: u64) -> Self {
        Self {
            rate,
            state: Mutex::new((Instant::now(), rate as f64)),
        }
    }

    /// Takes `n` bytes from the budget; answers how long to wait before sending them.
    fn take(&self, n: u64) -> Duration {
        let mut s = self.state.lock().expect("bandwidth lock");
        let now = Instant::now();
        let refill = now.duration_since(s.0).as_secs_f64() * self.rate as f64;
        s.1 = (s.1 + refill).min(self.rate as f64) - n as f64;
        s.0 = now;
        if s.1 >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-s.1 / self.rate as f64)
        }
    }

    /// `body`, paced to the budget.
    pub fn pace(self: &Arc<Self>, body: BlobStream) -> BlobStream {
        let this = self.clone();
        Box::pin(body.then(move |chunk| {
            let this = this.clone();
            async move {
                if let Ok(bytes) = &chunk {
                    let wait = this.take(bytes.len() as u64);
                    if !wait.is_zero() {
                        tokio::time::sleep(wait).await;
                    }
                }
                chunk
            }
        }))
    }
}

/// The limits of each policy, made on first use and replaced when the policy changes them.
#[derive(Default)]
pub struct Throttles {
    bandwidth: Mutex<HashMap<String, Arc<Bandwidth>>>,
    slots: Mutex<HashMap<String, (u32, Arc<Semaphore>)>>,
}

impl Throttles {
    /// The policy's bandwidth budget, if it has one.
    pub fn bandwidth(&self, policy: &str, rate: u64) -> Option<Arc<Bandwidth>> {
        let mut all = self.bandwidth.lock().expect("throttle lock");
        if rate == 0 {
            all.remove(policy);
            return None;
        }
        let b = all
            .entry(policy.to_string())
            .or_insert_with(|| Arc::new(Bandwidth::new(rate)));
        if b.rate != rate {
            *b = Arc::new(Bandwidth::new(rate));
        }
        Some(b.clone())
    }

    /// The semaphore bounding the policy's artifacts in flight, if it sets a bound.
    pub fn slots(&self, policy: &str, concurrency: u32) -> Option<Arc<Semaphore>> {
        let mut all = self.slots.lock().expect("throttle lock");
        if concurrency == 0 {
            all.remove(policy);
            return None;
        }
        let entry = all
            .entry(policy.to_string())
            .or_insert_with(|| (concurrency, Arc::new(Semaphore::new(concurrency as usize))));
        if entry.0 != concurrency {
            *entry = (concurrency, Arc::new(Semaphore::new(concurrency as usize)));
        }
        Some(entry.1.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_refills_at_its_rate() {
        let b = Bandwidth::new(1000);
        assert_eq!(b.take(1000), Duration::ZERO, "one second of burst");
        let wait = b.take(500);
        assert!(
            wait > Duration::from_millis(450) && wait <= Duration::from_millis(500),
            "{wait:?}"
        );
    }
}
