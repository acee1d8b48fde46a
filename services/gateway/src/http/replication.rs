//! `/api/v1/replication/…`.

use axum::extract::{Path, State};
use axum::Json;
use berth_proto::v1 as pb;
use http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use berth_error::ApiError;

use super::dto::{time, ErrorJson, List};
use super::extract::QueryParams;
use super::{Authed, HttpResult, JsonBody};
use crate::ops;
use crate::state::AppState;

#[derive(Serialize, Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct EndpointJson {
    /// The registry's name in Berth.
    #[schema(pattern = r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")]
    pub registry: String,
    /// One space of the registry; absent: the whole registry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(pattern = r"^[a-z0-9]+([._-][a-z0-9]+)*$", max_length = 255)]
    pub space: Option<String>,
    /// Destination only: leading source path segments the space replaces (Harbor's
    /// `dest_namespace_replace_count`; -1 keeps only the last segment).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replace_count: Option<i32>,
}

#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FilterJson {
    /// `repository` or `tag`.
    #[schema(pattern = "^(repository|tag)$")]
    pub kind: String,
    pub pattern: String,
    #[serde(default)]
    pub exclude: bool,
}

#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TriggerJson {
    /// `manual`, `cron` or `push`.
    #[schema(pattern = "^(manual|cron|push)$")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cron: Option<String>,
    /// IANA time zone of the cron schedule; UTC when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<String>,
}

/// A merge patch of a policy (RFC 7396): the fields given replace the stored ones, `null`
/// resets one to its default. Documents the patch; the handler reads it as JSON.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct PolicyPatchJson {
    /// The policy's own name, if given (a policy cannot be renamed).
    name: Option<String>,
    source: Option<EndpointJson>,
    destination: Option<EndpointJson>,
    filters: Option<Vec<FilterJson>>,
    trigger: Option<TriggerJson>,
    r#override: Option<bool>,
    enabled: Option<bool>,
    platforms: Option<Vec<String>>,
    copy_referrers: Option<bool>,
    bandwidth_limit: Option<u64>,
    concurrency: Option<u32>,
    delete_propagation: Option<bool>,
    allow_overlap: Option<bool>,
    scan_gate: Option<String>,
}

/// An image archive's bytes.
#[derive(ToSchema)]
#[schema(value_type = String, format = Binary)]
#[allow(dead_code)]
pub struct ArchiveBody(Vec<u8>);

/// A policy, as created and as read back.
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicyJson {
    /// A DNS label: 1–63 lowercase letters, digits and '-'.
    #[schema(pattern = r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")]
    pub name: String,
    pub source: EndpointJson,
    pub destination: EndpointJson,
    #[serde(default)]
    pub filters: Vec<FilterJson>,
    pub trigger: Option<TriggerJson>,
    #[serde(default)]
    pub r#override: bool,
    /// Disabled policies do not fire on cron or push. Default true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// `os/arch[/variant]` to copy out of multi-arch indexes; empty: all.
    #[serde(default)]
    pub platforms: Vec<String>,
    /// Also copy signatures, SBOMs and other artifacts whose subject is a copied manifest.
    /// Default true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub copy_referrers: Option<bool>,
    /// Bytes per second for the whole policy; 0: unlimited.
    #[serde(default)]
    pub bandwidth_limit: u64,
    /// Artifacts copied at once per worker; 0: the service default.
    #[serde(default)]
    pub concurrency: u32,
    /// Delete at the destination what is deleted at the source.
    #[serde(default)]
    pub delete_propagation: bool,
    /// Let a run start while another execution of the policy is active.
    #[serde(default)]
    pub allow_overlap: bool,
    /// Copy only artifacts whose scan report has nothing at or above this severity (the
    /// others, and unscanned ones, are skipped with a note); null: no gate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(pattern = "^(critical|high|medium|low)$")]
    pub scan_gate: Option<String>,
    /// Set by Berth; refused in a request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(read_only)]
    pub created_at: Option<String>,
}

fn non_empty(s: String) -> Option<String> {
    if s.is_empty() {
        None
    } else {
        Some(s)
    }
}

impl From<PolicyJson> for pb::Policy {
    fn from(p: PolicyJson) -> Self {
        pb::Policy {
            name: p.name,
            source: Some(pb::Endpoint {
                registry: p.source.registry,
                space: p.source.space.unwrap_or_default(),
                replace_count: None,
            }),
            destination: Some(pb::Endpoint {
                registry: p.destination.registry,
                space: p.destination.space.unwrap_or_default(),
                replace_count: p.destination.replace_count,
            }),
            filters: p
                .filters
                .into_iter()
                .map(|f| pb::Filter {
                    kind: f.kind,
                    pattern: f.pattern,
                    exclude: f.exclude,
                })
                .collect(),
            trigger: p.trigger.map(|t| pb::Trigger {
                kind: t.kind,
                cron: t.cron.unwrap_or_default(),
                time_zone: t.time_zone.unwrap_or_default(),
            }),
            r#override: p.r#override,
            created_at: None,
            enabled: p.enabled,
            platforms: p.platforms,
            copy_referrers: p.copy_referrers,
            bandwidth_limit: p.bandwidth_limit,
            concurrency: p.concurrency,
            delete_propagation: p.delete_propagation,
            allow_overlap: p.allow_overlap,
            scan_gate: p.scan_gate.unwrap_or_default(),
        }
    }
}

impl From<pb::Policy> for PolicyJson {
    fn from(p: pb::Policy) -> Self {
        let (src, dst, trigger) = (
            p.source.unwrap_or_default(),
            p.destination.unwrap_or_default(),
            p.trigger.unwrap_or_default(),
        );
        PolicyJson {
            name: p.name,
            source: EndpointJson {
                registry: src.registry,
                space: non_empty(src.space),
                replace_count: None,
            },
            destination: EndpointJson {
                registry: dst.registry,
                space: non_empty(dst.space),
                replace_count: dst.replace_count,
            },
            filters: p
                .filters
                .into_iter()
                .map(|f| FilterJson {
                    kind: f.kind,
                    pattern: f.pattern,
                    exclude: f.exclude,
                })
                .collect(),
            trigger: Some(TriggerJson {
                kind: trigger.kind,
                cron: non_empty(trigger.cron),
                time_zone: non_empty(trigger.time_zone),
            }),
            r#override: p.r#override,
            enabled: Some(p.enabled.unwrap_or(true)),
            platforms: p.platforms,
            copy_referrers: Some(p.copy_referrers.unwrap_or(true)),
            bandwidth_limit: p.bandwidth_limit,
            concurrency: p.concurrency,
            delete_propagation: p.delete_propagation,
            allow_overlap: p.allow_overlap,
            scan_gate: non_empty(p.scan_gate),
            created_at: time(p.created_at),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct ExecutionJson {
    pub id: String,
    pub policy: String,
    /// `pending`, `running`, `succeeded`, `failed` or `cancelled`.
    pub status: String,
    pub total: u64,
    pub succeeded: u64,
    pub failed: u64,
    pub skipped: u64,
    pub bytes: u64,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    pub error: Option<String>,
    /// `manual`, `cron` or `push`.
    pub trigger: String,
}

/// One artifact of an execution.
#[derive(Serialize, ToSchema)]
pub struct TaskJson {
    pub id: String,
    pub source_repository: String,
    pub destination_repository: String,
    pub reference: String,
    /// `pending`, `running`, `succeeded`, `failed`, `skipped` or `cancelled`.
    pub status: String,
    pub attempts: u32,
    pub bytes: u64,
    pub digest: Option<String>,
    pub error: Option<String>,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    /// The replica that ran the task last (its `BERTH_REPLICA` name).
    pub worker: Option<String>,
}

impl From<pb::Task> for TaskJson {
    fn from(t: pb::Task) -> Self {
        TaskJson {
            id: t.id,
            source_repository: t.source_repository,
            destination_repository: t.destination_repository,
            reference: t.reference,
            status: t.status,
            attempts: t.attempts,
            bytes: t.bytes,
            digest: non_empty(t.digest),
            error: non_empty(t.error),
            started_at: time(t.started_at),
            finished_at: time(t.finished_at),
            worker: non_empty(t.worker),
        }
    }
}

impl From<pb::Execution> for ExecutionJson {
    fn from(e: pb::Execution) -> Self {
        ExecutionJson {
            id: e.id,
            policy: e.policy,
            status: e.status,
            total: e.total,
            succeeded: e.succeeded,
            failed: e.failed,
            skipped: e.skipped,
            bytes: e.bytes,
            started_at: time(e.started_at),
            finished_at: time(e.finished_at),
            error: non_empty(e.error),
            trigger: e.trigger,
        }
    }
}

/// Create a replication policy.
///
/// Copies what the filters select from the source registry (or space) to the destination,
/// by hand, on a cron schedule or on push.
#[utoipa::path(post, path = "/api/v1/replication/policies", tag = "replication", request_body = PolicyJson,
    responses((status = 201, description = "The policy", body = PolicyJson), (status = 409, description = "A policy of that name exists", body = ErrorJson)))]
pub async fn create_policy(
    State(s): State<AppState>,
    Authed(p): Authed,
    JsonBody(b): JsonBody<PolicyJson>,
) -> HttpResult<(StatusCode, Json<PolicyJson>)> {
    if b.created_at.is_some() {
        return Err(ApiError::invalid("created_at", "is set by Berth").into());
    }
    if let Some(t) = &b.trigger {
        schedule_only_for_cron(&t.kind, t.cron.is_some(), t.time_zone.is_some())?;
    }
    Ok((
        StatusCode::CREATED,
        Json(ops::create_policy(&s, &p, b.into()).await?.into()),
    ))
}

/// List replication policies.
#[utoipa::path(get, path = "/api/v1/replication/policies", tag = "replication",
    responses((status = 200, description = "The policies the caller may see", body = List<PolicyJson>)))]
pub async fn list_policies(
    State(s): State<AppState>,
    Authed(p): Authed,
) -> HttpResult<Json<List<PolicyJson>>> {
    let items = ops::list_policies(&s, &p)
        .await?
        .into_iter()
        .map(Into::into)
        .collect();
    Ok(Json(List::new(items, String::new())))
}

/// Get a replication policy.
#[utoipa::path(get, path = "/api/v1/replication/policies/{policy}", tag = "replication",
    responses((status = 200, description = "The policy", body = PolicyJson)))]
pub async fn get_policy(
    State(s): State<AppState>,
    Authed(p): Authed,
    Path(name): Path<String>,
) -> HttpResult<Json<PolicyJson>> {
    Ok(Json(ops::get_policy(&s, &p, &name).await?.into()))
}

/// Remove a replication policy (its executions go with it).
#[utoipa::path(delete, path = "/api/v1/replication/policies/{policy}", tag = "replication",
    responses((status = 204, description = "Removed")))]
pub async fn delete_policy(
    State(s): State<AppState>,
    Authed(p): Authed,
    Path(name): Path<String>,
) -> HttpResult<StatusCode> {
    ops::delete_policy(&s, &p, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Change a replication policy with a JSON merge patch (RFC 7396).
///
/// The fields given replace the stored ones; `null` resets one to its default. A policy cannot
/// be renamed.
#[utoipa::path(patch, path = "/api/v1/replication/policies/{policy}", tag = "replication",
    request_body(content = PolicyPatchJson, content_type = "application/merge-patch+json", description = "The fields of PolicyJson to change"),
    responses((status = 200, description = "The policy as stored", body = PolicyJson)))]
pub async fn update_policy(
    State(s): State<AppState>,
    Authed(p): Authed,
    Path(name): Path<String>,
    JsonBody(patch): JsonBody<serde_json::Value>,
) -> HttpResult<Json<PolicyJson>> {
    if !patch.is_object() {
        return Err(ApiError::invalid("body", "must be a JSON object").into());
    }
    if patch
        .get("name")
        .is_some_and(|n| n.as_str() != Some(name.as_str()))
    {
        return Err(ApiError::invalid("name", "a policy cannot be renamed").into());
    }
    if patch.get("created_at").is_some() {
        return Err(ApiError::invalid("created_at", "cannot change").into());
    }
    let given = |key: &str| {
        patch
            .pointer(&format!("/trigger/{key}"))
            .is_some_and(|v| !v.is_null())
    };
    let (cron, zone) = (given("cron"), given("time_zone"));
    match patch.pointer("/trigger/kind").and_then(|k| k.as_str()) {
        Some(kind) => schedule_only_for_cron(kind, cron, zone)?,
        // A schedule without a kind keeps the stored kind: it must be cron.
        None if cron || zone => {
            let stored = ops::get_policy(&s, &p, &name).await?;
            let kind = stored.trigger.map(|t| t.kind).unwrap_or_default();
            schedule_only_for_cron(if kind.is_empty() { "manual" } else { &kind }, cron, zone)?;
        }
        None => {}
    }
    let Some(mask) = mask_of(&patch) else {
        return Ok(Json(ops::get_policy(&s, &p, &name).await?.into()));
    };
    // The patch over a blank policy: the fields it names, with their new values; the mask
    // says which of them to take (a `null` resets one to its default).
    let mut change = serde_json::json!({
        "name": name,
        "source": {"registry": ""},
        "destination": {"registry": ""},
        "trigger": {"kind": ""},
    });
    merge(&mut change, patch);
    let change: PolicyJson = super::extract::parse_json(change.to_string().as_bytes())?;
    let req = berth_proto::v1::UpdatePolicyRequest {
        policy: Some(change.into()),
        update_mask: Some(prost_types::FieldMask { paths: mask }),
    };
    Ok(Json(ops::update_policy(&s, &p, req).await?.into()))
}

/// A schedule (or its time zone) given with a `manual` or `push` trigger would be dropped:
/// refused instead. (Another kind is refused by the service, naming `trigger.kind`.)
fn schedule_only_for_cron(kind: &str, has_cron: bool, has_zone: bool) -> Result<(), ApiError> {
    if !matches!(kind, "manual" | "push") {
        return Ok(());
    }
    let field = match (has_cron, has_zone) {
        (true, _) => "trigger.cron",
        (false, true) => "trigger.time_zone",
        (false, false) => return Ok(()),
    };
    Err(ApiError::invalid(
        field,
        format!("only a cron trigger has a schedule; this trigger is {kind:?} (set trigger.kind to \"cron\")"),
    ))
}

/// The field mask a merge patch amounts to: its keys, one level down in `source`,
/// `destination` and `trigger`. `None` when it changes nothing.
fn mask_of(patch: &serde_json::Value) -> Option<Vec<String>> {
    let mut mask = Vec::new();
    for (k, v) in patch.as_object()? {
        match (k.as_str(), v) {
            ("name", _) => {}
            ("source" | "destination" | "trigger", serde_json::Value::Object(o)) => {
                mask.extend(o.keys().map(|sub| format!("{k}.{sub}")))
            }
            _ => mask.push(k.clone()),
        }
    }
    (!mask.is_empty()).then_some(mask)
}

/// RFC 7396: objects merge key by key, `null` removes, anything else replaces.
fn merge(target: &mut serde_json::Value, patch: serde_json::Value) {
    match (target, patch) {
        (serde_json::Value::Object(t), serde_json::Value::Object(p)) => {
            for (k, v) in p {
                if v.is_null() {
                    t.remove(&k);
                } else {
                    merge(t.entry(k).or_insert(serde_json::Value::Null), v);
                }
            }
        }
        (t, p) => *t = p,
    }
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RunQuery {
    /// Check every artifact at the destination instead of trusting recorded digests.
    pub verify: Option<bool>,
}

/// Run a replication policy now.
///
/// Answers at once with the execution, which then plans and copies in the background.
#[utoipa::path(post, path = "/api/v1/replication/policies/{policy}/run", tag = "replication", params(RunQuery),
    responses((status = 202, description = "The execution, started", body = ExecutionJson),
        (status = 409, description = "An execution of the policy is active and the policy does not allow overlap", body = ErrorJson)))]
pub async fn run_policy(
    State(s): State<AppState>,
    Authed(p): Authed,
    Path(name): Path<String>,
    QueryParams(q): QueryParams<RunQuery>,
) -> HttpResult<(StatusCode, Json<ExecutionJson>)> {
    let verify = q.verify.unwrap_or(false);
    Ok((
        StatusCode::ACCEPTED,
        Json(ops::run_policy(&s, &p, &name, verify).await?.into()),
    ))
}

/// Cancel an execution: its pending tasks are not started.
#[utoipa::path(post, path = "/api/v1/replication/executions/{id}/cancel", tag = "replication",
    responses((status = 200, description = "The execution", body = ExecutionJson)))]
pub async fn cancel_execution(
    State(s): State<AppState>,
    Authed(p): Authed,
    Path(id): Path<String>,
) -> HttpResult<Json<ExecutionJson>> {
    Ok(Json(ops::cancel_execution(&s, &p, &id).await?.into()))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TaskQuery {
    /// Only tasks in this state: `pending`, `running`, `succeeded`, `failed`, `skipped` or
    /// `cancelled`.
    #[param(pattern = "^(pending|running|succeeded|failed|skipped|cancelled)$")]
    pub status: Option<String>,
    /// Items per page, 1–1000; left out: the list's default.
    #[param(minimum = 1, maximum = 1000)]
    pub page_size: Option<i32>,
    /// `next_page_token` of the previous page.
    pub page_token: Option<String>,
}

/// List an execution's tasks, one per artifact.
#[utoipa::path(get, path = "/api/v1/replication/executions/{id}/tasks", tag = "replication", params(TaskQuery),
    responses((status = 200, description = "One page of tasks", body = List<TaskJson>)))]
pub async fn list_tasks(
    State(s): State<AppState>,
    Authed(p): Authed,
    Path(id): Path<String>,
    QueryParams(q): QueryParams<TaskQuery>,
) -> HttpResult<Json<List<TaskJson>>> {
    let req = pb::ListTasksRequest {
        execution: id,
        status: q.status.unwrap_or_default(),
        page_size: super::extract::checked_page_size(q.page_size)?,
        page_token: q.page_token.unwrap_or_default(),
    };
    let r = ops::list_tasks(&s, &p, req).await?;
    Ok(Json(List::new(
        r.tasks.into_iter().map(Into::into).collect(),
        r.next_page_token,
    )))
}

/// Get an execution with its counts and bytes.
#[utoipa::path(get, path = "/api/v1/replication/executions/{id}", tag = "replication",
    responses((status = 200, description = "The execution", body = ExecutionJson)))]
pub async fn get_execution(
    State(s): State<AppState>,
    Authed(p): Authed,
    Path(id): Path<String>,
) -> HttpResult<Json<ExecutionJson>> {
    Ok(Json(ops::get_execution(&s, &p, &id).await?.into()))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExecutionQuery {
    /// Only this policy's executions.
    pub policy: Option<String>,
    /// At most this many, 1–1000; left out: the list's default.
    #[param(minimum = 1, maximum = 1000)]
    pub page_size: Option<i32>,
}

/// List executions, newest first.
#[utoipa::path(get, path = "/api/v1/replication/executions", tag = "replication", params(ExecutionQuery),
    responses((status = 200, description = "The executions", body = List<ExecutionJson>)))]
pub async fn list_executions(
    State(s): State<AppState>,
    Authed(p): Authed,
    QueryParams(q): QueryParams<ExecutionQuery>,
) -> HttpResult<Json<List<ExecutionJson>>> {
    let req = pb::ListExecutionsRequest {
        policy: q.policy.unwrap_or_default(),
        page_size: super::extract::checked_page_size(q.page_size)?,
        page_token: String::new(),
    };
    let items = ops::list_executions(&s, &p, req)
        .await?
        .into_iter()
        .map(Into::into)
        .collect();
    Ok(Json(List::new(items, String::new())))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ImportQuery {
    /// `space/repo` to import into.
    pub repository: String,
    /// The tag to give the image.
    pub tag: String,
}

#[derive(Serialize, ToSchema)]
pub struct ImportJson {
    pub repository: String,
    pub tag: String,
    pub digest: String,
    pub blobs: u64,
    pub bytes: u64,
}

/// Import an image archive into a registry.
///
/// The body streams a `docker save` tarball or an OCI layout (tar or tar.gz); its blobs are
/// pushed as they arrive.
#[utoipa::path(post, path = "/api/v1/registries/{registry}/import", tag = "replication", params(ImportQuery),
    request_body(content = ArchiveBody, content_type = "application/octet-stream", description = "The archive"),
    responses((status = 201, description = "The image as pushed", body = ImportJson)))]
pub async fn import_image(
    State(s): State<AppState>,
    Authed(p): Authed,
    Path(registry): Path<String>,
    QueryParams(q): QueryParams<ImportQuery>,
    body: axum::body::Body,
) -> HttpResult<(StatusCode, Json<ImportJson>)> {
    let r = ops::import_image(
        &s,
        &p,
        &registry,
        &q.repository,
        &q.tag,
        body.into_data_stream(),
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(ImportJson {
            repository: r.repository,
            tag: r.tag,
            digest: r.digest,
            blobs: r.blobs,
            bytes: r.bytes,
        }),
    ))
}
