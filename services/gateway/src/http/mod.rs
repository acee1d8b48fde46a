//! The HTTP/JSON front end: routes, extractors that authenticate and parse, and the error
//! envelope. Handlers convert JSON to the protobuf request, call [`crate::ops`], and convert back.

pub mod admission;
pub mod dto;
mod extract;
mod harbor_scanner;
pub mod hooks;
pub mod openapi;
mod registries;
mod replication;
mod scan;
mod scanners;
pub(crate) mod system;
mod tenancy;
pub mod token_service;

use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use axum::{Json, Router};
use berth_error::{ApiError, ErrorCode};
use http::{header, StatusCode};

use crate::state::AppState;

pub use extract::{Authed, Cascade, CascadeQuery, JsonBody, OptionalJsonBody, Paging};

/// An [`ApiError`] as an HTTP response with the JSON error envelope.
#[derive(Debug)]
pub struct HttpError(pub ApiError);

impl From<ApiError> for HttpError {
    fn from(e: ApiError) -> Self {
        Self(e)
    }
}

impl IntoResponse for HttpError {
    fn into_response(self) -> Response {
        if self.0.code == ErrorCode::Internal {
            tracing::error!(error = %self.0, "internal error");
        }
        let mut resp = (self.0.code.http(), Json(self.0.envelope())).into_response();
        if self.0.code == ErrorCode::Unauthenticated {
            resp.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                http::HeaderValue::from_static("Bearer realm=\"berth\""),
            );
        }
        resp
    }
}

pub type HttpResult<T> = Result<T, HttpError>;

/// Every HTTP route of the gateway.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(system::healthz))
        .route("/readyz", get(system::readyz))
        .route("/metrics", get(system::metrics))
        .route("/api/v1/openapi.json", get(openapi::openapi_document))
        .route(
            "/api/v1/tokens",
            post(system::create_token).get(system::list_tokens),
        )
        .route("/api/v1/tokens/{id}", delete(system::delete_token))
        .route("/api/v1/audit-events", get(system::list_audit_events))
        .route("/api/v1/overview", get(registries::platform_overview))
        .route(
            "/api/v1/registries",
            get(registries::list_registries).post(registries::create_registry),
        )
        .route(
            "/api/v1/registries/{registry}",
            get(registries::get_registry)
                .patch(registries::update_registry)
                .delete(registries::delete_registry),
        )
        .route(
            "/api/v1/registries/{registry}/ping",
            post(registries::ping_registry),
        )
        .route(
            "/api/v1/registries/{registry}/hook-secret",
            post(registries::rotate_hook_secret),
        )
        .route(
            "/api/v1/registries/{registry}/overview",
            get(registries::registry_overview),
        )
        .route(
            "/api/v1/registries/{registry}/repositories",
            get(registries::list_repositories),
        )
        .route(
            "/api/v1/registries/{registry}/repositories/{*rest}",
            get(registries::repository_path),
        )
        .route(
            "/api/v1/registries/{registry}/spaces",
            get(tenancy::list_spaces).post(tenancy::create_space),
        )
        .route(
            "/api/v1/registries/{registry}/spaces/{space}",
            get(tenancy::get_space)
                .patch(tenancy::update_space)
                .delete(tenancy::delete_space),
        )
        .route(
            "/api/v1/registries/{registry}/spaces/{space}/bindings",
            get(tenancy::list_bindings),
        )
        .route(
            "/api/v1/registries/{registry}/spaces/{space}/bindings/{workspace}",
            put(tenancy::bind_space).delete(tenancy::unbind_space),
        )
        .route(
            "/api/v1/workspaces",
            get(tenancy::list_workspaces).post(tenancy::create_workspace),
        )
        .route(
            "/api/v1/workspaces/{workspace}",
            get(tenancy::get_workspace).delete(tenancy::delete_workspace),
        )
        .route(
            "/api/v1/workspaces/{workspace}/namespaces/{namespace}",
            put(tenancy::add_namespace).delete(tenancy::remove_namespace),
        )
        .route(
            "/api/v1/workspaces/{workspace}/members/{principal}",
            put(tenancy::set_member).delete(tenancy::remove_member),
        )
        .route("/api/v1/access/check", post(tenancy::check_access))
        .route(
            "/api/v1/namespaces/{namespace}/pull-secret",
            get(tenancy::issue_pull_secret).delete(tenancy::revoke_pull_secret),
        )
        .route(
            "/api/v1/registries/{registry}/login-command",
            post(tenancy::login_command),
        )
        .route(
            "/api/v1/registries/{registry}/import-spaces",
            post(tenancy::import_spaces),
        )
        .route(
            "/api/v1/namespaces/{namespace}/images",
            get(tenancy::list_images),
        )
        .route(
            "/api/v1/replication/policies",
            get(replication::list_policies).post(replication::create_policy),
        )
        .route(
            "/api/v1/replication/policies/{policy}",
            get(replication::get_policy)
                .patch(replication::update_policy)
                .delete(replication::delete_policy),
        )
        .route(
            "/api/v1/replication/policies/{policy}/run",
            post(replication::run_policy),
        )
        .route(
            "/api/v1/replication/executions",
            get(replication::list_executions),
        )
        .route(
            "/api/v1/replication/executions/{id}",
            get(replication::get_execution),
        )
        .route(
            "/api/v1/replication/executions/{id}/tasks",
            get(replication::list_tasks),
        )
        .route(
            "/api/v1/replication/executions/{id}/cancel",
            post(replication::cancel_execution),
        )
        .route(
            "/hooks/distribution/{registry}",
            post(hooks::distribution_notification),
        )
        .route("/hooks/harbor/{registry}", post(hooks::harbor_notification))
        .route(
            "/api/v1/registries/{registry}/import",
            post(replication::import_image),
        )
        .route("/api/v1/vulndb", get(scan::vulndb_status))
        .route("/api/v1/vulndb/import", post(scan::import_vulndb))
        .route("/api/v1/vulndb/sync", post(scan::sync_vulndb))
        .route("/api/v1/scans", post(scan::create_scan))
        .route("/api/v1/scans/{id}", get(scan::get_scan))
        .route("/api/v1/scan-sweeps", post(scan::create_sweep))
        .route("/api/v1/scan-sweeps/{id}", get(scan::get_sweep))
        .route(
            "/api/v1/scanners",
            get(scanners::list_scanners).post(scanners::create_scanner),
        )
        .route(
            "/api/v1/scanners/{name}",
            get(scanners::get_scanner).delete(scanners::delete_scanner),
        )
        // Harbor's pluggable scanner API: Berth as a Harbor's scanner.
        .route("/api/v1/metadata", get(harbor_scanner::metadata))
        .route("/api/v1/scan", post(harbor_scanner::accept_scan))
        .route("/api/v1/scan/{id}/report", get(harbor_scanner::scan_report))
        .route("/api/v1/allowlist", get(scan::list_allowlist))
        .route(
            "/api/v1/allowlist/{vulnerability_id}",
            put(scan::put_allowlist_entry)
                .get(scan::get_allowlist_entry)
                .delete(scan::delete_allowlist_entry),
        )
        .route("/auth/token", get(token_service::registry_token))
        .route("/auth/certificate", get(token_service::token_certificate))
        .route("/admission/validate", post(admission::admission_review))
        .route_layer(middleware::from_fn(check_path_names))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn(record_metrics))
        .layer(
            tower_http::trace::TraceLayer::new_for_http().make_span_with(|req: &Request| {
                let span =
                    tracing::info_span!("http", method = %req.method(), path = %req.uri().path());
                berth_telemetry::propagation::adopt_from_headers(&span, req.headers());
                span
            }),
        )
        .with_state(state)
}

/// A name in the request's path that no name can be, by its path parameter: found before any
/// handler runs, refused once the caller is authenticated ([`refuse_bad_path_name`]), so an
/// anonymous caller learns nothing but 401.
#[derive(Clone, Debug)]
pub struct BadPathName(pub String);

/// Whether one decoded path segment can be a name: valid UTF-8, at most 255 characters, no
/// white space (the byte-order mark included) or control characters.
fn fit_name(segment: &str) -> bool {
    match percent_encoding::percent_decode_str(segment).decode_utf8() {
        Ok(decoded) => {
            decoded.chars().count() <= 255
                && !decoded.chars().any(berth_error::validate::unfit_char)
        }
        Err(_) => false,
    }
}

/// Marks the request when a name in its path cannot be a name (see [`BadPathName`]); a
/// wildcard parameter (a repository path) is checked segment by segment.
async fn check_path_names(mut req: Request, next: Next) -> Response {
    let bad = req.extensions().get::<MatchedPath>().and_then(|matched| {
        let template: Vec<&str> = matched.as_str().split('/').collect();
        let actual: Vec<&str> = req.uri().path().split('/').collect();
        template.iter().enumerate().find_map(|(i, t)| {
            let name = t.strip_prefix('{')?.strip_suffix('}')?;
            let (name, segments) = match name.strip_prefix('*') {
                Some(rest) => (rest, actual.get(i..).unwrap_or_default()),
                None => (name, actual.get(i..=i).unwrap_or_default()),
            };
            (!segments.iter().all(|s| fit_name(s))).then(|| name.to_string())
        })
    });
    if let Some(name) = bad {
        // The repository route's wildcard is the repository path.
        let name = if name == "rest" {
            "repository".into()
        } else {
            name
        };
        req.extensions_mut().insert(BadPathName(name));
    }
    next.run(req).await
}

/// The 400 for a request [`check_path_names`] marked, naming the path parameter and never
/// echoing the name.
pub fn refuse_bad_path_name(extensions: &http::Extensions) -> Result<(), ApiError> {
    match extensions.get::<BadPathName>() {
        Some(BadPathName(name)) => Err(ApiError::invalid(
            name.clone(),
            "must be at most 255 characters without spaces or control characters",
        )),
        None => Ok(()),
    }
}

async fn not_found() -> HttpError {
    ApiError::not_found("no such resource").into()
}

async fn method_not_allowed() -> Response {
    let e = ApiError::new(
        ErrorCode::MethodNotAllowed,
        "method not allowed on this resource",
    );
    (StatusCode::METHOD_NOT_ALLOWED, Json(e.envelope())).into_response()
}

async fn record_metrics(req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".into());
    // Only the methods the API has: any other would add series without bound.
    let method = match *req.method() {
        http::Method::GET
        | http::Method::POST
        | http::Method::PUT
        | http::Method::PATCH
        | http::Method::DELETE
        | http::Method::HEAD
        | http::Method::OPTIONS => req.method().to_string(),
        _ => "other".to_string(),
    };
    let started = Instant::now();
    let resp = next.run(req).await;
    let status = resp.status().as_u16().to_string();
    metrics::histogram!("berth_http_request_duration_seconds", "method" => method, "route" => route, "status" => status)
        .record(started.elapsed().as_secs_f64());
    resp
}
