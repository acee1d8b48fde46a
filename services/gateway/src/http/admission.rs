//! The Kubernetes admission webhook (`POST /admission/validate`, AdmissionReview v1).
//!
//! Pods, and the pod templates of Deployments, StatefulSets, DaemonSets, ReplicaSets, Jobs and
//! CronJobs, are denied when any container, init container or ephemeral container image may not
//! be pulled by the object's namespace, naming each such image and the reason. Namespaces that
//! belong to no workspace (system namespaces) are judged as such: public spaces only. Images
//! without a registry host resolve as Kubernetes resolves them (`docker.io`).
//!
//! The API server authenticates with the configured admission token as a bearer token
//! (`BERTH_ADMISSION_TOKEN`; in a webhook's kubeconfig, `users[].user.token`); without it the
//! endpoint answers 401 and says nothing else. Decisions come through the access cache like
//! `POST /api/v1/access/check`.

use axum::body::Bytes;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use berth_error::ApiError;
use berth_proto::v1::CheckPullRequest;
use serde_json::{json, Value};

use crate::http::HttpError;
use crate::state::AppState;

/// The pod spec inside an admitted object, by its kind.
fn pod_spec<'a>(kind: &str, object: &'a Value) -> Option<&'a Value> {
    match kind {
        "Pod" => object.get("spec"),
        "Deployment"
        | "StatefulSet"
        | "DaemonSet"
        | "ReplicaSet"
        | "Job"
        | "ReplicationController" => object.pointer("/spec/template/spec"),
        "CronJob" => object.pointer("/spec/jobTemplate/spec/template/spec"),
        _ => None,
    }
}

/// Every image a pod spec runs, in order, without repeats.
pub fn images(spec: &Value) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for list in ["initContainers", "containers", "ephemeralContainers"] {
        for c in spec
            .get(list)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(image) = c.get("image").and_then(Value::as_str) {
                if !out.iter().any(|i| i == image) {
                    out.push(image.to_string());
                }
            }
        }
    }
    out
}

/// Who admission questions are asked as, in audit metadata downstream.
fn admission_principal() -> crate::authn::Principal {
    crate::authn::Principal {
        name: "system:admission".into(),
        platform_admin: false,
        roles: Default::default(),
    }
}

fn review(uid: &Value, allowed: bool, message: Option<String>) -> Response {
    let mut response = json!({ "uid": uid, "allowed": allowed });
    if let Some(m) = message {
        response["status"] = json!({ "code": 403, "reason": "Forbidden", "message": m });
    }
    Json(json!({ "apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "response": response })).into_response()
}

/// Whether the request carries the admission token (compared in constant time).
fn authenticated(s: &AppState, headers: &http::HeaderMap) -> bool {
    let Some(expected) = s.admission_token.as_deref() else {
        return false;
    };
    headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|t| {
            berth_auth::internal::constant_time_eq(t.trim().as_bytes(), expected.as_bytes())
        })
}

/// Judge a Kubernetes AdmissionReview (validating webhook).
///
/// Denies a pod (or a workload's pod template) when its namespace may not pull one of its
/// images; authenticated by the admission token as a bearer token.
#[utoipa::path(post, path = "/admission/validate", tag = "access", security(("admission_token" = [])),
    request_body(content = Object, description = "An `admission.k8s.io/v1` AdmissionReview"),
    responses((status = 200, description = "The AdmissionReview with its response", body = Object)))]
pub async fn admission_review(
    State(s): State<AppState>,
    headers: http::HeaderMap,
    body: Bytes,
) -> Response {
    if !authenticated(&s, &headers) {
        metrics::counter!("berth_admission_unauthenticated_total").increment(1);
        return HttpError(ApiError::unauthenticated("unauthenticated")).into_response();
    }
    let review_in: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => {
            return HttpError(ApiError::invalid(
                "body",
                format!("not an AdmissionReview: {e}"),
            ))
            .into_response()
        }
    };
    let Some(request) = review_in.get("request") else {
        return HttpError(ApiError::invalid(
            "request",
            "an AdmissionReview request is required",
        ))
        .into_response();
    };
    let uid = request.get("uid").cloned().unwrap_or(Value::Null);
    if uid.is_null() {
        return HttpError(ApiError::invalid("request.uid", "is required")).into_response();
    }
    if request.get("operation").and_then(Value::as_str) == Some("DELETE") {
        return review(&uid, true, None);
    }
    let kind = request
        .pointer("/kind/kind")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let namespace = request
        .get("namespace")
        .and_then(Value::as_str)
        .or_else(|| {
            request
                .pointer("/object/metadata/namespace")
                .and_then(Value::as_str)
        })
        .unwrap_or("default")
        .to_string();
    let Some(spec) = request.get("object").and_then(|o| pod_spec(kind, o)) else {
        // Not a workload Berth judges.
        return review(&uid, true, None);
    };
    let mut denials = Vec::new();
    for image in images(spec) {
        let req = CheckPullRequest {
            namespace: namespace.clone(),
            image: image.clone(),
            allow_unknown_namespace: true,
        };
        match crate::ops::decide_pull(&s, &admission_principal(), req).await {
            Ok(r) => {
                if !r.allowed {
                    denials.push(format!("image {image}: {}", r.reason));
                }
            }
            // Bad references name themselves; otherwise fail closed, with the cause, when Berth
            // cannot decide.
            Err(e) => denials.push(format!("image {image}: {}", e.message)),
        }
    }
    metrics::counter!("berth_admission_reviews_total", "allowed" => denials.is_empty().to_string())
        .increment(1);
    if denials.is_empty() {
        review(&uid, true, None)
    } else {
        tracing::info!(namespace = %namespace, kind, denied = denials.len(), "admission denied");
        review(&uid, false, Some(denials.join("; ")))
    }
}
