//! The Distribution API client.

use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::{Stream, StreamExt, TryStreamExt};
use reqwest::header::{
    HeaderMap, HeaderValue, ACCEPT, CONTENT_LENGTH, CONTENT_TYPE, LOCATION, RANGE, WWW_AUTHENTICATE,
};
use reqwest::{Method, Response, StatusCode};
use url::Url;

use crate::auth::{parse_challenge, Challenge, TokenCache, TokenResponse};
use crate::manifest::{self, Descriptor, Manifest};
use crate::pagination::next_link;
use crate::OciError;

/// A stream of blob bytes.
pub type BlobStream = Pin<Box<dyn Stream<Item = Result<Bytes, OciError>> + Send>>;

/// A username and password (or robot name and secret).
#[derive(Clone, PartialEq, Eq)]
pub struct Credential {
    pub username: String,
    pub password: String,
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Credential({}, ***)", self.username)
    }
}

/// Signs registry tokens locally for a registry behind Berth's own token service, so Berth never
/// sends a reusable secret to it (the token is bound to that registry's `service` and scope).
pub trait TokenMinter: Send + Sync {
    /// A bearer token granting `scope` (`type:name:actions` entries separated by spaces; empty:
    /// no access, enough for `/v2/`).
    fn mint(&self, scope: &str) -> String;
}

/// How the client authenticates.
#[derive(Clone, Default)]
pub enum Auth {
    #[default]
    Anonymous,
    /// Basic credentials, or presented to the token service a Bearer challenge names.
    Password(Credential),
    /// Tokens signed by Berth itself; challenges are never answered with a password, and a
    /// challenge's realm is never called.
    Minted(Arc<dyn TokenMinter>),
}

impl From<Option<Credential>> for Auth {
    fn from(c: Option<Credential>) -> Self {
        c.map_or(Auth::Anonymous, Auth::Password)
    }
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Auth::Anonymous => f.write_str("Anonymous"),
            Auth::Password(c) => write!(f, "Password({c:?})"),
            Auth::Minted(_) => f.write_str("Minted"),
        }
    }
}

#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Accept any TLS certificate (self-signed registries).
    pub insecure: bool,
    /// Limit for requests other than blob transfers.
    pub request_timeout: Duration,
}

impl Default for ClientOptions {
    fn default() -> Self {
        Self {
            insecure: false,
            request_timeout: Duration::from_secs(30),
        }
    }
}

struct Inner {
    http: reqwest::Client,
    base: Url,
    host: String,
    credential: Option<Credential>,
    minter: Option<Arc<dyn TokenMinter>>,
    tokens: TokenCache,
    basic: AtomicBool,
    request_timeout: Duration,
}

/// A client of one registry; cheap to clone, shares its token cache.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

/// What a mount attempt did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mount {
    /// The blob now exists in the target repository.
    Mounted,
    /// The registry opened an upload instead, at this location.
    Upload(String),
}

/// `/v2/{repo}/{rest}` for a repository name of the distribution grammar: nothing else (no
/// `..`, no escapes, no empty segment) reaches a registry URL.
fn repo_path(repo: &str, rest: &str) -> Result<String, OciError> {
    if !crate::reference::valid_repository(repo) {
        return Err(OciError::BadName(format!(
            "{repo:?} is not a repository name"
        )));
    }
    Ok(format!("/v2/{repo}/{rest}"))
}

/// `reference` when it is a tag or a digest.
fn checked_reference(reference: &str) -> Result<&str, OciError> {
    if crate::reference::valid_tag(reference) || crate::reference::valid_digest(reference) {
        Ok(reference)
    } else {
        Err(OciError::BadName(format!(
            "{reference:?} is neither a tag nor a digest"
        )))
    }
}

/// `digest` when it is `algorithm:hex`.
fn checked_digest(digest: &str) -> Result<&str, OciError> {
    if crate::reference::valid_digest(digest) {
        Ok(digest)
    } else {
        Err(OciError::BadName(format!("{digest:?} is not a digest")))
    }
}

/// Most `Link` pages a listing follows (a hostile registry could link forever).
const MAX_LINK_PAGES: usize = 10_000;
/// Largest manifest (or referrers index, or JSON answer) read, as Distribution limits them.
pub const MAX_MANIFEST_BYTES: usize = 4 * 1024 * 1024;
/// Most bytes of an error body read (and echoed in messages).
const MAX_ERROR_BYTES: usize = 64 * 1024;

/// Reads at most `limit` bytes of a body; a longer one is an error, not a memory blowup.
async fn read_capped(
    mut resp: Response,
    limit: usize,
    what: &str,
    host: &str,
) -> Result<Bytes, OciError> {
    if resp.content_length().is_some_and(|n| n > limit as u64) {
        return Err(OciError::Protocol(format!(
            "{what} is larger than {limit} bytes"
        )));
    }
    let mut out = bytes::BytesMut::new();
    while let Some(chunk) = resp
        .chunk()
        .await
        .map_err(|e| OciError::from_transport(host, &e))?
    {
        if out.len() + chunk.len() > limit {
            return Err(OciError::Protocol(format!(
                "{what} is larger than {limit} bytes"
            )));
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out.freeze())
}

/// The start of an error body as text (the rest is dropped unread).
async fn error_text(mut resp: Response) -> String {
    let mut out = Vec::new();
    while let Ok(Some(chunk)) = resp.chunk().await {
        let room = MAX_ERROR_BYTES.saturating_sub(out.len());
        out.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if out.len() >= MAX_ERROR_BYTES {
            break;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn pull(repo: &str) -> String {
    format!("repository:{repo}:pull")
}

fn push(repo: &str) -> String {
    format!("repository:{repo}:pull,push")
}

/// How long a minted token is used; the minter signs it for longer.
const MINTED_LIFE_SECS: u64 = 240;

impl Client {
    /// A client with a password (or none).
    pub fn new(
        url: &str,
        credential: Option<Credential>,
        options: ClientOptions,
    ) -> Result<Self, OciError> {
        Self::with_auth(url, credential.into(), options)
    }

    pub fn with_auth(url: &str, auth: Auth, options: ClientOptions) -> Result<Self, OciError> {
        let (credential, minter) = match auth {
            Auth::Anonymous => (None, None),
            Auth::Password(c) => (Some(c), None),
            Auth::Minted(m) => (None, Some(m)),
        };
        let base = Url::parse(url).map_err(|e| OciError::BadUrl(format!("{url}: {e}")))?;
        if base.scheme() != "http" && base.scheme() != "https" {
            return Err(OciError::BadUrl(format!(
                "{url}: scheme must be http or https"
            )));
        }
        let host = crate::reference::host_of_url(url)
            .ok_or_else(|| OciError::BadUrl(format!("{url}: no host")))?;
        let http = reqwest::Client::builder()
            .danger_accept_invalid_certs(options.insecure)
            .connect_timeout(Duration::from_secs(10))
            .read_timeout(Duration::from_secs(60))
            .pool_max_idle_per_host(32)
            .user_agent(concat!("berth/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| OciError::Protocol(e.to_string()))?;
        Ok(Self {
            inner: Arc::new(Inner {
                http,
                base,
                host,
                credential,
                minter,
                tokens: TokenCache::default(),
                basic: AtomicBool::new(false),
                request_timeout: options.request_timeout,
            }),
        })
    }

    /// `host[:port]` of the registry.
    pub fn host(&self) -> &str {
        &self.inner.host
    }

    fn url(&self, path_and_query: &str) -> Result<Url, OciError> {
        // Keep any path prefix of the base URL (registries served under a sub-path).
        let base = self.inner.base.as_str().trim_end_matches('/');
        Url::parse(&format!("{base}{path_and_query}")).map_err(|e| OciError::BadUrl(e.to_string()))
    }

    fn authorize(&self, req: reqwest::RequestBuilder, scope: &str) -> reqwest::RequestBuilder {
        if let Some(minter) = &self.inner.minter {
            // Berth signs the token itself: present it at once, no challenge round trip.
            let token = self.inner.tokens.get(scope).unwrap_or_else(|| {
                let t = minter.mint(scope);
                self.inner
                    .tokens
                    .put(scope, t.clone(), Some(MINTED_LIFE_SECS));
                t
            });
            return req.bearer_auth(token);
        }
        if self.inner.basic.load(Ordering::Relaxed) {
            if let Some(c) = &self.inner.credential {
                return req.basic_auth(&c.username, Some(&c.password));
            }
        }
        match self.inner.tokens.get(scope) {
            Some(token) => req.bearer_auth(token),
            None => req,
        }
    }

    /// Sends a request, answering one auth challenge. `body` must be replayable for that.
    async fn send(
        &self,
        method: Method,
        url: Url,
        scope: &str,
        headers: HeaderMap,
        body: Option<Bytes>,
    ) -> Result<Response, OciError> {
        // A blob's transfer (download, or an upload's chunks) takes as long as its size needs:
        // it is bounded by the client's idle read timeout, not by the request limit.
        let transfer = url.path().contains("/blobs/") && method != Method::HEAD;
        for attempt in 0..2 {
            let mut req = self
                .inner
                .http
                .request(method.clone(), url.clone())
                .headers(headers.clone());
            if !transfer {
                req = req.timeout(self.inner.request_timeout);
            }
            if let Some(b) = &body {
                req = req.body(b.clone());
            }
            let resp = self
                .authorize(req, scope)
                .send()
                .await
                .map_err(|e| OciError::from_transport(&self.inner.host, &e))?;
            if resp.status() != StatusCode::UNAUTHORIZED || attempt == 1 {
                return Ok(resp);
            }
            if self.inner.minter.is_some() {
                // A minted token was refused. Whatever the challenge asks for (a password, a
                // token from another realm), Berth sends nothing else to this host.
                return Err(OciError::Unauthorized(
                    "the registry refused Berth's token: is it configured with auth.token \
                     pointing at Berth (realm, service = its name in Berth, rootcertbundle)?"
                        .into(),
                ));
            }
            let challenge = resp
                .headers()
                .get(WWW_AUTHENTICATE)
                .and_then(|v| v.to_str().ok())
                .and_then(parse_challenge);
            match challenge {
                Some(Challenge::Basic) => {
                    if self.inner.credential.is_none() {
                        return Err(OciError::Unauthorized(
                            "the registry requires a username and password".into(),
                        ));
                    }
                    self.inner.basic.store(true, Ordering::Relaxed);
                }
                Some(Challenge::Bearer {
                    realm,
                    service,
                    scope: asked,
                }) => {
                    self.fetch_token(
                        &realm,
                        service.as_deref(),
                        asked.as_deref().or(Some(scope)).filter(|s| !s.is_empty()),
                        scope,
                    )
                    .await?;
                }
                None => return Ok(resp),
            }
        }
        unreachable!("the loop returns on its second pass")
    }

    async fn fetch_token(
        &self,
        realm: &str,
        service: Option<&str>,
        scope: Option<&str>,
        key: &str,
    ) -> Result<(), OciError> {
        let mut url = Url::parse(realm)
            .map_err(|e| OciError::Protocol(format!("bad token realm {realm:?}: {e}")))?;
        {
            let mut q = url.query_pairs_mut();
            if let Some(s) = service {
                q.append_pair("service", s);
            }
            if let Some(s) = scope {
                q.append_pair("scope", s);
            }
        }
        let mut req = self.inner.http.get(url).timeout(self.inner.request_timeout);
        if let Some(c) = &self.inner.credential {
            req = req.basic_auth(&c.username, Some(&c.password));
        }
        let resp = req
            .send()
            .await
            .map_err(|e| OciError::from_transport(&self.inner.host, &e))?;
        match resp.status() {
            s if s.is_success() => {}
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                return Err(OciError::Unauthorized(
                    "the token service rejected the credentials".into(),
                ))
            }
            s => {
                return Err(OciError::Status {
                    status: s.as_u16(),
                    detail: "token service error".into(),
                })
            }
        }
        let bytes = read_capped(resp, MAX_ERROR_BYTES, "token response", &self.inner.host).await?;
        let body: TokenResponse = serde_json::from_slice(&bytes)
            .map_err(|e| OciError::Protocol(format!("token response: {e}")))?;
        let token = body
            .token
            .or(body.access_token)
            .ok_or_else(|| OciError::Protocol("token response without a token".into()))?;
        self.inner.tokens.put(key, token, body.expires_in);
        Ok(())
    }

    /// Maps an unsuccessful response to an error about `what`.
    async fn check(resp: Response, what: &str) -> Result<Response, OciError> {
        let status = resp.status();
        if status.is_success() {
            return Ok(resp);
        }
        let detail = error_text(resp).await;
        let detail =
            registry_error_message(&detail).unwrap_or_else(|| detail.chars().take(200).collect());
        Err(match status {
            StatusCode::UNAUTHORIZED => {
                OciError::Unauthorized(format!("the registry rejected the credentials ({what})"))
            }
            StatusCode::FORBIDDEN => OciError::Forbidden(what.to_string()),
            StatusCode::NOT_FOUND => OciError::NotFound(what.to_string()),
            s => OciError::Status {
                status: s.as_u16(),
                detail: format!("{what}: {detail}"),
            },
        })
    }

    async fn get(
        &self,
        path: &str,
        scope: &str,
        accept: Option<&'static str>,
        what: &str,
    ) -> Result<Response, OciError> {
        let mut headers = HeaderMap::new();
        if let Some(a) = accept {
            headers.insert(ACCEPT, HeaderValue::from_static(a));
        }
        let resp = self
            .send(Method::GET, self.url(path)?, scope, headers, None)
            .await?;
        Self::check(resp, what).await
    }

    /// Checks that the URL is a registry and the credentials (if any) are accepted.
    pub async fn ping(&self) -> Result<(), OciError> {
        let resp = self
            .send(Method::GET, self.url("/v2/")?, "", HeaderMap::new(), None)
            .await?;
        if resp.status() == StatusCode::NOT_FOUND {
            return Err(OciError::NotARegistry(format!(
                "{} has no /v2/ endpoint",
                self.inner.base
            )));
        }
        let api_header = resp
            .headers()
            .contains_key("docker-distribution-api-version");
        let json = resp
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("json"));
        let resp = Self::check(resp, "/v2/").await?;
        if !api_header && !json {
            drop(resp);
            return Err(OciError::NotARegistry(format!(
                "{} answered /v2/ but not as a registry",
                self.inner.base
            )));
        }
        Ok(())
    }

    /// One page of the catalog: names, and the path of the next page.
    pub async fn catalog_page(
        &self,
        page: Option<&str>,
        n: u32,
    ) -> Result<(Vec<String>, Option<String>), OciError> {
        #[derive(serde::Deserialize)]
        struct Catalog {
            repositories: Option<Vec<String>>,
        }
        let path = page
            .map(String::from)
            .unwrap_or_else(|| format!("/v2/_catalog?n={n}"));
        let resp = self
            .get(&path, "registry:catalog:*", None, "catalog")
            .await?;
        let next = next_link(resp.headers().get("link"));
        let bytes = read_capped(resp, MAX_MANIFEST_BYTES, "catalog page", &self.inner.host).await?;
        let body: Catalog = serde_json::from_slice(&bytes)
            .map_err(|e| OciError::Protocol(format!("catalog: {e}")))?;
        Ok((body.repositories.unwrap_or_default(), next))
    }

    /// The whole catalog.
    pub async fn catalog(&self) -> Result<Vec<String>, OciError> {
        let mut out = Vec::new();
        let mut page = None;
        for _ in 0..MAX_LINK_PAGES {
            let (names, next) = self.catalog_page(page.as_deref(), 1000).await?;
            out.extend(names);
            match next {
                Some(n) => page = Some(n),
                None => return Ok(out),
            }
        }
        Err(OciError::Protocol(format!(
            "catalog: more than {MAX_LINK_PAGES} pages"
        )))
    }

    /// Every tag of `repo`.
    pub async fn tags(&self, repo: &str) -> Result<Vec<String>, OciError> {
        #[derive(serde::Deserialize)]
        struct Tags {
            tags: Option<Vec<String>>,
        }
        let mut out = Vec::new();
        let mut path = repo_path(repo, "tags/list?n=1000")?;
        for _ in 0..MAX_LINK_PAGES {
            let resp = self
                .get(&path, &pull(repo), None, &format!("repository {repo}"))
                .await?;
            let next = next_link(resp.headers().get("link"));
            let bytes =
                read_capped(resp, MAX_MANIFEST_BYTES, "tag list page", &self.inner.host).await?;
            let body: Tags = serde_json::from_slice(&bytes)
                .map_err(|e| OciError::Protocol(format!("tags of {repo}: {e}")))?;
            out.extend(body.tags.unwrap_or_default());
            match next {
                Some(n) => path = n,
                None => return Ok(out),
            }
        }
        Err(OciError::Protocol(format!(
            "tags of {repo}: more than {MAX_LINK_PAGES} pages"
        )))
    }

    /// Fetches a manifest by tag or digest and verifies its digest.
    pub async fn manifest(&self, repo: &str, reference: &str) -> Result<Manifest, OciError> {
        let what = format!("manifest {repo}:{reference}");
        let resp = self
            .get(
                &repo_path(
                    repo,
                    &format!("manifests/{}", checked_reference(reference)?),
                )?,
                &pull(repo),
                Some(manifest::ACCEPT),
                &what,
            )
            .await?;
        let header_type = resp
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(String::from);
        let header_digest = resp
            .headers()
            .get("docker-content-digest")
            .and_then(|v| v.to_str().ok())
            .map(String::from);
        let bytes = read_capped(resp, MAX_MANIFEST_BYTES, &what, &self.inner.host).await?;
        let m = Manifest::parse(bytes.to_vec(), header_type.as_deref())
            .map_err(|e| OciError::Protocol(format!("{what}: {e}")))?;
        let expected = if reference.starts_with("sha256:") {
            Some(reference.to_string())
        } else {
            header_digest.filter(|d| d.starts_with("sha256:"))
        };
        if let Some(expected) = expected {
            if expected != m.digest {
                return Err(OciError::DigestMismatch {
                    expected,
                    actual: m.digest,
                });
            }
        }
        Ok(m)
    }

    /// The descriptor of a manifest, or `None` when it does not exist.
    pub async fn head_manifest(
        &self,
        repo: &str,
        reference: &str,
    ) -> Result<Option<Descriptor>, OciError> {
        let mut headers = HeaderMap::new();
        headers.insert(ACCEPT, HeaderValue::from_static(manifest::ACCEPT));
        let resp = self
            .send(
                Method::HEAD,
                self.url(&repo_path(
                    repo,
                    &format!("manifests/{}", checked_reference(reference)?),
                )?)?,
                &pull(repo),
                headers,
                None,
            )
            .await?;
        if resp.status() == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        let resp = Self::check(resp, &format!("manifest {repo}:{reference}")).await?;
        let h = resp.headers();
        let text = |k| {
            h.get(k)
                .and_then(|v: &HeaderValue| v.to_str().ok())
                .unwrap_or_default()
                .to_string()
        };
        Ok(Some(Descriptor {
            media_type: text(CONTENT_TYPE.as_str()),
            digest: text("docker-content-digest"),
            size: text(CONTENT_LENGTH.as_str()).parse().unwrap_or(0),
            platform: None,
            artifact_type: None,
        }))
    }

    /// Stores a manifest under `reference` (a tag or its digest); answers its digest.
    pub async fn put_manifest(
        &self,
        repo: &str,
        reference: &str,
        media_type: &str,
        bytes: Bytes,
    ) -> Result<String, OciError> {
        let mut headers = HeaderMap::new();
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_str(media_type).map_err(|e| OciError::Protocol(e.to_string()))?,
        );
        let resp = self
            .send(
                Method::PUT,
                self.url(&repo_path(
                    repo,
                    &format!("manifests/{}", checked_reference(reference)?),
                )?)?,
                &push(repo),
                headers,
                Some(bytes.clone()),
            )
            .await?;
        Self::check(resp, &format!("put manifest {repo}:{reference}")).await?;
        Ok(crate::sha256_digest(&bytes))
    }

    /// Deletes a manifest by digest.
    pub async fn delete_manifest(&self, repo: &str, digest: &str) -> Result<(), OciError> {
        let resp = self
            .send(
                Method::DELETE,
                self.url(&repo_path(
                    repo,
                    &format!("manifests/{}", checked_digest(digest)?),
                )?)?,
                &push(repo),
                HeaderMap::new(),
                None,
            )
            .await?;
        Self::check(resp, &format!("delete manifest {repo}@{digest}")).await?;
        Ok(())
    }

    /// The size of a blob, or `None` when the repository does not have it.
    pub async fn head_blob(&self, repo: &str, digest: &str) -> Result<Option<u64>, OciError> {
        let resp = self
            .send(
                Method::HEAD,
                self.url(&repo_path(
                    repo,
                    &format!("blobs/{}", checked_digest(digest)?),
                )?)?,
                &pull(repo),
                HeaderMap::new(),
                None,
            )
            .await?;
        if resp.status() == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        let resp = Self::check(resp, &format!("blob {repo}@{digest}")).await?;
        Ok(resp
            .headers()
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok()))
    }

    /// Streams a blob: its length when known, and its bytes.
    pub async fn get_blob(
        &self,
        repo: &str,
        digest: &str,
    ) -> Result<(Option<u64>, BlobStream), OciError> {
        let resp = self
            .get(
                &repo_path(repo, &format!("blobs/{}", checked_digest(digest)?))?,
                &pull(repo),
                None,
                &format!("blob {repo}@{digest}"),
            )
            .await?;
        let len = resp.content_length();
        Ok((len, self.body(resp)))
    }

    /// A response's body as a blob stream whose errors name this registry.
    fn body(&self, resp: Response) -> BlobStream {
        let host = self.inner.host.clone();
        Box::pin(
            resp.bytes_stream()
                .map_err(move |e| OciError::from_transport(&host, &e)),
        )
    }

    async fn start_upload(
        &self,
        repo: &str,
        query: &str,
        scope: &str,
    ) -> Result<Response, OciError> {
        let resp = self
            .send(
                Method::POST,
                self.url(&repo_path(repo, &format!("blobs/uploads/{query}"))?)?,
                scope,
                HeaderMap::new(),
                Some(Bytes::new()),
            )
            .await?;
        Self::check(resp, &format!("start upload to {repo}")).await
    }

    fn location(&self, resp: &Response) -> Result<String, OciError> {
        resp.headers()
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(String::from)
            .ok_or_else(|| OciError::Protocol("upload without a Location".into()))
    }

    /// Mounts `digest` from repository `from` of the same registry into `repo`.
    pub async fn mount_blob(
        &self,
        repo: &str,
        digest: &str,
        from: &str,
    ) -> Result<Mount, OciError> {
        checked_digest(digest)?;
        repo_path(from, "")?;
        let scope = format!("{} {}", push(repo), pull(from));
        let resp = self
            .start_upload(repo, &format!("?mount={digest}&from={from}"), &scope)
            .await?;
        if resp.status() == StatusCode::CREATED {
            return Ok(Mount::Mounted);
        }
        Ok(Mount::Upload(self.location(&resp)?))
    }

    /// Uploads a blob in one streamed request (`POST`, then one `PUT ?digest=`); the registry
    /// verifies the digest.
    pub async fn put_blob(
        &self,
        repo: &str,
        digest: &str,
        size: u64,
        body: BlobStream,
    ) -> Result<(), OciError> {
        let location = self.open_upload(repo).await?;
        self.finish_upload(repo, &location, digest, size, body)
            .await
    }

    /// Completes an upload opened at `location` with the whole blob.
    pub async fn finish_upload(
        &self,
        repo: &str,
        location: &str,
        digest: &str,
        size: u64,
        body: BlobStream,
    ) -> Result<(), OciError> {
        let mut url = self.upload_url(location)?;
        url.query_pairs_mut().append_pair("digest", digest);
        let req = self
            .inner
            .http
            .put(url)
            .header(CONTENT_TYPE, "application/octet-stream")
            .header(CONTENT_LENGTH, size)
            .body(reqwest::Body::wrap_stream(
                body.map(|r| r.map_err(std::io::Error::other)),
            ));
        let resp = self
            .authorize(req, &push(repo))
            .send()
            .await
            .map_err(|e| OciError::from_transport(&self.inner.host, &e))?;
        if resp.status() == StatusCode::BAD_REQUEST {
            let text = error_text(resp).await;
            if text.contains("DIGEST_INVALID") {
                return Err(OciError::DigestMismatch {
                    expected: digest.to_string(),
                    actual: "content with another digest".into(),
                });
            }
            return Err(OciError::Status {
                status: 400,
                detail: registry_error_message(&text).unwrap_or(text),
            });
        }
        Self::check(resp, &format!("upload {repo}@{digest}")).await?;
        Ok(())
    }

    /// An upload location as a URL (registries answer absolute or path-only locations).
    fn upload_url(&self, location: &str) -> Result<Url, OciError> {
        match Url::parse(location) {
            Ok(u) => Ok(u),
            Err(_) => self.url(location),
        }
    }

    /// Cancels the upload at `location` (best effort: the registry expires it anyway), so a blob
    /// that failed leaves no upload behind.
    pub async fn cancel_upload(&self, repo: &str, location: &str) {
        let Ok(url) = self.upload_url(location) else {
            return;
        };
        let sent = self
            .send(Method::DELETE, url, &push(repo), HeaderMap::new(), None)
            .await;
        if let Err(e) = sent {
            tracing::debug!(repository = %repo, error = %e, "could not cancel an upload");
        }
    }

    /// Opens an upload session for chunked upload; answers its location.
    pub async fn open_upload(&self, repo: &str) -> Result<String, OciError> {
        let resp = self.start_upload(repo, "", &push(repo)).await?;
        self.location(&resp)
    }

    /// Streams `len` bytes starting at `offset` into the upload at `location` (`PATCH` with
    /// `Content-Range`); answers the location to continue at.
    pub async fn upload_chunk(
        &self,
        repo: &str,
        location: &str,
        offset: u64,
        len: u64,
        body: BlobStream,
    ) -> Result<String, OciError> {
        let req = self
            .inner
            .http
            .patch(self.upload_url(location)?)
            .header(CONTENT_TYPE, "application/octet-stream")
            .header(CONTENT_LENGTH, len)
            .header("Content-Range", format!("{offset}-{}", offset + len - 1))
            .body(reqwest::Body::wrap_stream(
                body.map(|r| r.map_err(std::io::Error::other)),
            ));
        let resp = self
            .authorize(req, &push(repo))
            .send()
            .await
            .map_err(|e| OciError::from_transport(&self.inner.host, &e))?;
        let resp = Self::check(resp, &format!("upload chunk to {repo}")).await?;
        self.location(&resp)
    }

    /// How many bytes the registry holds of the upload at `location`, and where to continue.
    pub async fn upload_offset(
        &self,
        repo: &str,
        location: &str,
    ) -> Result<(u64, String), OciError> {
        let resp = self
            .send(
                Method::GET,
                self.upload_url(location)?,
                &push(repo),
                HeaderMap::new(),
                None,
            )
            .await?;
        let resp = Self::check(resp, &format!("upload status in {repo}")).await?;
        let next = self
            .location(&resp)
            .unwrap_or_else(|_| location.to_string());
        // `Range: 0-N` means N+1 bytes held; `0-0` is also what an empty upload answers, so
        // it counts as none (resending one byte is harmless).
        let end = resp
            .headers()
            .get(RANGE)
            .and_then(|v| v.to_str().ok())
            .and_then(|r| r.rsplit_once('-'))
            .and_then(|(_, end)| end.parse::<u64>().ok());
        Ok((end.filter(|e| *e > 0).map_or(0, |e| e + 1), next))
    }

    /// Streams bytes `start..=end` of a blob (a `Range` request).
    pub async fn get_blob_range(
        &self,
        repo: &str,
        digest: &str,
        start: u64,
        end: u64,
    ) -> Result<BlobStream, OciError> {
        let mut headers = HeaderMap::new();
        headers.insert(
            RANGE,
            HeaderValue::from_str(&format!("bytes={start}-{end}"))
                .map_err(|e| OciError::Protocol(e.to_string()))?,
        );
        let resp = self
            .send(
                Method::GET,
                self.url(&repo_path(
                    repo,
                    &format!("blobs/{}", checked_digest(digest)?),
                )?)?,
                &pull(repo),
                headers,
                None,
            )
            .await?;
        let resp = Self::check(resp, &format!("blob {repo}@{digest}")).await?;
        if resp.status() != StatusCode::PARTIAL_CONTENT {
            return Err(OciError::Protocol(format!(
                "{} ignored a range request for {digest}",
                self.inner.host
            )));
        }
        Ok(self.body(resp))
    }

    /// Manifests whose `subject` is `digest`: the referrers API, else the `sha256-<hex>` tag.
    pub async fn referrers(&self, repo: &str, digest: &str) -> Result<Vec<Descriptor>, OciError> {
        let resp = self
            .send(
                Method::GET,
                self.url(&repo_path(
                    repo,
                    &format!("referrers/{}", checked_digest(digest)?),
                )?)?,
                &pull(repo),
                HeaderMap::new(),
                None,
            )
            .await?;
        if resp.status().is_success() {
            let bytes = read_capped(
                resp,
                MAX_MANIFEST_BYTES,
                "referrers index",
                &self.inner.host,
            )
            .await?;
            let index = Manifest::parse(bytes.to_vec(), Some(manifest::OCI_INDEX))
                .map_err(OciError::Protocol)?;
            return Ok(index.children());
        }
        let fallback = digest.replace(':', "-");
        match self.manifest(repo, &fallback).await {
            Ok(index) if index.is_index() => Ok(index.children()),
            Ok(_) | Err(OciError::NotFound(_)) => Ok(Vec::new()),
            Err(e) => Err(e),
        }
    }
}

/// The first message of a Distribution error body (`{"errors":[{"code","message"}]}`).
fn registry_error_message(body: &str) -> Option<String> {
    let v: serde_json::Value = serde_json::from_str(body).ok()?;
    let e = v.get("errors")?.get(0)?;
    Some(format!(
        "{} {}",
        e.get("code").and_then(|c| c.as_str()).unwrap_or_default(),
        e.get("message")
            .and_then(|c| c.as_str())
            .unwrap_or_default()
    ))
}
