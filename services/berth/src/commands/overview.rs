//! `berth overview [--registry R]`.

use clap::Args;

use super::segment;
use crate::client::Client;
use crate::output::{print, Format};

#[derive(Args)]
pub struct OverviewArgs {
    /// One registry instead of the whole platform.
    #[arg(long)]
    registry: Option<String>,
}

pub async fn run(client: &Client, format: Format, args: OverviewArgs) -> anyhow::Result<()> {
    let path = match &args.registry {
        Some(r) => format!("/api/v1/registries/{}/overview", segment(r)),
        None => "/api/v1/overview".to_string(),
    };
    let value = client.get(&path).await?;
    print(
        format,
        &value,
        &[
            ("REGISTRIES", "/registries"),
            ("SPACES", "/spaces"),
            ("REPOSITORIES", "/repositories"),
            ("ARTIFACTS", "/artifacts"),
            ("STORAGE_BYTES", "/storage_bytes"),
        ],
    );
    Ok(())
}
