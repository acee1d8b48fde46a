//! Every operation of the gateway, once: authorize, forward to the owning service, audit
//! mutations. The HTTP/JSON and gRPC front ends both call these and nothing else.

mod credentials;
mod registries;
mod registry_tokens;
mod removal;
mod replication;
mod scan;
mod scanners;
mod system;
mod tenancy;
mod visibility;

pub use credentials::*;
pub use registries::*;
pub use registry_tokens::*;
pub use removal::*;
pub use replication::*;
pub use scan::*;
pub use scanners::*;
pub use system::*;
pub use tenancy::*;
pub use visibility::{visible, Visible};

/// Most owning-service pages one listing reads to find something the caller may see. An empty
/// page that still has a next token would tell the caller how many hidden items it skipped, so
/// the bound is only a guard against runaway lists.
const MAX_FILTERED_PAGES: usize = 1000;

/// One page of `list` for `p`: the owning service's pages (`fetch(inner token)` answers items
/// and the next inner token) are read until an item passes `keep` or none remain. The caller
/// gives and gets only sealed tokens ([`crate::pages`]), so what `keep` leaves out stays unseen.
pub(crate) async fn filtered_page<T, F, Fut>(
    s: &AppState,
    p: &Principal,
    list: &str,
    token: &str,
    mut fetch: F,
    keep: impl Fn(&T) -> bool,
) -> ApiResult<(Vec<T>, String)>
where
    F: FnMut(String) -> Fut,
    Fut: std::future::Future<Output = ApiResult<(Vec<T>, String)>>,
{
    let mut inner = s.pages.open(p, list, token)?;
    let mut items = Vec::new();
    for _ in 0..MAX_FILTERED_PAGES {
        let (page, next) = fetch(inner).await?;
        items.extend(page.into_iter().filter(|i| keep(i)));
        inner = next;
        if !items.is_empty() || inner.is_empty() {
            break;
        }
    }
    Ok((items, s.pages.seal(p, list, &inner)))
}

use berth_error::{ApiError, ApiResult};
use chrono::Utc;
use sea_orm::{ActiveModelTrait, Set};

use crate::authn::Principal;
use crate::state::AppState;
use crate::store::audit_event;

pub(crate) use berth_runtime::clients::{registry_error, replication_error, space_error};

/// A request to an internal service, carrying the caller's principal.
pub(crate) fn request<T>(principal: &Principal, message: T) -> tonic::Request<T> {
    let mut r = tonic::Request::new(message);
    r.metadata_mut().insert(
        berth_auth::internal::PRINCIPAL_KEY,
        berth_auth::internal::principal_value(&principal.name),
    );
    r
}

/// A registry as the registry service answers it (for its owning workspace), as `p`.
pub(crate) async fn fetch_registry(
    s: &AppState,
    p: &Principal,
    registry: &str,
) -> ApiResult<berth_proto::v1::Registry> {
    Ok(s.registry
        .clone()
        .get_registry(request(
            p,
            berth_proto::v1::GetRegistryRequest {
                name: registry.into(),
            },
        ))
        .await
        .map_err(registry_error)?
        .into_inner()
        .registry
        .unwrap_or_default())
}

/// The workspace of `namespace`, for a principal allowed to see it: platform admins and
/// members of that workspace. To anyone else the namespace does not exist (404).
pub async fn namespace_workspace(
    s: &AppState,
    p: &Principal,
    namespace: &str,
) -> ApiResult<String> {
    let workspace = s
        .space
        .workspaces
        .clone()
        .get_namespace(request(
            p,
            berth_proto::v1::GetNamespaceRequest {
                namespace: namespace.into(),
            },
        ))
        .await
        .map_err(|st| match st.code() {
            // Unknown, and of another workspace, answer alike: names don't leak.
            tonic::Code::NotFound => {
                ApiError::not_found(format!("namespace {namespace:?} not found"))
            }
            _ => space_error(st),
        })?
        .into_inner()
        .workspace;
    crate::authz::authorize(
        p,
        crate::authz::Action::Read,
        crate::authz::Owner::Workspace(&workspace),
        &format!("namespace {namespace:?}"),
    )?;
    Ok(workspace)
}

/// The one shape of a mutation: `call` (an RPC to the owning service, already authorized) is
/// awaited, its answer picked by `pick` or its status mapped by `callee`, and the outcome
/// recorded in the audit trail as `action` on `resource`.
pub(crate) async fn forward<R, T>(
    s: &AppState,
    p: &Principal,
    action: &str,
    resource: &str,
    call: impl std::future::Future<Output = Result<tonic::Response<R>, tonic::Status>>,
    callee: fn(tonic::Status) -> ApiError,
    pick: impl FnOnce(R) -> T,
) -> ApiResult<T> {
    let out = call.await.map(|r| pick(r.into_inner())).map_err(callee);
    audit(s, p, action, resource, &out).await;
    out
}

/// Records a mutation and its outcome in the audit trail.
pub(crate) async fn audit<T>(
    s: &AppState,
    p: &Principal,
    action: &str,
    resource: &str,
    outcome: &ApiResult<T>,
) {
    let result = match outcome {
        Ok(_) => "ok".to_string(),
        Err(e) => serde_json::to_value(e.code)
            .ok()
            .and_then(|v| v.as_str().map(String::from))
            .unwrap_or_else(|| "error".into()),
    };
    let row = audit_event::ActiveModel {
        id: Set(uuid::Uuid::now_v7().to_string()),
        time: Set(Utc::now()),
        principal: Set(p.name.clone()),
        action: Set(action.to_string()),
        resource: Set(resource.to_string()),
        result: Set(result),
    };
    if let Err(e) = row.insert(&s.db).await {
        tracing::error!(error = %e, action, resource, "could not record audit event");
    }
}
