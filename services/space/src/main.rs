//! `berth-space`: the space service as its own process (production deployments).

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    berth_space::binary::run("berth-space").await
}
