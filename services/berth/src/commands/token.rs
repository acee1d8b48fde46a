//! `berth token create|list|revoke`.

use clap::Subcommand;
use reqwest::Method;
use serde_json::json;

use super::segment;
use crate::client::Client;
use crate::output::{print, Format};

#[derive(Subcommand)]
pub enum TokenCommand {
    /// Mint an API token for PRINCIPAL (platform admins); it is shown once.
    Create {
        /// Who the token authenticates as.
        principal: String,
        /// Lifetime in seconds (default 90 days).
        #[arg(long)]
        ttl: Option<i64>,
    },
    /// Stored tokens (never the tokens themselves): all for platform admins, else your own.
    List,
    /// Revoke a token by its id, at once.
    Revoke {
        /// The token's id (from `berth token list`).
        id: String,
    },
}

const COLUMNS: &[(&str, &str)] = &[
    ("ID", "/id"),
    ("PRINCIPAL", "/principal"),
    ("KIND", "/kind"),
    ("CREATED_BY", "/created_by"),
    ("EXPIRES_AT", "/expires_at"),
    ("LAST_USED_AT", "/last_used_at"),
];

pub async fn run(client: &Client, format: Format, c: TokenCommand) -> anyhow::Result<()> {
    match c {
        TokenCommand::Create { principal, ttl } => {
            let mut body = json!({ "principal": principal });
            if let Some(t) = ttl {
                body["ttl_seconds"] = t.into();
            }
            let v = client
                .call(Method::POST, "/api/v1/tokens", Some(&body))
                .await?;
            print(
                format,
                &v,
                &[("TOKEN", "/token"), ("EXPIRES_AT", "/expires_at")],
            );
        }
        TokenCommand::List => {
            let v = client.get("/api/v1/tokens?page_size=1000").await?;
            print(format, &v, COLUMNS);
        }
        TokenCommand::Revoke { id } => {
            client
                .call(
                    Method::DELETE,
                    &format!("/api/v1/tokens/{}", segment(&id)),
                    None,
                )
                .await?;
            crate::output::done(
                format,
                &format!("token {id} revoked"),
                &format!("/api/v1/tokens/{}", segment(&id)),
            );
        }
    }
    Ok(())
}
