//! Shared load generation for the benchmarks: a fixed number of keep-alive workers send one
//! request after another for a fixed time; throughput and latency percentiles are reported.

use std::time::{Duration, Instant};

/// Throughput and latency of one run.
#[derive(Debug, Clone)]
pub struct Load {
    pub requests: u64,
    pub elapsed: Duration,
    pub p50: Duration,
    pub p99: Duration,
}

impl Load {
    pub fn rps(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64()
    }
}

impl std::fmt::Display for Load {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:>8.0} req/s  p50 {:>6.3} ms  p99 {:>6.3} ms  ({} requests)",
            self.rps(),
            self.p50.as_secs_f64() * 1e3,
            self.p99.as_secs_f64() * 1e3,
            self.requests
        )
    }
}

/// Sends `make()` requests from `workers` concurrent keep-alive clients for `duration`
/// (after a warm-up of a tenth of it); every answer must be a success.
pub async fn run<F>(workers: usize, duration: Duration, make: F) -> Load
where
    F: Fn(&reqwest::Client) -> reqwest::RequestBuilder + Send + Sync + Clone + 'static,
{
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(workers)
        .build()
        .expect("client");
    let warmup = Instant::now() + duration / 10;
    while Instant::now() < warmup {
        let r = make(&client).send().await.expect("request");
        assert!(
            r.status().is_success(),
            "warm-up request failed: {}",
            r.status()
        );
        let _ = r.bytes().await;
    }
    let start = Instant::now();
    let deadline = start + duration;
    let mut tasks = Vec::new();
    for _ in 0..workers {
        let (client, make) = (client.clone(), make.clone());
        tasks.push(tokio::spawn(async move {
            let mut samples = Vec::with_capacity(100_000);
            while Instant::now() < deadline {
                let t = Instant::now();
                let r = make(&client).send().await.expect("request");
                assert!(r.status().is_success(), "request failed: {}", r.status());
                let _ = r.bytes().await.expect("body");
                samples.push(t.elapsed());
            }
            samples
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.expect("worker"));
    }
    let elapsed = start.elapsed();
    all.sort();
    let pct = |p: f64| all[((all.len() as f64 * p) as usize).min(all.len() - 1)];
    Load {
        requests: all.len() as u64,
        elapsed,
        p50: pct(0.50),
        p99: pct(0.99),
    }
}
