//! A front for a real registry that loses answers: it forwards every request to the registry
//! behind it, and while [`LossyFront::lose_manifest_puts`] is set it answers a manifest `PUT`
//! that the registry accepted with `400 MANIFEST_INVALID` instead — the registry holds the
//! manifest, the client is told it failed (as when a proxy or a timeout eats the answer).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::Router;
use futures::TryStreamExt;

#[derive(Clone)]
struct Front {
    backend: String,
    public: String,
    lose: Arc<AtomicBool>,
    http: reqwest::Client,
}

pub struct LossyFront {
    /// `127.0.0.1:port` of the front.
    pub host: String,
    lose: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for LossyFront {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl LossyFront {
    /// Fronts the registry at `backend` (`http://host:port`).
    pub async fn start(backend: &str) -> anyhow::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let host = listener.local_addr()?.to_string();
        let lose = Arc::new(AtomicBool::new(false));
        let front = Front {
            backend: backend.trim_end_matches('/').to_string(),
            public: format!("http://{host}"),
            lose: lose.clone(),
            http: reqwest::Client::new(),
        };
        let app = Router::new().fallback(any(forward)).with_state(front);
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self { host, lose, task })
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.host)
    }

    /// While set, accepted manifest `PUT`s are answered as refused.
    pub fn lose_manifest_puts(&self, on: bool) {
        self.lose.store(on, Ordering::SeqCst);
    }
}

async fn forward(State(front): State<Front>, req: Request) -> Response {
    let manifest_put =
        req.method() == axum::http::Method::PUT && req.uri().path().contains("/manifests/");
    let forwarded = [
        header::CONTENT_TYPE,
        header::CONTENT_LENGTH,
        header::ACCEPT,
        header::AUTHORIZATION,
    ];
    let resp = match send(&front.http, &front.backend, req, &forwarded).await {
        Ok(r) => r,
        Err(bad_gateway) => return bad_gateway,
    };
    if manifest_put && resp.status().is_success() && front.lose.load(Ordering::SeqCst) {
        return (
            StatusCode::BAD_REQUEST,
            [(header::CONTENT_TYPE, "application/json")],
            r#"{"errors":[{"code":"MANIFEST_INVALID","message":"manifest invalid"}]}"#,
        )
            .into_response();
    }
    respond(resp, &front.backend, &front.public)
}

/// Sends `req` on to the registry at `backend` (`http://host:port`) with the `headers` named
/// and its body streamed; a registry that cannot be reached is a `502`.
pub(crate) async fn send(
    http: &reqwest::Client,
    backend: &str,
    req: Request,
    headers: &[header::HeaderName],
) -> Result<reqwest::Response, Response> {
    let path = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_default();
    let mut out = http.request(req.method().clone(), format!("{backend}{path}"));
    for name in headers {
        for v in req.headers().get_all(name) {
            out = out.header(name.clone(), v.clone());
        }
    }
    let body = reqwest::Body::wrap_stream(
        req.into_body()
            .into_data_stream()
            .map_err(std::io::Error::other),
    );
    out.body(body)
        .send()
        .await
        .map_err(|_| StatusCode::BAD_GATEWAY.into_response())
}

/// The registry's answer as the front's: `Location`s that name `backend` name `public`.
pub(crate) fn respond(resp: reqwest::Response, backend: &str, public: &str) -> Response {
    let mut builder = Response::builder().status(resp.status().as_u16());
    for (k, v) in resp.headers() {
        let value = if k == header::LOCATION {
            let s = v.to_str().unwrap_or_default().replace(backend, public);
            HeaderValue::from_str(&s).unwrap_or_else(|_| v.clone())
        } else {
            v.clone()
        };
        builder = builder.header(k.as_str(), value);
    }
    builder
        .body(Body::from_stream(resp.bytes_stream()))
        .unwrap_or_else(|_| StatusCode::BAD_GATEWAY.into_response())
}
