//! `berth-replication`: the replication service as its own process (production deployments).

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    berth_replication::binary::run("berth-replication").await
}
