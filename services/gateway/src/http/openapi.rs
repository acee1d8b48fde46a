//! The OpenAPI document served at `/api/v1/openapi.json`, generated from the handlers.

use axum::Json;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::{registries, replication, system, tenancy};

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, api: &mut utoipa::openapi::OpenApi) {
        let components = api.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "Berth", description = "Control plane for container registries"),
    paths(
        registries::create,
        registries::list,
        registries::get,
        registries::update,
        registries::delete,
        registries::ping,
        registries::rotate_hook_secret,
        registries::overview,
        registries::platform_overview,
        registries::repositories,
        registries::repository_subresource,
        system::create_token,
        system::list_tokens,
        system::delete_token,
        system::list_audit_events,
        tenancy::create_workspace,
        tenancy::list_workspaces,
        tenancy::get_workspace,
        tenancy::delete_workspace,
        tenancy::add_namespace,
        tenancy::remove_namespace,
        tenancy::set_member,
        tenancy::remove_member,
        tenancy::create_space,
        tenancy::list_spaces,
        tenancy::get_space,
        tenancy::update_space,
        tenancy::delete_space,
        tenancy::list_bindings,
        tenancy::bind,
        tenancy::unbind,
        tenancy::check_access,
        tenancy::pull_secret,
        tenancy::revoke_pull_secret,
        tenancy::login_command,
        tenancy::list_images,
        tenancy::import_spaces,
        replication::create_policy,
        replication::list_policies,
        replication::get_policy,
        replication::delete_policy,
        replication::update_policy,
        replication::run_policy,
        replication::cancel_execution,
        replication::list_tasks,
        replication::import_image,
        replication::get_execution,
        replication::list_executions,
    ),
    modifiers(&BearerAuth),
    security(("bearer" = []))
)]
pub struct ApiDoc;

pub async fn serve() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
