//! `berth-gateway`: the gateway as its own process (production deployments).

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    berth_gateway::binary::run("berth-gateway").await
}
