//! Replication policies and executions. Copying between registries reads and writes them with
//! Berth's own credentials, so it is the platform admins' (workspace-scoped policies come later).

use berth_error::ApiResult;
use berth_proto::v1::*;

use super::{forward, replication_error, request};
use crate::authn::Principal;
use crate::authz::{authorize, Action, Owner};
use crate::state::AppState;

fn admin(p: &Principal) -> ApiResult<()> {
    authorize(p, Action::Admin, Owner::Platform, "replication")
}

pub async fn create_policy(s: &AppState, p: &Principal, policy: Policy) -> ApiResult<Policy> {
    admin(p)?;
    let resource = format!("replication/policies/{}", policy.name);
    forward(
        s,
        p,
        "policy.create",
        &resource,
        s.replication.policies.clone().create_policy(request(
            p,
            CreatePolicyRequest {
                policy: Some(policy),
            },
        )),
        replication_error,
        |r| r.policy.unwrap_or_default(),
    )
    .await
}

pub async fn get_policy(s: &AppState, p: &Principal, name: &str) -> ApiResult<Policy> {
    admin(p)?;
    s.replication
        .policies
        .clone()
        .get_policy(request(p, GetPolicyRequest { name: name.into() }))
        .await
        .map(|r| r.into_inner().policy.unwrap_or_default())
        .map_err(replication_error)
}

pub async fn list_policies(s: &AppState, p: &Principal) -> ApiResult<Vec<Policy>> {
    admin(p)?;
    s.replication
        .policies
        .clone()
        .list_policies(request(p, ListPoliciesRequest::default()))
        .await
        .map(|r| r.into_inner().policies)
        .map_err(replication_error)
}

pub async fn delete_policy(s: &AppState, p: &Principal, name: &str) -> ApiResult<()> {
    admin(p)?;
    forward(
        s,
        p,
        "policy.delete",
        &format!("replication/policies/{name}"),
        s.replication
            .policies
            .clone()
            .delete_policy(request(p, DeletePolicyRequest { name: name.into() })),
        replication_error,
        |_| (),
    )
    .await
}

/// Changes a policy: the fields `update_mask` names, or all of it when the mask is empty. The
/// HTTP `PATCH` reads its mask off the merge patch, so both take this one path.
pub async fn update_policy(
    s: &AppState,
    p: &Principal,
    req: UpdatePolicyRequest,
) -> ApiResult<Policy> {
    admin(p)?;
    let name = req
        .policy
        .as_ref()
        .map(|p| p.name.clone())
        .unwrap_or_default();
    let resource = format!("replication/policies/{name}");
    forward(
        s,
        p,
        "policy.update",
        &resource,
        s.replication
            .policies
            .clone()
            .update_policy(request(p, req)),
        replication_error,
        |r| r.policy.unwrap_or_default(),
    )
    .await
}

pub async fn run_policy(
    s: &AppState,
    p: &Principal,
    name: &str,
    verify: bool,
) -> ApiResult<Execution> {
    admin(p)?;
    forward(
        s,
        p,
        "policy.run",
        &format!("replication/policies/{name}"),
        s.replication.executions.clone().run_policy(request(
            p,
            RunPolicyRequest {
                name: name.into(),
                verify,
            },
        )),
        replication_error,
        |r| r.execution.unwrap_or_default(),
    )
    .await
}

pub async fn get_execution(s: &AppState, p: &Principal, id: &str) -> ApiResult<Execution> {
    admin(p)?;
    s.replication
        .executions
        .clone()
        .get_execution(request(p, GetExecutionRequest { id: id.into() }))
        .await
        .map(|r| r.into_inner().execution.unwrap_or_default())
        .map_err(replication_error)
}

pub async fn list_executions(
    s: &AppState,
    p: &Principal,
    req: ListExecutionsRequest,
) -> ApiResult<Vec<Execution>> {
    admin(p)?;
    s.replication
        .executions
        .clone()
        .list_executions(request(p, req))
        .await
        .map(|r| r.into_inner().executions)
        .map_err(replication_error)
}

pub async fn list_tasks(
    s: &AppState,
    p: &Principal,
    mut req: ListTasksRequest,
) -> ApiResult<ListTasksResponse> {
    admin(p)?;
    let list = format!("tasks:{}", req.execution);
    req.page_token = s.pages.open(p, &list, &req.page_token)?;
    let mut r = s
        .replication
        .executions
        .clone()
        .list_tasks(request(p, req))
        .await
        .map(|r| r.into_inner())
        .map_err(replication_error)?;
    r.next_page_token = s.pages.seal(p, &list, &r.next_page_token);
    Ok(r)
}

pub async fn cancel_execution(s: &AppState, p: &Principal, id: &str) -> ApiResult<Execution> {
    admin(p)?;
    forward(
        s,
        p,
        "execution.cancel",
        &format!("replication/executions/{id}"),
        s.replication
            .executions
            .clone()
            .cancel_execution(request(p, CancelExecutionRequest { id: id.into() })),
        replication_error,
        |r| r.execution.unwrap_or_default(),
    )
    .await
}

/// Streams an image archive into `registry` as `repository:tag` (see the replication service's
/// import). Whoever may manage the registry may import into it.
pub async fn import_image(
    s: &AppState,
    p: &Principal,
    registry: &str,
    repository: &str,
    tag: &str,
    body: impl futures::Stream<Item = Result<axum::body::Bytes, axum::Error>> + Send + 'static,
) -> ApiResult<ImportImageResponse> {
    let r = super::fetch_registry(s, p, registry).await?;
    authorize(
        p,
        Action::Manage,
        Owner::of(&r.workspace),
        &format!("registry {registry:?}"),
    )?;
    let target = ImportImageRequest {
        part: Some(import_image_request::Part::Target(ImportTarget {
            registry: registry.into(),
            repository: repository.into(),
            tag: tag.into(),
        })),
    };
    // A body that breaks off ends the stream early; the archive is then incomplete and the
    // import fails on it.
    use futures::StreamExt;
    // Frames arrive small; what is already here goes as one message (fewer, larger messages).
    let chunks = body
        .take_while(|b| futures::future::ready(b.is_ok()))
        .filter_map(|b| futures::future::ready(b.ok()))
        .ready_chunks(64)
        .map(|frames| ImportImageRequest {
            part: Some(import_image_request::Part::Chunk(frames.concat())),
        });
    let parts = futures::stream::once(async { target }).chain(chunks);
    forward(
        s,
        p,
        "image.import",
        &format!("registries/{registry}/repositories/{repository}:{tag}"),
        s.replication
            .imports
            .clone()
            .import_image(request(p, parts)),
        replication_error,
        |r| r,
    )
    .await
}

/// The execution's progress as the replication service streams it.
pub async fn watch_execution(
    s: &AppState,
    p: &Principal,
    id: &str,
) -> ApiResult<tonic::Streaming<WatchExecutionResponse>> {
    admin(p)?;
    s.replication
        .executions
        .clone()
        .watch_execution(request(p, WatchExecutionRequest { id: id.into() }))
        .await
        .map(|r| r.into_inner())
        .map_err(replication_error)
}
