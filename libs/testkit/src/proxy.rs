//! A loopback TCP proxy that can be cut and restored, to make a real server unreachable to one
//! client without stopping it for every other test, or throttled, to make it slow to one client.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

pub struct TcpProxy {
    pub port: u16,
    target: SocketAddr,
    tasks: Arc<Mutex<Vec<JoinHandle<()>>>>,
    /// Bytes a second from the target to each client; 0: unlimited.
    rate: Arc<AtomicU64>,
}

/// Copies `from` to `to`, at most `rate` bytes a second on this connection (0: unlimited).
async fn throttled_copy(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    rate: Arc<AtomicU64>,
) {
    let mut buf = vec![0u8; 8192];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if to.write_all(&buf[..n]).await.is_err() {
            break;
        }
        let limit = rate.load(Ordering::Relaxed);
        if limit > 0 {
            tokio::time::sleep(Duration::from_secs_f64(n as f64 / limit as f64)).await;
        }
    }
    let _ = to.shutdown().await;
}

impl TcpProxy {
    /// Starts forwarding a free loopback port to `target`.
    pub async fn start(target: SocketAddr) -> anyhow::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        let proxy = Self {
            port,
            target,
            tasks: Arc::default(),
            rate: Arc::default(),
        };
        proxy.serve(listener);
        Ok(proxy)
    }

    fn serve(&self, listener: TcpListener) {
        let (tasks, target, rate) = (self.tasks.clone(), self.target, self.rate.clone());
        let accept = tokio::spawn(async move {
            while let Ok((inbound, _)) = listener.accept().await {
                let rate = rate.clone();
                let conn = tokio::spawn(async move {
                    if let Ok(outbound) = TcpStream::connect(target).await {
                        let (client_read, client_write) = inbound.into_split();
                        let (target_read, target_write) = outbound.into_split();
                        let up = throttled_copy(client_read, target_write, Arc::default());
                        let down = throttled_copy(target_read, client_write, rate);
                        tokio::join!(up, down);
                    }
                });
                tasks.lock().expect("proxy tasks").push(conn);
            }
        });
        self.tasks.lock().expect("proxy tasks").push(accept);
    }

    /// Limits what the target sends each client to `bytes_per_second` (0: no limit), from now on.
    pub fn throttle(&self, bytes_per_second: u64) {
        self.rate.store(bytes_per_second, Ordering::Relaxed);
    }

    /// Closes the listener and every connection: the target is now unreachable.
    pub fn cut(&self) {
        for t in self.tasks.lock().expect("proxy tasks").drain(..) {
            t.abort();
        }
    }

    /// Listens again on the same port.
    pub async fn restore(&self) -> anyhow::Result<()> {
        let listener = TcpListener::bind(("127.0.0.1", self.port)).await?;
        self.serve(listener);
        Ok(())
    }
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        self.cut();
    }
}
