//! `berth-scan`: the scan service as its own process (production deployments).

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    berth_scan::binary::run("berth-scan").await
}
