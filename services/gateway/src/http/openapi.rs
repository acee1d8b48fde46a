//! The OpenAPI document served at `/api/v1/openapi.json`, generated from the handlers'
//! annotations. The conventions every operation shares are added here, from the paths
//! themselves, so they cannot drift: each `{name}` in a path is a declared path parameter, and
//! every operation documents the error envelope for the errors it can answer with.

use axum::Json;
use utoipa::openapi::path::{Operation, Parameter, ParameterBuilder, ParameterIn};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, ObjectBuilder, Ref, RefOr, Required, ResponseBuilder, Type};
use utoipa::{Modify, OpenApi};

use super::{
    admission, dto, hooks, registries, replication, scan, scanners, system, tenancy, token_service,
};

/// What a name in a path may be.
const DNS_LABEL: &str = r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$";
const PATH_COMPONENT: &str = r"^[a-z0-9]+([._-][a-z0-9]+)*$";
/// The characters no name in a path may hold (the gateway refuses them with a 400).
const ANY_NAME: &str = r"^[^\s\x00-\x1f\x7f-\x9f]+$";

/// Each path parameter: what it names, the pattern its values follow, and an example (the
/// names the conformance test's fixtures use, so the examples reach real resources).
const PATH_PARAMETERS: &[(&str, &str, &str, &str)] = &[
    ("registry", "The registry's name in Berth", DNS_LABEL, "hub"),
    ("space", "The space's name", PATH_COMPONENT, "team"),
    ("workspace", "The workspace's name", DNS_LABEL, "blue"),
    ("namespace", "A Kubernetes namespace", DNS_LABEL, "blue-ns"),
    (
        "principal",
        "A principal (user, group or service account name)",
        ANY_NAME,
        "alice",
    ),
    (
        "policy",
        "The replication policy's name",
        DNS_LABEL,
        "mirror",
    ),
    ("id", "The id Berth gave it", ANY_NAME, ""),
    ("name", "The scanner's name", DNS_LABEL, "trivy"),
    (
        "digest",
        "The artifact's digest",
        r"^sha256:[a-f0-9]{64}$",
        "",
    ),
    (
        "vulnerability_id",
        "A vulnerability record's id or alias",
        r"^[A-Za-z0-9._:-]{1,128}$",
        "CVE-2024-3094",
    ),
    (
        "repository",
        "The repository's path in the registry (it may contain `/`)",
        ANY_NAME,
        "team/app",
    ),
];

struct Conventions;

impl Modify for Conventions {
    fn modify(&self, api: &mut utoipa::openapi::OpenApi) {
        let components = api.components.get_or_insert_with(Default::default);
        let bearer = |description: &str| {
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(description))
                    .build(),
            )
        };
        components.add_security_scheme(
            "bearer",
            bearer("An API token (`berth login`, `POST /api/v1/tokens`)"),
        );
        components.add_security_scheme(
            "hook_secret",
            bearer("The registry's hook secret (`POST /api/v1/registries/{registry}/hook-secret`)"),
        );
        components.add_security_scheme(
            "admission_token",
            bearer("The admission token (`BERTH_ADMISSION_TOKEN_FILE`)"),
        );
        components.add_security_scheme(
            "basic",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Basic)
                    .description(Some(
                        "A namespace's pull credential, or a principal and its API or login token",
                    ))
                    .build(),
            ),
        );
        for (path, item) in api.paths.paths.iter_mut() {
            let names: Vec<&str> = path
                .split('/')
                .filter_map(|seg| seg.strip_prefix('{')?.strip_suffix('}'))
                .collect();
            for op in [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ]
            .into_iter()
            .flatten()
            {
                declare_path_parameters(op, &names);
                document_errors(op, !names.is_empty());
            }
        }
    }
}

fn path_parameter(name: &str) -> Parameter {
    let (description, pattern, example) = PATH_PARAMETERS
        .iter()
        .find(|(n, ..)| *n == name)
        .map(|(_, d, p, e)| (*d, *p, *e))
        .unwrap_or(("A name", ANY_NAME, ""));
    ParameterBuilder::new()
        .name(name)
        .parameter_in(ParameterIn::Path)
        .required(Required::True)
        .description(Some(description))
        .example((!example.is_empty()).then(|| serde_json::Value::from(example)))
        .schema(Some(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .min_length(Some(1))
                .max_length(Some(255))
                .pattern(Some(pattern)),
        ))
        .build()
}

/// Declares each `{name}` of the path the operation does not declare itself.
fn declare_path_parameters(op: &mut Operation, names: &[&str]) {
    let params = op.parameters.get_or_insert_with(Vec::new);
    for (i, name) in names.iter().enumerate() {
        let declared = params
            .iter()
            .any(|p| p.name == *name && p.parameter_in == ParameterIn::Path);
        if !declared {
            params.insert(i, path_parameter(name));
        }
    }
    if params.is_empty() {
        op.parameters = None;
    }
}

/// Whether the operation is open to anyone (`security: [{}]`).
fn is_public(op: &Operation) -> bool {
    op.security.as_ref().is_some_and(|reqs| {
        reqs.iter().all(|r| {
            serde_json::to_value(r)
                .ok()
                .and_then(|v| v.as_object().map(|o| o.is_empty()))
                .unwrap_or(false)
        })
    })
}

/// Adds the error answers the operation can give (the envelope, [`dto::ErrorJson`]) and fills
/// in the content of declared error answers that have none.
fn document_errors(op: &mut Operation, has_path_parameters: bool) {
    let public = is_public(op);
    let takes_input = has_path_parameters
        || op.request_body.is_some()
        || op.parameters.as_ref().is_some_and(|p| !p.is_empty());
    let mut errors: Vec<(&str, &str)> = Vec::new();
    if takes_input {
        errors.push((
            "400",
            "Bad input: `error.field` names the body field, query or path parameter at fault",
        ));
    }
    if !public {
        errors.push(("401", "No credential, or one Berth does not accept"));
        if op.security.is_none() {
            errors.push(("403", "The caller's roles do not allow this"));
        }
    }
    if has_path_parameters {
        errors.push(("404", "No such resource, or one the caller may not see"));
    }
    errors.push((
        "default",
        "Any other error: `upstream_unavailable` (502: a registry the request names cannot be \
         reached), `unavailable` (503: a part of Berth is), `deadline_exceeded` (504) or \
         `internal` (500)",
    ));
    for (status, description) in errors {
        op.responses
            .responses
            .entry(status.to_string())
            .or_insert_with(|| RefOr::T(ResponseBuilder::new().description(description).build()));
    }
    for (status, response) in op.responses.responses.iter_mut() {
        let is_error = status == "default" || status.starts_with('4') || status.starts_with('5');
        if let (true, RefOr::T(r)) = (is_error, response) {
            if r.content.is_empty() {
                r.content.insert(
                    "application/json".into(),
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name("ErrorJson")))
                        .build(),
                );
            }
        }
    }
}

/// The machine-readable API.
#[utoipa::path(get, path = "/api/v1/openapi.json", tag = "system", security(()),
    responses((status = 200, description = "This document (OpenAPI 3.1)", body = Object)))]
pub async fn openapi_document() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Berth",
        description = "Control plane for container registries: registries, spaces, workspaces, \
                       access, replication, scanning. Errors answer with `{\"error\": {\"code\", \"message\", \
                       \"field\"}}`; lists page with `page_size` and `page_token`."
    ),
    paths(
        system::healthz,
        system::readyz,
        system::metrics,
        openapi_document,
        registries::create_registry,
        registries::list_registries,
        registries::get_registry,
        registries::update_registry,
        registries::delete_registry,
        registries::ping_registry,
        registries::rotate_hook_secret,
        registries::registry_overview,
        registries::platform_overview,
        registries::list_repositories,
        registries::list_artifacts,
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
        tenancy::bind_space,
        tenancy::unbind_space,
        tenancy::check_access,
        tenancy::issue_pull_secret,
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
        hooks::distribution_notification,
        hooks::harbor_notification,
        admission::admission_review,
        token_service::registry_token,
        token_service::token_certificate,
        scan::import_vulndb,
        scan::vulndb_status,
        scan::sync_vulndb,
        scan::create_scan,
        scan::get_scan,
        scan::create_sweep,
        scan::get_sweep,
        scanners::list_scanners,
        scanners::create_scanner,
        scanners::get_scanner,
        scanners::delete_scanner,
        scan::artifact_vulnerabilities,
        scan::artifact_sbom,
        scan::put_allowlist_entry,
        scan::get_allowlist_entry,
        scan::delete_allowlist_entry,
        scan::list_allowlist,
    ),
    components(schemas(dto::ErrorJson, dto::ErrorDetailJson)),
    modifiers(&Conventions),
    security(("bearer" = []))
)]
pub struct ApiDoc;

#[cfg(test)]
mod tests {
    use super::*;

    fn operations(doc: &serde_json::Value) -> Vec<(String, String, serde_json::Value)> {
        let mut out = Vec::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                out.push((path.clone(), method.clone(), op.clone()));
            }
        }
        out
    }

    #[test]
    fn every_operation_is_named_summarized_and_documents_its_errors() {
        let doc = serde_json::to_value(ApiDoc::openapi()).unwrap();
        let ops = operations(&doc);
        assert!(ops.len() >= 57, "{} operations", ops.len());
        let mut ids = std::collections::HashSet::new();
        for (path, method, op) in &ops {
            let id = op["operationId"].as_str().unwrap_or_default();
            assert!(
                ids.insert(id.to_string()),
                "{method} {path}: operationId {id} repeats"
            );
            assert!(
                op["summary"].as_str().is_some_and(|s| !s.is_empty()),
                "{method} {path} has no summary"
            );
            assert!(op["responses"]["default"].is_object(), "{method} {path}");
            for name in path
                .split('/')
                .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
            {
                let declared = op["parameters"].as_array().is_some_and(|ps| {
                    ps.iter()
                        .any(|p| p["name"] == name && p["in"] == "path" && p["required"] == true)
                });
                assert!(
                    declared,
                    "{method} {path}: path parameter {name} undeclared"
                );
            }
            for p in op["parameters"].as_array().into_iter().flatten() {
                if p["in"] == "path" {
                    let name = p["name"].as_str().unwrap();
                    assert!(
                        path.contains(&format!("{{{name}}}")),
                        "{method} {path}: {name} is not in the path"
                    );
                }
            }
            let secured = op.get("security").is_none();
            if secured {
                assert!(
                    op["responses"]["401"].is_object(),
                    "{method} {path}: no 401"
                );
            }
        }
    }

    #[test]
    fn lists_declare_their_paging_limits_in_the_query() {
        let doc = serde_json::to_value(ApiDoc::openapi()).unwrap();
        let list = &doc["paths"]["/api/v1/registries"]["get"]["parameters"];
        let size = list
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == "page_size")
            .expect("page_size");
        assert_eq!(size["in"], "query");
        assert_eq!(size["schema"]["minimum"], 1);
        assert_eq!(size["schema"]["maximum"], 1000);
        let import = &doc["paths"]["/api/v1/registries/{registry}/import"]["post"]["parameters"];
        for name in ["repository", "tag"] {
            let p = import
                .as_array()
                .unwrap()
                .iter()
                .find(|p| p["name"] == name)
                .unwrap();
            assert_eq!(p["in"], "query", "{name}");
        }
    }
}
