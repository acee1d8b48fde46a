//! `berth workspace …`, `berth space …`, `berth bind` / `berth unbind`, `berth access check`,
//! `berth namespace pull-secret`.

use anyhow::Context;
use clap::Subcommand;
use reqwest::Method;
use serde_json::{json, Map, Value};

use super::segment;
use crate::client::Client;
use crate::output::{print, Format};

const WORKSPACE_COLUMNS: &[(&str, &str)] = &[
    ("WORKSPACE", "/name"),
    ("NAMESPACES", "/namespaces"),
    ("DESCRIPTION", "/description"),
];
const SPACE_COLUMNS: &[(&str, &str)] = &[
    ("REGISTRY", "/registry"),
    ("SPACE", "/name"),
    ("VISIBILITY", "/visibility"),
    ("WORKSPACES", "/workspaces"),
    ("QUOTA_BYTES", "/quota_bytes"),
];

#[derive(Subcommand)]
pub enum WorkspaceCommand {
    /// Create a workspace (tenant).
    Create {
        /// The workspace's name.
        name: String,
        /// Free text shown in listings.
        #[arg(long, default_value = "")]
        description: String,
    },
    /// List workspaces (yours; all for platform admins).
    List,
    /// Show a workspace with its namespaces and members.
    Get {
        /// The workspace's name.
        name: String,
    },
    /// Remove a workspace.
    Rm {
        /// The workspace's name.
        name: String,
        /// Also remove its bindings and the registries it integrated (with their dependents).
        #[arg(long)]
        cascade: bool,
    },
    /// Put a Kubernetes namespace into a workspace.
    AddNamespace {
        /// The workspace's name.
        workspace: String,
        /// The Kubernetes namespace.
        namespace: String,
    },
    /// Take a Kubernetes namespace out of a workspace.
    RemoveNamespace {
        /// The workspace's name.
        workspace: String,
        /// The Kubernetes namespace.
        namespace: String,
    },
    /// Grant a role: workspace-admin, workspace-editor or workspace-viewer.
    SetMember {
        /// The workspace's name.
        workspace: String,
        /// The principal (user or service account name).
        principal: String,
        /// workspace-admin, workspace-editor or workspace-viewer.
        role: String,
    },
    /// Take a principal out of a workspace.
    RemoveMember {
        /// The workspace's name.
        workspace: String,
        /// The principal.
        principal: String,
    },
}

#[derive(Subcommand)]
pub enum SpaceCommand {
    /// Create REGISTRY/SPACE (private unless --public).
    Create {
        /// The space, as REGISTRY/SPACE.
        space: String,
        /// Anyone may pull (no binding needed).
        #[arg(long)]
        public: bool,
        /// Storage quota in bytes (Harbor registries enforce it); none by default.
        #[arg(long)]
        quota_bytes: Option<u64>,
        /// Free text shown in listings.
        #[arg(long, default_value = "")]
        description: String,
    },
    /// Spaces of a registry.
    List {
        /// The registry's name in Berth.
        registry: String,
    },
    /// Show a space.
    Get {
        /// The space, as REGISTRY/SPACE.
        space: String,
    },
    /// Change a space's visibility, quota or description.
    Update {
        /// The space, as REGISTRY/SPACE.
        space: String,
        /// public or private.
        #[arg(long)]
        visibility: Option<String>,
        /// Storage quota in bytes (0: none).
        #[arg(long)]
        quota_bytes: Option<u64>,
        /// New free text.
        #[arg(long)]
        description: Option<String>,
    },
    /// Remove a space (its bindings go with it; images stay in the registry).
    Rm {
        /// The space, as REGISTRY/SPACE.
        space: String,
    },
    /// Record the spaces REGISTRY already has (Harbor projects, first path segments).
    Import {
        /// The registry's name in Berth.
        registry: String,
    },
}

#[derive(Subcommand)]
pub enum AccessCommand {
    /// May namespace NS pull IMAGE?
    Check {
        /// The Kubernetes namespace.
        namespace: String,
        /// host[:port]/space/repository[:tag|@digest].
        image: String,
    },
}

#[derive(Subcommand)]
pub enum NamespaceCommand {
    /// Print a new kubernetes.io/dockerconfigjson Secret for NS (pipe it to kubectl apply -f -).
    PullSecret {
        /// The Kubernetes namespace.
        namespace: String,
        /// Revoke every pull credential of the namespace instead.
        #[arg(long)]
        revoke: bool,
    },
}

/// `REGISTRY/SPACE` as its path under `/api/v1`.
fn space_path(space: &str) -> anyhow::Result<String> {
    let (registry, name) = space
        .split_once('/')
        .context("a space is named REGISTRY/SPACE")?;
    Ok(format!(
        "/api/v1/registries/{}/spaces/{}",
        segment(registry),
        segment(name)
    ))
}

async fn done(
    client: &Client,
    format: Format,
    method: Method,
    path: &str,
    body: Option<&Value>,
    message: String,
) -> anyhow::Result<()> {
    client.call(method, path, body).await?;
    crate::output::done(format, &message, path);
    Ok(())
}

pub async fn workspace(
    client: &Client,
    format: Format,
    cmd: WorkspaceCommand,
) -> anyhow::Result<()> {
    use WorkspaceCommand::*;
    let value = match cmd {
        Create { name, description } => {
            client
                .call(
                    Method::POST,
                    "/api/v1/workspaces",
                    Some(&json!({"name": name, "description": description})),
                )
                .await?
        }
        List => client.get("/api/v1/workspaces?page_size=1000").await?,
        Get { name } => {
            client
                .get(&format!("/api/v1/workspaces/{}", segment(&name)))
                .await?
        }
        Rm { name, cascade } => {
            let path = format!("/api/v1/workspaces/{}?cascade={cascade}", segment(&name));
            return done(
                client,
                format,
                Method::DELETE,
                &path,
                None,
                format!("workspace {name} removed"),
            )
            .await;
        }
        AddNamespace {
            workspace,
            namespace,
        } => {
            let path = format!(
                "/api/v1/workspaces/{}/namespaces/{}",
                segment(&workspace),
                segment(&namespace)
            );
            return done(
                client,
                format,
                Method::PUT,
                &path,
                None,
                format!("namespace {namespace} is in workspace {workspace}"),
            )
            .await;
        }
        RemoveNamespace {
            workspace,
            namespace,
        } => {
            let path = format!(
                "/api/v1/workspaces/{}/namespaces/{}",
                segment(&workspace),
                segment(&namespace)
            );
            return done(
                client,
                format,
                Method::DELETE,
                &path,
                None,
                format!("namespace {namespace} removed from {workspace}"),
            )
            .await;
        }
        SetMember {
            workspace,
            principal,
            role,
        } => {
            let path = format!(
                "/api/v1/workspaces/{}/members/{}",
                segment(&workspace),
                segment(&principal)
            );
            let msg = format!("{principal} is {role} of {workspace}");
            return done(
                client,
                format,
                Method::PUT,
                &path,
                Some(&json!({"role": role})),
                msg,
            )
            .await;
        }
        RemoveMember {
            workspace,
            principal,
        } => {
            let path = format!(
                "/api/v1/workspaces/{}/members/{}",
                segment(&workspace),
                segment(&principal)
            );
            return done(
                client,
                format,
                Method::DELETE,
                &path,
                None,
                format!("{principal} removed from {workspace}"),
            )
            .await;
        }
    };
    print(format, &value, WORKSPACE_COLUMNS);
    Ok(())
}

pub async fn space(client: &Client, format: Format, cmd: SpaceCommand) -> anyhow::Result<()> {
    use SpaceCommand::*;
    let value = match cmd {
        Create {
            space,
            public,
            quota_bytes,
            description,
        } => {
            let (registry, name) = space
                .split_once('/')
                .context("a space is named REGISTRY/SPACE")?;
            let body = json!({
                "name": name,
                "visibility": if public { "public" } else { "private" },
                "quota_bytes": quota_bytes.unwrap_or(0),
                "description": description,
            });
            client
                .call(
                    Method::POST,
                    &format!("/api/v1/registries/{}/spaces", segment(registry)),
                    Some(&body),
                )
                .await?
        }
        List { registry } => {
            client
                .get(&format!(
                    "/api/v1/registries/{}/spaces?page_size=500",
                    segment(&registry)
                ))
                .await?
        }
        Get { space } => client.get(&space_path(&space)?).await?,
        Update {
            space,
            visibility,
            quota_bytes,
            description,
        } => {
            let mut body = Map::new();
            if let Some(v) = visibility {
                body.insert("visibility".into(), v.into());
            }
            if let Some(q) = quota_bytes {
                body.insert("quota_bytes".into(), q.into());
            }
            if let Some(d) = description {
                body.insert("description".into(), d.into());
            }
            client
                .call(
                    Method::PATCH,
                    &space_path(&space)?,
                    Some(&Value::Object(body)),
                )
                .await?
        }
        Import { registry } => {
            let path = format!("/api/v1/registries/{}/import-spaces", segment(&registry));
            client.call(Method::POST, &path, None).await?
        }
        Rm { space } => {
            return done(
                client,
                format,
                Method::DELETE,
                &space_path(&space)?,
                None,
                format!("space {space} removed"),
            )
            .await
        }
    };
    print(format, &value, SPACE_COLUMNS);
    Ok(())
}

/// Binds (`Some(push)`) or unbinds (`None`) a space and a workspace.
pub async fn bind(
    client: &Client,
    format: Format,
    space: &str,
    workspace: &str,
    push: Option<bool>,
) -> anyhow::Result<()> {
    let path = format!("{}/bindings/{}", space_path(space)?, segment(workspace));
    if let Some(push) = push {
        let grants = if push { "pull, push" } else { "pull" };
        done(
            client,
            format,
            Method::PUT,
            &path,
            Some(&serde_json::json!({ "push": push })),
            format!("{space} bound to {workspace} ({grants})"),
        )
        .await
    } else {
        done(
            client,
            format,
            Method::DELETE,
            &path,
            None,
            format!("{space} unbound from {workspace}"),
        )
        .await
    }
}

pub async fn access(client: &Client, format: Format, cmd: AccessCommand) -> anyhow::Result<()> {
    let AccessCommand::Check { namespace, image } = cmd;
    let v = client
        .call(
            Method::POST,
            "/api/v1/access/check",
            Some(&json!({"namespace": namespace, "image": image})),
        )
        .await?;
    print(
        format,
        &v,
        &[("ALLOWED", "/allowed"), ("REASON", "/reason")],
    );
    if v["allowed"].as_bool() == Some(true) {
        Ok(())
    } else {
        Err(super::Denied.into())
    }
}

pub async fn namespace(
    client: &Client,
    format: Format,
    cmd: NamespaceCommand,
) -> anyhow::Result<()> {
    let NamespaceCommand::PullSecret { namespace, revoke } = cmd;
    let path = format!("/api/v1/namespaces/{}/pull-secret", segment(&namespace));
    if revoke {
        return done(
            client,
            format,
            Method::DELETE,
            &path,
            None,
            format!("pull credentials of {namespace} revoked"),
        )
        .await;
    }
    let secret = client.get(&path).await?;
    // The manifest itself, for `kubectl apply -f -`: JSON unless YAML is asked for.
    if crate::output::structured(format, &secret).is_none() {
        println!("{}", serde_json::to_string_pretty(&secret)?);
    }
    Ok(())
}

pub async fn login_command(client: &Client, format: Format, registry: &str) -> anyhow::Result<()> {
    let path = format!("/api/v1/registries/{}/login-command", segment(registry));
    let v = client.call(Method::POST, &path, None).await?;
    if crate::output::structured(format, &v).is_some() {
        return Ok(());
    }
    let password = v["password"].as_str().unwrap_or_default();
    let command = v["command"].as_str().unwrap_or_default();
    println!("echo '{password}' | {command}");
    eprintln!(
        "valid until {}",
        v["expires_at"].as_str().unwrap_or_default()
    );
    Ok(())
}

/// Every page of the image selector, one row per tag.
pub async fn images(client: &Client, format: Format, namespace: &str) -> anyhow::Result<()> {
    let mut items = Vec::new();
    let mut token = String::new();
    loop {
        let mut path = format!(
            "/api/v1/namespaces/{}/images?page_size=200",
            segment(namespace)
        );
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
    if crate::output::structured(format, &json!({"items": items})).is_some() {
        return Ok(());
    }
    let rows = items
        .iter()
        .flat_map(|r| {
            let image = r["image"].as_str().unwrap_or_default().to_string();
            r["tags"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .map(move |t| {
                    vec![
                        image.clone(),
                        t["tag"].as_str().unwrap_or_default().to_string(),
                        t["digest"].as_str().unwrap_or_default().to_string(),
                    ]
                })
        })
        .collect();
    crate::output::table(&["IMAGE", "TAG", "DIGEST"], rows);
    Ok(())
}
