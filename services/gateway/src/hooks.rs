//! Registry notifications, turned into `artifact.pushed` (a tag was pushed) and
//! `artifact.deleted` (a manifest or tag was deleted) events, so push-triggered replication copies
//! just that artifact without listing anything, and delete propagation follows deletions.
//!
//! - `POST /hooks/distribution/{registry}`: a CNCF Distribution notification envelope
//!   (`{"events": [{"action": "push"|"delete", "target": {...}}]}`);
//! - `POST /hooks/harbor/{registry}`: a Harbor v2 webhook (`{"type": "PUSH_ARTIFACT" |
//!   "DELETE_ARTIFACT", "event_data": {"resources": [...], "repository": {...}}}`).
//!
//! The registry authenticates with a bearer token (Distribution: notification `headers`;
//! Harbor: the webhook's auth header); the caller must be allowed to manage the registry.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use berth_bus::Message;
use berth_error::ApiError;
use berth_proto::v1::{ArtifactDeleted, ArtifactPushed, GetRegistryRequest};
use http::{HeaderMap, StatusCode};
use serde::Deserialize;

use crate::authn::authenticate;
use crate::authz::{authorize, Action, Owner};
use crate::http::HttpError;
use crate::state::AppState;

#[derive(Deserialize)]
struct Envelope {
    #[serde(default)]
    events: Vec<Event>,
}

#[derive(Deserialize)]
struct Event {
    #[serde(default)]
    action: String,
    #[serde(default)]
    target: Target,
}

#[derive(Deserialize, Default)]
struct Target {
    #[serde(default, rename = "mediaType")]
    media_type: String,
    #[serde(default)]
    repository: String,
    #[serde(default)]
    digest: String,
    #[serde(default)]
    tag: String,
}

fn is_manifest(media_type: &str) -> bool {
    media_type.contains("manifest") || media_type.contains("image.index")
}

/// A Harbor v2 webhook payload.
#[derive(Deserialize)]
struct HarborHook {
    #[serde(rename = "type", default)]
    kind: String,
    #[serde(default)]
    event_data: HarborData,
}

#[derive(Deserialize, Default)]
struct HarborData {
    #[serde(default)]
    resources: Vec<HarborResource>,
    #[serde(default)]
    repository: HarborRepository,
}

#[derive(Deserialize, Default)]
struct HarborResource {
    #[serde(default)]
    digest: String,
    #[serde(default)]
    tag: String,
}

#[derive(Deserialize, Default)]
struct HarborRepository {
    #[serde(default)]
    repo_full_name: String,
    #[serde(default)]
    namespace: String,
    #[serde(default)]
    name: String,
}

/// An event a notification carries.
enum Notified {
    Pushed(ArtifactPushed),
    Deleted(ArtifactDeleted),
}

fn distribution_events(registry: &str, body: &[u8]) -> Result<Vec<Notified>, ApiError> {
    let envelope: Envelope = serde_json::from_slice(body)
        .map_err(|e| ApiError::invalid("body", format!("not a notification envelope: {e}")))?;
    let mut out = Vec::new();
    for e in envelope.events {
        let t = e.target;
        match e.action.as_str() {
            "push" if !t.tag.is_empty() && is_manifest(&t.media_type) => {
                out.push(Notified::Pushed(ArtifactPushed {
                    registry: registry.into(),
                    repository: t.repository,
                    tag: t.tag,
                    digest: t.digest,
                }))
            }
            // Manifest deletes carry the digest; tag deletes (Distribution 2.8+) the tag.
            "delete" if !t.repository.is_empty() && (!t.digest.is_empty() || !t.tag.is_empty()) => {
                out.push(Notified::Deleted(ArtifactDeleted {
                    registry: registry.into(),
                    repository: t.repository,
                    digest: t.digest,
                    tag: t.tag,
                }))
            }
            _ => {}
        }
    }
    Ok(out)
}

fn harbor_events(registry: &str, body: &[u8]) -> Result<Vec<Notified>, ApiError> {
    let hook: HarborHook = serde_json::from_slice(body)
        .map_err(|e| ApiError::invalid("body", format!("not a Harbor webhook payload: {e}")))?;
    let r = hook.event_data.repository;
    let repository = if r.repo_full_name.is_empty() {
        format!("{}/{}", r.namespace, r.name)
    } else {
        r.repo_full_name
    };
    let mut out = Vec::new();
    for res in hook.event_data.resources {
        match hook.kind.as_str() {
            "PUSH_ARTIFACT" if !res.tag.is_empty() => out.push(Notified::Pushed(ArtifactPushed {
                registry: registry.into(),
                repository: repository.clone(),
                tag: res.tag,
                digest: res.digest,
            })),
            "DELETE_ARTIFACT" => out.push(Notified::Deleted(ArtifactDeleted {
                registry: registry.into(),
                repository: repository.clone(),
                digest: res.digest,
                tag: res.tag,
            })),
            _ => {}
        }
    }
    Ok(out)
}

pub async fn distribution(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path(registry): Path<String>,
    body: Bytes,
) -> Response {
    respond(handle(&s, &headers, &registry, &body, distribution_events).await)
}

pub async fn harbor(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path(registry): Path<String>,
    body: Bytes,
) -> Response {
    respond(handle(&s, &headers, &registry, &body, harbor_events).await)
}

fn respond(r: Result<usize, ApiError>) -> Response {
    match r {
        Ok(published) => (
            StatusCode::OK,
            axum::Json(serde_json::json!({"published": published})),
        )
            .into_response(),
        Err(e) => HttpError(e).into_response(),
    }
}

async fn handle(
    s: &AppState,
    headers: &HeaderMap,
    registry: &str,
    body: &[u8],
    parse: fn(&str, &[u8]) -> Result<Vec<Notified>, ApiError>,
) -> Result<usize, ApiError> {
    let header = headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let p = authenticate(s, header).await?;
    let r = s
        .registry
        .clone()
        .get_registry(GetRegistryRequest {
            name: registry.into(),
        })
        .await
        .map_err(|st| ApiError::from_status("registry service", &st))?
        .into_inner()
        .registry
        .unwrap_or_default();
    authorize(
        &p,
        Action::Manage,
        Owner::of(&r.workspace),
        &format!("registry {registry:?}"),
    )?;
    let mut published = 0;
    for event in parse(registry, body)? {
        let message = match &event {
            Notified::Pushed(e) => Message::new("artifact.pushed", e),
            Notified::Deleted(e) => Message::new("artifact.deleted", e),
        };
        s.bus
            .publish(&message)
            .await
            .map_err(|e| ApiError::unavailable(format!("bus unavailable: {e}")))?;
        published += 1;
    }
    metrics::counter!("berth_registry_notifications_total").increment(published as u64);
    Ok(published)
}
