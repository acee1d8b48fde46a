//! Registry credentials Berth issues.
//!
//! - Pull credentials of namespaces: a Kubernetes `kubernetes.io/dockerconfigjson` Secret whose
//!   credential authorizes exactly what the namespace may pull, at every registry that delegates
//!   its auth to Berth. Each request mints a new credential (rotation); revoking removes them all.
//! - Login commands for people: a short-lived credential for `docker login`, worth exactly what
//!   the person may pull and push, accepted only by registries.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use berth_error::{ApiError, ApiResult};
use berth_proto::v1::ListRobotCredentialsRequest;
use chrono::{Duration, Utc};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};
use serde_json::json;

use super::{audit, registry_error, request};
use crate::authn::{Principal, LOGIN_PREFIX, NAMESPACE_PREFIX};
use crate::authz::{authorize, Action, Owner};
use crate::state::AppState;
use crate::store::api_token;

const PULL_CREDENTIAL_TTL_DAYS: i64 = 365;
const WRITE_ROLES: [&str; 2] = ["workspace-admin", "workspace-editor"];

/// Platform admins, and admins and editors of the namespace's workspace, manage its credential.
/// Answers the namespace's workspace.
async fn authorize_namespace(s: &AppState, p: &Principal, ns: &str) -> ApiResult<String> {
    if berth_error::validate::dns_label(ns).is_err() {
        return Err(ApiError::not_found(format!("namespace {ns:?} not found")));
    }
    let workspace = super::namespace_workspace(s, p, ns).await?;
    if p.platform_admin {
        return Ok(workspace);
    }
    match p.roles.get(&workspace) {
        Some(r) if WRITE_ROLES.contains(&r.as_str()) => Ok(workspace),
        _ => Err(ApiError::permission_denied(
            "pull credentials require the workspace-admin or workspace-editor role",
        )),
    }
}

pub async fn pull_secret(s: &AppState, p: &Principal, ns: &str) -> ApiResult<serde_json::Value> {
    let workspace = authorize_namespace(s, p, ns).await?;
    let robots = s
        .provisioning
        .clone()
        .list_robot_credentials(request(
            p,
            ListRobotCredentialsRequest {
                workspace: workspace.clone(),
            },
        ))
        .await
        .map_err(registry_error)?
        .into_inner()
        .credentials;
    let registries = super::visibility::all_registries(s, p, "").await?;
    let user = format!("{NAMESPACE_PREFIX}{ns}");
    let token = berth_auth::tokens::generate();
    let now = Utc::now();
    let row = api_token::ActiveModel {
        id: Set(uuid::Uuid::now_v7().to_string()),
        hash: Set(berth_auth::tokens::hash(&token)),
        principal: Set(user.clone()),
        created_by: Set(p.name.clone()),
        created_at: Set(now),
        expires_at: Set(now + Duration::days(PULL_CREDENTIAL_TTL_DAYS)),
        last_used_at: Set(None),
        owner: Set(String::new()),
    };
    let out = row.insert(&s.db).await.map(|_| ()).map_err(|e| {
        tracing::error!(error = %e, "could not store pull credential");
        ApiError::unavailable("gateway database unavailable")
    });
    audit(s, p, "pull_secret.issue", &format!("namespaces/{ns}"), &out).await;
    out?;
    let auth = STANDARD.encode(format!("{user}:{token}"));
    let mut auths = serde_json::Map::new();
    // Hosts the namespace may pull from: platform registries and its own workspace's, never
    // another workspace's.
    for r in registries
        .iter()
        .filter(|r| r.token_service == "berth")
        .filter(|r| r.workspace.is_empty() || r.workspace == workspace)
    {
        let host = berth_oci::reference::host_of_url(&r.url).unwrap_or_default();
        auths.insert(
            host,
            json!({"username": user, "password": token, "auth": auth}),
        );
    }
    // Harbor registries: the workspace's robot, with pull on exactly its bound projects.
    for r in robots {
        let auth = STANDARD.encode(format!("{}:{}", r.username, r.password));
        auths.insert(
            r.host,
            json!({"username": r.username, "password": r.password, "auth": auth}),
        );
    }
    let config = json!({ "auths": auths });
    Ok(json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "kubernetes.io/dockerconfigjson",
        "metadata": {"name": "berth-pull", "namespace": ns, "labels": {"app.kubernetes.io/managed-by": "berth"}},
        "data": {".dockerconfigjson": STANDARD.encode(config.to_string())},
    }))
}

/// Revokes every pull credential of the namespace.
pub async fn revoke_pull_secret(s: &AppState, p: &Principal, ns: &str) -> ApiResult<()> {
    authorize_namespace(s, p, ns).await?;
    let out = api_token::Entity::delete_many()
        .filter(api_token::Column::Principal.eq(format!("{NAMESPACE_PREFIX}{ns}")))
        .exec(&s.db)
        .await
        .map(|_| ())
        .map_err(|e| {
            tracing::error!(error = %e, "could not revoke pull credentials");
            ApiError::unavailable("gateway database unavailable")
        });
    audit(
        s,
        p,
        "pull_secret.revoke",
        &format!("namespaces/{ns}"),
        &out,
    )
    .await;
    out
}

const LOGIN_TTL_HOURS: i64 = 12;

/// A short-lived `docker login` credential for the caller at `registry`.
pub async fn login_command(
    s: &AppState,
    p: &Principal,
    registry: &str,
) -> ApiResult<serde_json::Value> {
    let r = super::fetch_registry(s, p, registry).await?;
    authorize(
        p,
        Action::Read,
        Owner::of(&r.workspace),
        &format!("registry {registry:?}"),
    )?;
    if r.token_service != "berth" {
        return Err(ApiError::failed_precondition(format!(
            "registry {registry:?} does not delegate its auth to Berth; log in with its own credentials"
        )));
    }
    let token = berth_auth::tokens::generate();
    let now = Utc::now();
    let expires_at = now + Duration::hours(LOGIN_TTL_HOURS);
    let row = api_token::ActiveModel {
        id: Set(uuid::Uuid::now_v7().to_string()),
        hash: Set(berth_auth::tokens::hash(&token)),
        principal: Set(format!("{LOGIN_PREFIX}{registry}/{}", p.name)),
        created_by: Set(p.name.clone()),
        created_at: Set(now),
        expires_at: Set(expires_at),
        last_used_at: Set(None),
        owner: Set(p.name.clone()),
    };
    let out = row.insert(&s.db).await.map(|_| ()).map_err(|e| {
        tracing::error!(error = %e, "could not store login credential");
        ApiError::unavailable("gateway database unavailable")
    });
    audit(s, p, "login.issue", &format!("registries/{registry}"), &out).await;
    out?;
    let host = berth_oci::reference::host_of_url(&r.url).unwrap_or_default();
    Ok(json!({
        "registry": registry,
        "host": host,
        "username": p.name,
        "password": token,
        "expires_at": crate::http::dto::rfc3339(expires_at),
        "command": format!("docker login {host} --username {} --password-stdin", p.name),
    }))
}
