//! Registry notifications. `POST /hooks/distribution/{registry}` takes a CNCF Distribution
//! notification envelope and publishes `artifact.pushed` for every tag pushed, so push-triggered
//! replication copies just that artifact without listing anything.
//!
//! The registry authenticates with a bearer token in its notification `headers`; the caller must
//! be allowed to manage the registry.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use berth_bus::Message;
use berth_error::ApiError;
use berth_proto::v1::{ArtifactPushed, GetRegistryRequest};
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

pub async fn distribution(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path(registry): Path<String>,
    body: Bytes,
) -> Response {
    match handle(&s, &headers, &registry, &body).await {
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
    let envelope: Envelope = serde_json::from_slice(body)
        .map_err(|e| ApiError::invalid("body", format!("not a notification envelope: {e}")))?;
    let mut published = 0;
    for e in envelope.events {
        let t = e.target;
        if e.action != "push" || t.tag.is_empty() || !is_manifest(&t.media_type) {
            continue;
        }
        let event = ArtifactPushed {
            registry: registry.into(),
            repository: t.repository,
            tag: t.tag,
            digest: t.digest,
        };
        s.bus
            .publish(&Message::new("artifact.pushed", &event))
            .await
            .map_err(|e| ApiError::unavailable(format!("bus unavailable: {e}")))?;
        published += 1;
    }
    metrics::counter!("berth_registry_notifications_total").increment(published as u64);
    Ok(published)
}
