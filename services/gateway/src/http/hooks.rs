//! Registry notifications, turned into `artifact.pushed` (a tag was pushed), `artifact.pulled`
//! (a manifest was pulled: when each tag was last pulled, even on a plain docker-registry) and
//! `artifact.deleted` (a manifest or tag was deleted) events, so push-triggered replication copies
//! just that artifact without listing anything, and delete propagation follows deletions. Each
//! carries the time the registry says it happened.
//!
//! - `POST /hooks/distribution/{registry}`: a CNCF Distribution notification envelope
//!   (`{"events": [{"action": "push"|"delete", "target": {...}}]}`);
//! - `POST /hooks/harbor/{registry}`: a Harbor v2 webhook (`{"type": "PUSH_ARTIFACT" |
//!   "DELETE_ARTIFACT", "event_data": {"resources": [...], "repository": {...}}}`).
//!
//! The registry authenticates with its own hook secret as a bearer token (Distribution:
//! notification `headers`; Harbor: the webhook's auth header), set with
//! `POST /api/v1/registries/{registry}/hook-secret` — never with a person's or an admin's token,
//! which would then sit in the registry's configuration file. Every repository name, tag and
//! digest is checked against the distribution grammar before anything is published: one bad
//! field refuses the whole notification (400 naming it), and nothing of it is published.

use crate::http::dto::PublishedJson;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use berth_bus::Message;
use berth_error::ApiError;
use berth_oci::reference::{valid_digest, valid_repository, valid_tag};
use berth_proto::v1::{ArtifactDeleted, ArtifactPulled, ArtifactPushed, VerifyHookSecretRequest};
use http::{HeaderMap, StatusCode};
use serde::Deserialize;

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
    /// RFC 3339, as Distribution writes it.
    #[serde(default)]
    timestamp: String,
}

/// A notification's time as RFC 3339 in UTC (what Berth writes everywhere); empty when it
/// carries none Berth can read.
fn rfc3339(raw: &str) -> String {
    chrono::DateTime::parse_from_rfc3339(raw)
        .map(|t| {
            t.with_timezone(&chrono::Utc)
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
        })
        .unwrap_or_default()
}

/// Harbor's `occur_at` (Unix seconds) as RFC 3339.
fn unix_rfc3339(seconds: i64) -> String {
    chrono::DateTime::from_timestamp(seconds, 0)
        .filter(|_| seconds > 0)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_default()
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
    occur_at: i64,
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
    Pulled(ArtifactPulled),
    Deleted(ArtifactDeleted),
}

fn distribution_events(registry: &str, body: &[u8]) -> Result<Vec<Notified>, ApiError> {
    let envelope: Envelope = serde_json::from_slice(body)
        .map_err(|e| ApiError::invalid("body", format!("not a notification envelope: {e}")))?;
    let mut out = Vec::new();
    for (i, e) in envelope.events.into_iter().enumerate() {
        let t = e.target;
        let relevant = matches!(e.action.as_str(), "push" | "pull" | "delete");
        if relevant && !(t.repository.is_empty() && t.digest.is_empty() && t.tag.is_empty()) {
            check_names(
                &format!("events[{i}].target"),
                &t.repository,
                &t.tag,
                &t.digest,
            )?;
        }
        match e.action.as_str() {
            "push" if !t.tag.is_empty() && is_manifest(&t.media_type) => {
                out.push(Notified::Pushed(ArtifactPushed {
                    registry: registry.into(),
                    repository: t.repository,
                    tag: t.tag,
                    digest: t.digest,
                    pushed_at: rfc3339(&e.timestamp),
                }))
            }
            // A manifest pulled (blob pulls are the same pull's layers).
            "pull" if is_manifest(&t.media_type) && !t.repository.is_empty() => {
                out.push(Notified::Pulled(ArtifactPulled {
                    registry: registry.into(),
                    repository: t.repository,
                    tag: t.tag,
                    digest: t.digest,
                    pulled_at: rfc3339(&e.timestamp),
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
    for (i, res) in hook.event_data.resources.into_iter().enumerate() {
        if matches!(
            hook.kind.as_str(),
            "PUSH_ARTIFACT" | "PULL_ARTIFACT" | "DELETE_ARTIFACT"
        ) {
            check_names(
                &format!("event_data.resources[{i}]"),
                &repository,
                &res.tag,
                &res.digest,
            )?;
        }
        match hook.kind.as_str() {
            "PUSH_ARTIFACT" if !res.tag.is_empty() => out.push(Notified::Pushed(ArtifactPushed {
                registry: registry.into(),
                repository: repository.clone(),
                tag: res.tag,
                digest: res.digest,
                pushed_at: unix_rfc3339(hook.occur_at),
            })),
            "PULL_ARTIFACT" if !res.digest.is_empty() || !res.tag.is_empty() => {
                out.push(Notified::Pulled(ArtifactPulled {
                    registry: registry.into(),
                    repository: repository.clone(),
                    tag: res.tag,
                    digest: res.digest,
                    pulled_at: unix_rfc3339(hook.occur_at),
                }))
            }
            "DELETE_ARTIFACT" if res.digest.is_empty() && res.tag.is_empty() => {
                return Err(ApiError::invalid(
                    format!("event_data.resources[{i}]"),
                    "a deleted artifact needs its digest or tag",
                ))
            }
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

/// Receive a CNCF Distribution notification envelope.
///
/// Authenticated by the registry's hook secret as a bearer token; each manifest push or delete
/// becomes one bus event.
#[utoipa::path(post, path = "/hooks/distribution/{registry}", tag = "hooks", security(("hook_secret" = [])),
    request_body(content = Object, content_type = "application/vnd.docker.distribution.events.v1+json", description = "`{\"events\": [...]}`"),
    responses((status = 200, description = "The events published", body = PublishedJson)))]
pub async fn distribution_notification(
    State(s): State<AppState>,
    headers: HeaderMap,
    registry: Result<Path<String>, axum::extract::rejection::PathRejection>,
    bad: Option<axum::Extension<super::BadPathName>>,
    body: Bytes,
) -> Response {
    match named(registry, bad) {
        Ok(registry) => respond(handle(&s, &headers, &registry, &body, distribution_events).await),
        Err(e) => respond(Err(e)),
    }
}

/// Receive a Harbor v2 webhook.
///
/// Authenticated by the registry's hook secret as a bearer token (the policy's auth header);
/// `PUSH_ARTIFACT` and `DELETE_ARTIFACT` become bus events.
#[utoipa::path(post, path = "/hooks/harbor/{registry}", tag = "hooks", security(("hook_secret" = [])),
    request_body(content = Object, description = "Harbor's webhook payload"),
    responses((status = 200, description = "The events published", body = PublishedJson)))]
pub async fn harbor_notification(
    State(s): State<AppState>,
    headers: HeaderMap,
    registry: Result<Path<String>, axum::extract::rejection::PathRejection>,
    bad: Option<axum::Extension<super::BadPathName>>,
    body: Bytes,
) -> Response {
    match named(registry, bad) {
        Ok(registry) => respond(handle(&s, &headers, &registry, &body, harbor_events).await),
        Err(e) => respond(Err(e)),
    }
}

/// The registry a notification is for; a name no registry can have (not UTF-8, control or
/// invisible characters, too long) authenticates nobody, and is not echoed.
fn named(
    registry: Result<Path<String>, axum::extract::rejection::PathRejection>,
    bad: Option<axum::Extension<super::BadPathName>>,
) -> Result<String, ApiError> {
    match (registry, bad) {
        (Ok(Path(registry)), None) => Ok(registry),
        _ => Err(ApiError::unauthenticated(
            "notifications authenticate with their registry's hook secret \
             (POST /api/v1/registries/{registry}/hook-secret) as a bearer token",
        )),
    }
}

fn respond(r: Result<usize, ApiError>) -> Response {
    match r {
        Ok(published) => (
            StatusCode::OK,
            axum::Json(PublishedJson {
                published: published as u64,
            }),
        )
            .into_response(),
        Err(e) => HttpError(e).into_response(),
    }
}

/// Checks the names of one event (`at` names it in errors, e.g. `events[2].target`).
fn check_names(at: &str, repository: &str, tag: &str, digest: &str) -> Result<(), ApiError> {
    if !valid_repository(repository) {
        return Err(ApiError::invalid(
            format!("{at}.repository"),
            format!("{repository:?} is not a repository name"),
        ));
    }
    if !tag.is_empty() && !valid_tag(tag) {
        return Err(ApiError::invalid(
            format!("{at}.tag"),
            format!("{tag:?} is not a tag"),
        ));
    }
    if !digest.is_empty() && !valid_digest(digest) {
        return Err(ApiError::invalid(
            format!("{at}.digest"),
            format!("{digest:?} is not a digest (algorithm:hex)"),
        ));
    }
    Ok(())
}

fn unauthenticated(registry: &str) -> ApiError {
    ApiError::unauthenticated(format!(
        "notifications for {registry:?} authenticate with its hook secret \
         (POST /api/v1/registries/{registry}/hook-secret) as a bearer token"
    ))
}

/// Whether the request carries `registry`'s hook secret.
async fn verify(s: &AppState, headers: &HeaderMap, registry: &str) -> Result<(), ApiError> {
    let secret = headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| unauthenticated(registry))?;
    if s.hook_secrets.known(registry, secret) {
        return Ok(());
    }
    let valid = s
        .provisioning
        .clone()
        .verify_hook_secret(VerifyHookSecretRequest {
            registry: registry.into(),
            secret: secret.into(),
        })
        .await
        .map_err(|st| match st.code() {
            // An unknown registry looks like a wrong secret: names don't leak.
            tonic::Code::NotFound | tonic::Code::InvalidArgument => unauthenticated(registry),
            _ => berth_runtime::clients::registry_error(st),
        })?
        .into_inner()
        .valid;
    if !valid {
        return Err(unauthenticated(registry));
    }
    s.hook_secrets.remember(registry, secret);
    Ok(())
}

async fn handle(
    s: &AppState,
    headers: &HeaderMap,
    registry: &str,
    body: &[u8],
    parse: fn(&str, &[u8]) -> Result<Vec<Notified>, ApiError>,
) -> Result<usize, ApiError> {
    verify(s, headers, registry).await?;
    // Parse and check everything before publishing anything.
    let events = parse(registry, body)?;
    let mut published = 0;
    for event in events {
        let message = match &event {
            Notified::Pushed(e) => Message::new("artifact.pushed", e),
            Notified::Pulled(e) => Message::new("artifact.pulled", e),
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

/// Hook secrets verified lately, so a busy registry's notifications do not each ask the
/// registry service (a rotated secret stops working within [`HookSecrets::FRESH`]).
#[derive(Clone, Default)]
pub struct HookSecrets {
    known: std::sync::Arc<
        std::sync::Mutex<std::collections::HashMap<(String, String), std::time::Instant>>,
    >,
}

impl HookSecrets {
    const FRESH: std::time::Duration = std::time::Duration::from_secs(10);

    fn key(registry: &str, secret: &str) -> (String, String) {
        (registry.to_string(), berth_auth::tokens::hash(secret))
    }

    fn known(&self, registry: &str, secret: &str) -> bool {
        let map = self.known.lock().expect("hook secrets lock");
        map.get(&Self::key(registry, secret))
            .is_some_and(|at| at.elapsed() < Self::FRESH)
    }

    /// Forgets what was verified for `registry` (its secret was just rotated here).
    pub fn forget(&self, registry: &str) {
        self.known
            .lock()
            .expect("hook secrets lock")
            .retain(|(r, _), _| r != registry);
    }

    fn remember(&self, registry: &str, secret: &str) {
        let mut map = self.known.lock().expect("hook secrets lock");
        if map.len() > 1024 {
            map.retain(|_, at| at.elapsed() < Self::FRESH);
        }
        map.insert(Self::key(registry, secret), std::time::Instant::now());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pulls_and_times_are_read_from_both_kinds_of_notification() {
        let digest = format!("sha256:{}", "c".repeat(64));
        let body = serde_json::json!({"events": [
            {"action": "pull", "timestamp": "2026-12-08T01:02:03.456789+01:00",
             "target": {"mediaType": "application/vnd.oci.image.manifest.v1+json",
              "repository": "apps/web", "tag": "v1", "digest": digest}},
            {"action": "pull", "timestamp": "2026-12-08T00:00:00Z",
             "target": {"mediaType": "application/octet-stream", "repository": "apps/web",
              "digest": digest}},
            {"action": "push", "timestamp": "not a time",
             "target": {"mediaType": "application/vnd.oci.image.index.v1+json",
              "repository": "apps/web", "tag": "v2", "digest": digest}}
        ]})
        .to_string();
        let events = distribution_events("hub", body.as_bytes()).unwrap();
        assert_eq!(events.len(), 2, "a blob pull is no event of its own");
        let Notified::Pulled(p) = &events[0] else {
            panic!("a pull")
        };
        assert_eq!(
            (p.tag.as_str(), p.pulled_at.as_str()),
            ("v1", "2026-12-08T00:02:03.456Z")
        );
        let Notified::Pushed(pushed) = &events[1] else {
            panic!("a push")
        };
        assert_eq!(pushed.pushed_at, "", "an unreadable time is none");
        let harbor = serde_json::json!({"type": "PULL_ARTIFACT", "occur_at": 1796000000,
            "event_data": {"resources": [{"digest": digest, "tag": "v1"}],
            "repository": {"repo_full_name": "proj/web"}}})
        .to_string();
        let events = harbor_events("h", harbor.as_bytes()).unwrap();
        let Notified::Pulled(p) = &events[0] else {
            panic!("a pull")
        };
        assert_eq!(
            (p.repository.as_str(), p.pulled_at.as_str()),
            ("proj/web", "2026-11-30T00:53:20.000Z")
        );
    }

    #[test]
    fn traversal_and_bad_digests_are_refused_naming_the_field() {
        let body = |repo: &str, tag: &str, digest: &str| {
            serde_json::json!({"events": [
                {"action": "push", "target": {"mediaType": "application/vnd.oci.image.manifest.v1+json",
                 "repository": "apps/ok", "tag": "v1", "digest": format!("sha256:{}", "a".repeat(64))}},
                {"action": "push", "target": {"mediaType": "application/vnd.oci.image.manifest.v1+json",
                 "repository": repo, "tag": tag, "digest": digest}}
            ]})
            .to_string()
        };
        let good = format!("sha256:{}", "b".repeat(64));
        for (repo, tag, digest, field) in [
            (
                "apps/../library/nginx",
                "v1",
                good.as_str(),
                "events[1].target.repository",
            ),
            (
                "apps/x%2F..",
                "v1",
                good.as_str(),
                "events[1].target.repository",
            ),
            ("apps/x", "../v1", good.as_str(), "events[1].target.tag"),
            ("apps/x", "v1", "sha256:../../x", "events[1].target.digest"),
        ] {
            let e = distribution_events("r", body(repo, tag, digest).as_bytes())
                .err()
                .expect("refused");
            assert_eq!(e.field.as_deref(), Some(field), "{repo} {tag} {digest}");
        }
        assert_eq!(
            distribution_events("r", body("apps/x", "v2", &good).as_bytes())
                .unwrap()
                .len(),
            2
        );
        let harbor = serde_json::json!({"type": "PUSH_ARTIFACT", "event_data": {
            "resources": [{"digest": good, "tag": "v1"}],
            "repository": {"repo_full_name": "library/../secret/app"}}})
        .to_string();
        let e = harbor_events("r", harbor.as_bytes())
            .err()
            .expect("refused");
        assert_eq!(
            e.field.as_deref(),
            Some("event_data.resources[0].repository")
        );
    }
}
