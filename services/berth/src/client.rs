//! A small client of the gateway's HTTP/JSON API that turns error envelopes into messages.

use anyhow::{bail, Context};
use serde_json::Value;

pub struct Client {
    http: reqwest::Client,
    server: String,
    token: Option<String>,
}

impl Client {
    pub fn new(server: &str, token: Option<&str>) -> anyhow::Result<Self> {
        Ok(Self {
            http: reqwest::Client::builder().build()?,
            server: server.trim_end_matches('/').to_string(),
            token: token.map(String::from),
        })
    }

    /// Sends a request and answers the JSON body (`Value::Null` for an empty one).
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> anyhow::Result<Value> {
        let mut req = self.http.request(method, format!("{}{path}", self.server));
        if let Some(b) = body {
            req = req.json(b);
        }
        self.send(req).await
    }

    /// POSTs a streamed body (`application/octet-stream`).
    pub async fn upload(&self, path: &str, body: reqwest::Body) -> anyhow::Result<Value> {
        let req = self
            .http
            .post(format!("{}{path}", self.server))
            .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
            .body(body);
        self.send(req).await
    }

    /// POSTs `body` with `content_type`.
    pub async fn upload_as(
        &self,
        path: &str,
        content_type: &str,
        body: reqwest::Body,
    ) -> anyhow::Result<Value> {
        let req = self
            .http
            .post(format!("{}{path}", self.server))
            .header(reqwest::header::CONTENT_TYPE, content_type)
            .body(body);
        self.send(req).await
    }

    async fn send(&self, mut req: reqwest::RequestBuilder) -> anyhow::Result<Value> {
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        let resp = req
            .send()
            .await
            .with_context(|| format!("cannot reach the gateway at {}", self.server))?;
        let status = resp.status();
        let text = resp.text().await?;
        let value: Value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        if !status.is_success() {
            let e = &value["error"];
            let message = e["message"].as_str().unwrap_or("request failed");
            match e["field"].as_str() {
                Some(f) => bail!("{message} (field {f}, HTTP {})", status.as_u16()),
                None => bail!("{message} (HTTP {})", status.as_u16()),
            }
        }
        Ok(value)
    }

    pub async fn get(&self, path: &str) -> anyhow::Result<Value> {
        self.call(reqwest::Method::GET, path, None).await
    }
}
