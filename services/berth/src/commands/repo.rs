//! `berth repo list REGISTRY [--space S]`.

use clap::Subcommand;
use serde_json::Value;

use super::segment;
use crate::client::Client;
use crate::output::{print, Format};

#[derive(Subcommand)]
pub enum RepoCommand {
    /// List repositories of a registry (every page).
    List {
        /// The registry's name in Berth.
        registry: String,
        /// Only this space's repositories.
        #[arg(long)]
        space: Option<String>,
    },
}

pub async fn run(client: &Client, format: Format, cmd: RepoCommand) -> anyhow::Result<()> {
    let RepoCommand::List { registry, space } = cmd;
    let mut items = Vec::new();
    let mut token = String::new();
    loop {
        let mut path = format!(
            "/api/v1/registries/{}/repositories?page_size=500",
            segment(&registry)
        );
        if let Some(s) = &space {
            path.push_str(&format!("&space={}", segment(s)));
        }
        if !token.is_empty() {
            path.push_str(&format!("&page_token={}", segment(&token)));
        }
        let page = client.get(&path).await?;
        items.extend(page["items"].as_array().cloned().unwrap_or_default());
        match page["next_page_token"].as_str() {
            Some(t) if !t.is_empty() => token = t.to_string(),
            _ => break,
        }
    }
    let all = serde_json::json!({ "items": items, "next_page_token": Value::Null });
    print(
        format,
        &all,
        &[
            ("REPOSITORY", "/name"),
            ("SPACE", "/space"),
            ("ARTIFACTS", "/artifact_count"),
        ],
    );
    Ok(())
}
