//! `berth-registry`: the registry service as its own process (production deployments).

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    berth_registry::binary::run("berth-registry").await
}
