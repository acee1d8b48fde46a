//! `berth registry add|list|get|update|rm|ping|hook-secret`.

use std::io::Read;

use clap::{Args, Subcommand};
use reqwest::Method;
use serde_json::{json, Map, Value};

use super::segment;
use crate::client::Client;
use crate::output::{print, Format};

const COLUMNS: &[(&str, &str)] = &[
    ("NAME", "/name"),
    ("KIND", "/kind"),
    ("URL", "/url"),
    ("SCOPE", "/scope"),
    ("HEALTH", "/health/status"),
    ("LATENCY_MS", "/health/latency_ms"),
    ("ERROR", "/health/error"),
];

#[derive(Subcommand)]
pub enum RegistryCommand {
    /// Integrate a registry.
    Add(AddArgs),
    /// List integrated registries.
    List,
    /// Show one registry.
    Get {
        /// The registry's name in Berth.
        name: String,
    },
    /// Change a registry.
    Update(UpdateArgs),
    /// Remove a registry from Berth (the registry itself is untouched).
    Rm {
        /// The registry's name in Berth.
        name: String,
        /// Also remove its spaces (with their bindings) and the replication policies naming it.
        #[arg(long)]
        cascade: bool,
    },
    /// Check a registry's health now.
    Ping {
        /// The registry's name in Berth.
        name: String,
    },
    /// Set a new secret for the registry's notifications (shown once, with the configuration
    /// the registry needs); the old one stops working.
    HookSecret {
        /// The registry's name in Berth.
        name: String,
    },
}

#[derive(Args)]
pub struct CredentialArgs {
    /// The user Berth signs in to the registry as.
    #[arg(long)]
    username: Option<String>,
    /// Prefer --password-stdin or BERTH_REGISTRY_PASSWORD: flags are visible to other users.
    #[arg(long, env = "BERTH_REGISTRY_PASSWORD", hide_env_values = true)]
    password: Option<String>,
    /// Read the password from standard input.
    #[arg(long)]
    password_stdin: bool,
}

impl CredentialArgs {
    fn to_json(&self) -> anyhow::Result<Option<Value>> {
        let password = if self.password_stdin {
            let mut s = String::new();
            std::io::stdin().read_to_string(&mut s)?;
            Some(s.trim_end_matches(['\n', '\r']).to_string())
        } else {
            self.password.clone()
        };
        Ok(match (&self.username, password) {
            (None, None) => None,
            (u, p) => Some(
                json!({"username": u.clone().unwrap_or_default(), "password": p.unwrap_or_default()}),
            ),
        })
    }
}

#[derive(Args)]
pub struct AddArgs {
    /// The registry's name in Berth (DNS-label style).
    name: String,
    /// distribution, harbor or oci.
    #[arg(long)]
    kind: String,
    /// The registry's base URL, e.g. https://registry.example.com.
    #[arg(long)]
    url: String,
    #[command(flatten)]
    credential: CredentialArgs,
    /// Skip TLS certificate verification.
    #[arg(long)]
    insecure: bool,
    /// Free text shown in listings.
    #[arg(long, default_value = "")]
    description: String,
    /// Save without checking connectivity and credentials.
    #[arg(long)]
    no_verify: bool,
    /// `berth`: the registry delegates its auth to Berth's token service.
    #[arg(long)]
    token_service: Option<String>,
    /// Integrate the registry for one workspace only.
    #[arg(long)]
    workspace: Option<String>,
}

#[derive(Args)]
pub struct UpdateArgs {
    /// The registry's name in Berth.
    name: String,
    /// A new base URL.
    #[arg(long)]
    url: Option<String>,
    #[command(flatten)]
    credential: CredentialArgs,
    /// Skip (true) or require (false) TLS certificate verification.
    #[arg(long)]
    insecure: Option<bool>,
    /// New free text.
    #[arg(long)]
    description: Option<String>,
    /// Save without checking connectivity and credentials.
    #[arg(long)]
    no_verify: bool,
}

pub async fn run(client: &Client, format: Format, cmd: RegistryCommand) -> anyhow::Result<()> {
    let value = match cmd {
        RegistryCommand::Add(a) => {
            let mut body = json!({
                "name": a.name, "kind": a.kind, "url": a.url, "insecure": a.insecure,
                "description": a.description, "verify": !a.no_verify,
            });
            if let Some(t) = a.token_service {
                body["token_service"] = t.into();
            }
            if let Some(w) = a.workspace {
                body["workspace"] = w.into();
            }
            if let Some(c) = a.credential.to_json()? {
                body["credential"] = c;
            }
            client
                .call(Method::POST, "/api/v1/registries", Some(&body))
                .await?
        }
        RegistryCommand::List => client.get("/api/v1/registries").await?,
        RegistryCommand::Get { name } => {
            client
                .get(&format!("/api/v1/registries/{}", segment(&name)))
                .await?
        }
        RegistryCommand::Update(a) => {
            let mut body = Map::new();
            if let Some(u) = a.url {
                body.insert("url".into(), u.into());
            }
            if let Some(i) = a.insecure {
                body.insert("insecure".into(), i.into());
            }
            if let Some(d) = a.description {
                body.insert("description".into(), d.into());
            }
            if let Some(c) = a.credential.to_json()? {
                body.insert("credential".into(), c);
            }
            body.insert("verify".into(), (!a.no_verify).into());
            let path = format!("/api/v1/registries/{}", segment(&a.name));
            client
                .call(Method::PATCH, &path, Some(&Value::Object(body)))
                .await?
        }
        RegistryCommand::Rm { name, cascade } => {
            client
                .call(
                    Method::DELETE,
                    &format!("/api/v1/registries/{}?cascade={cascade}", segment(&name)),
                    None,
                )
                .await?;
            crate::output::done(
                format,
                &format!("registry {name} removed"),
                &format!("/api/v1/registries/{}", segment(&name)),
            );
            return Ok(());
        }
        RegistryCommand::Ping { name } => {
            let h = client
                .call(
                    Method::POST,
                    &format!("/api/v1/registries/{}/ping", segment(&name)),
                    None,
                )
                .await?;
            print(
                format,
                &h,
                &[
                    ("STATUS", "/status"),
                    ("LATENCY_MS", "/latency_ms"),
                    ("ERROR", "/error"),
                    ("CHECKED_AT", "/checked_at"),
                ],
            );
            return Ok(());
        }
        RegistryCommand::HookSecret { name } => {
            let v = client
                .call(
                    Method::POST,
                    &format!("/api/v1/registries/{}/hook-secret", segment(&name)),
                    None,
                )
                .await?;
            if crate::output::structured(format, &v).is_some() {
                return Ok(());
            }
            println!("secret: {}", v["secret"].as_str().unwrap_or_default());
            println!("(shown once; the registry sends it as \"Authorization: Bearer <secret>\")\n");
            println!("# Distribution config.yml (BERTH: this Berth's URL)");
            print!("{}", v["distribution"].as_str().unwrap_or_default());
            return Ok(());
        }
    };
    print(format, &value, COLUMNS);
    Ok(())
}
