//! An emulator of the Harbor v2.0 API paths Berth uses, fronting a real `docker-registry`.
//!
//! Harbor cannot be installed here, so the Harbor adapter is tested against this. It follows
//! Harbor's published swagger for the paths it serves: `GET /api/v2.0/systeminfo`, `/ping`,
//! `/users/current`, `/projects`, `/projects/{project}/repositories`,
//! `/projects/{project}/repositories/{repository}/artifacts` (repository path-encoded twice),
//! `/statistics`, with `page`/`page_size` paging, `X-Total-Count` and Basic auth; and Harbor's
//! registry front: `/v2/` answers with a Bearer challenge whose realm is `/service/token`, and
//! authorized `/v2/*` requests are proxied to the backing registry. Projects are the first path
//! segments of the backing registry's repositories.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use axum::extract::{Path, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use axum::{Json, Router};
use base64::Engine;
use berth_oci::{Client, ClientOptions, Manifest};
use serde::Deserialize;
use serde_json::{json, Value};

/// Sizes by digest.
type Sizes = HashMap<String, u64>;

/// A robot account: its name (`robot$…`), secret and the projects it may pull.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Robot {
    pub id: i64,
    pub name: String,
    #[serde(skip)]
    pub secret: String,
    pub projects: Vec<String>,
}

#[derive(Clone, Debug)]
struct ProjectState {
    id: i64,
    public: bool,
    storage_limit: i64,
}

#[derive(Clone, Default)]
struct Provisioned {
    /// Projects created through the API: id, public flag, storage limit (-1: none).
    projects: BTreeMap<String, ProjectState>,
    next_project: i64,
    robots: BTreeMap<i64, Robot>,
    next_robot: i64,
}

#[derive(Clone)]
struct Emu {
    backend: String,
    backend_host: String,
    user: (String, String),
    /// Bearer tokens and what they may pull: `None` for the admin user, projects for a robot.
    tokens: Arc<Mutex<HashMap<String, Option<Vec<String>>>>>,
    state: Arc<Mutex<Provisioned>>,
    public_url: Arc<Mutex<String>>,
    http: reqwest::Client,
    /// How long robot calls take (a slow Harbor).
    robot_delay: Arc<Mutex<std::time::Duration>>,
    /// Robot calls answer 500 while set.
    robots_fail: Arc<std::sync::atomic::AtomicBool>,
    /// How long creating a project takes.
    project_delay: Arc<Mutex<std::time::Duration>>,
}

/// A running emulator; stops when dropped.
pub struct HarborEmulator {
    pub url: String,
    task: tokio::task::JoinHandle<()>,
    robot_delay: Arc<Mutex<std::time::Duration>>,
    robots_fail: Arc<std::sync::atomic::AtomicBool>,
    project_delay: Arc<Mutex<std::time::Duration>>,
}

impl Drop for HarborEmulator {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl HarborEmulator {
    /// Serves on a free loopback port in front of `backend` (an unauthenticated registry URL),
    /// accepting `user` / `password`.
    pub async fn start(backend: &str, user: &str, password: &str) -> anyhow::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}", listener.local_addr()?);
        let emu = Emu {
            backend: backend.trim_end_matches('/').to_string(),
            backend_host: backend
                .trim_start_matches("http://")
                .trim_end_matches('/')
                .to_string(),
            user: (user.to_string(), password.to_string()),
            tokens: Arc::default(),
            state: Arc::default(),
            public_url: Arc::new(Mutex::new(url.clone())),
            http: reqwest::Client::new(),
            robot_delay: Arc::default(),
            robots_fail: Arc::default(),
            project_delay: Arc::default(),
        };
        let robot_delay = emu.robot_delay.clone();
        let robots_fail = emu.robots_fail.clone();
        let project_delay = emu.project_delay.clone();
        let app = Router::new()
            .route("/api/v2.0/systeminfo", get(systeminfo))
            .route("/api/v2.0/ping", get(|| async { "Pong" }))
            .route("/api/v2.0/users/current", get(current_user))
            .route("/api/v2.0/projects", get(projects).post(create_project))
            .route(
                "/api/v2.0/projects/{project}",
                get(get_project).put(update_project).delete(delete_project),
            )
            .route("/api/v2.0/quotas", get(quotas))
            .route("/api/v2.0/quotas/{id}", axum::routing::put(update_quota))
            .route("/api/v2.0/robots", get(list_robots).post(create_robot))
            .route(
                "/api/v2.0/robots/{id}",
                axum::routing::put(update_robot).delete(delete_robot),
            )
            .route(
                "/api/v2.0/projects/{project}/repositories",
                get(repositories),
            )
            .route(
                "/api/v2.0/projects/{project}/repositories/{repository}/artifacts",
                get(artifacts),
            )
            .route("/api/v2.0/statistics", get(statistics))
            .route("/service/token", get(token))
            .route("/v2/", any(registry_proxy))
            .route("/v2/{*rest}", any(registry_proxy))
            .with_state(emu);
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self {
            url,
            task,
            robot_delay,
            robots_fail,
            project_delay,
        })
    }

    /// Makes every robot call fail (500) from now on, or work again.
    pub fn fail_robots(&self, fail: bool) {
        self.robots_fail
            .store(fail, std::sync::atomic::Ordering::SeqCst);
    }

    /// Makes creating a project take `delay` from now on.
    pub fn slow_projects(&self, delay: std::time::Duration) {
        *self.project_delay.lock().unwrap() = delay;
    }

    /// Makes every robot call take `delay` from now on (a slow or stuck Harbor).
    pub fn slow_robots(&self, delay: std::time::Duration) {
        *self.robot_delay.lock().unwrap() = delay;
    }
}

/// A slow or failing Harbor's robot API: `Some` is the failure to answer.
async fn robot_gate(emu: &Emu) -> Option<Response> {
    pause(&emu.robot_delay).await;
    emu.robots_fail
        .load(std::sync::atomic::Ordering::SeqCst)
        .then(|| (StatusCode::INTERNAL_SERVER_ERROR, "robots are down").into_response())
}

async fn pause(delay: &Mutex<std::time::Duration>) {
    let delay = *delay.lock().unwrap();
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
}

fn basic_ok(emu: &Emu, headers: &HeaderMap) -> bool {
    let Some(v) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let Some(b64) = v.strip_prefix("Basic ") else {
        return false;
    };
    let Ok(raw) = base64::engine::general_purpose::STANDARD.decode(b64) else {
        return false;
    };
    String::from_utf8_lossy(&raw) == format!("{}:{}", emu.user.0, emu.user.1)
}

fn unauthorized() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        Json(json!({"errors": [{"code": "UNAUTHORIZED", "message": "unauthorized"}]})),
    )
        .into_response()
}

async fn systeminfo() -> Json<Value> {
    Json(
        json!({"harbor_version": "v2.0.0-emulator", "auth_mode": "db_auth", "registry_url": "emulator"}),
    )
}

async fn current_user(State(emu): State<Emu>, headers: HeaderMap) -> Response {
    if !basic_ok(&emu, &headers) {
        return unauthorized();
    }
    Json(json!({"user_id": 1, "username": emu.user.0, "sysadmin_flag": true})).into_response()
}

#[derive(Deserialize)]
struct Paging {
    page: Option<usize>,
    page_size: Option<usize>,
}

fn paged<T: serde::Serialize>(items: Vec<T>, p: &Paging) -> Response {
    let total = items.len();
    let size = p.page_size.unwrap_or(10).clamp(1, 100);
    let page = p.page.unwrap_or(1).max(1);
    let slice: Vec<T> = items
        .into_iter()
        .skip((page - 1) * size)
        .take(size)
        .collect();
    let mut resp = Json(slice).into_response();
    resp.headers_mut()
        .insert("x-total-count", HeaderValue::from(total));
    resp
}

/// What the backing registry holds, per repository: tags grouped by top-level manifest.
struct Artifact {
    manifest: Manifest,
    tags: Vec<String>,
    children: Vec<Manifest>,
}

impl Artifact {
    fn blobs(&self) -> Vec<(String, u64)> {
        let mut out: Vec<(String, u64)> = self
            .manifest
            .blobs()
            .into_iter()
            .map(|b| (b.digest, b.size))
            .collect();
        for c in &self.children {
            out.extend(c.blobs().into_iter().map(|b| (b.digest, b.size)));
        }
        out
    }

    fn manifests(&self) -> Vec<(String, u64)> {
        std::iter::once(&self.manifest)
            .chain(&self.children)
            .map(|m| (m.digest.clone(), m.bytes.len() as u64))
            .collect()
    }

    fn size(&self) -> u64 {
        let blobs: HashMap<String, u64> = self.blobs().into_iter().collect();
        let manifests: HashMap<String, u64> = self.manifests().into_iter().collect();
        blobs.values().sum::<u64>() + manifests.values().sum::<u64>()
    }
}

async fn inventory(emu: &Emu) -> anyhow::Result<BTreeMap<String, Vec<Artifact>>> {
    let client = Client::new(&emu.backend, None, ClientOptions::default())?;
    let mut out = BTreeMap::new();
    for repo in client.catalog().await? {
        let tags = match client.tags(&repo).await {
            Ok(t) => t,
            Err(berth_oci::OciError::NotFound(_)) => continue,
            Err(e) => return Err(e.into()),
        };
        let mut by_digest: BTreeMap<String, Artifact> = BTreeMap::new();
        for tag in tags {
            let m = client.manifest(&repo, &tag).await?;
            if let Some(a) = by_digest.get_mut(&m.digest) {
                a.tags.push(tag);
                continue;
            }
            let mut children = Vec::new();
            for c in m.children() {
                children.push(client.manifest(&repo, &c.digest).await?);
            }
            by_digest.insert(
                m.digest.clone(),
                Artifact {
                    manifest: m,
                    tags: vec![tag],
                    children,
                },
            );
        }
        if !by_digest.is_empty() {
            out.insert(repo, by_digest.into_values().collect());
        }
    }
    Ok(out)
}

fn project_of(repo: &str) -> Option<&str> {
    repo.split_once('/').map(|(p, _)| p)
}

async fn projects(State(emu): State<Emu>, headers: HeaderMap, Query(p): Query<Paging>) -> Response {
    if !basic_ok(&emu, &headers) {
        return unauthorized();
    }
    let Ok(inv) = inventory(&emu).await else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let state = emu.state.lock().expect("state").clone();
    let mut names: Vec<String> = inv
        .keys()
        .filter_map(|r| project_of(r))
        .map(String::from)
        .collect();
    names.extend(state.projects.keys().cloned());
    names.sort();
    names.dedup();
    let items: Vec<Value> = names
        .iter()
        .enumerate()
        .map(|(i, n)| {
            let repo_count = inv.keys().filter(|r| project_of(r) == Some(n.as_str())).count();
            let public = state.projects.get(n).is_some_and(|p| p.public);
            json!({"project_id": i + 1, "name": n, "repo_count": repo_count, "metadata": {"public": public.to_string()}})
        })
        .collect();
    paged(items, &p)
}

#[derive(Deserialize)]
struct ProjectReq {
    project_name: Option<String>,
    metadata: Option<HashMap<String, String>>,
    storage_limit: Option<i64>,
}

fn public_of(req: &ProjectReq) -> bool {
    req.metadata
        .as_ref()
        .and_then(|m| m.get("public"))
        .is_some_and(|v| v == "true")
}

fn harbor_error(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        Json(json!({"errors": [{"code": code, "message": message}]})),
    )
        .into_response()
}

async fn create_project(
    State(emu): State<Emu>,
    headers: HeaderMap,
    Json(req): Json<ProjectReq>,
) -> Response {
    pause(&emu.project_delay).await;
    if !basic_ok(&emu, &headers) {
        return unauthorized();
    }
    let Some(name) = req.project_name.clone() else {
        return harbor_error(
            StatusCode::BAD_REQUEST,
            "BAD_REQUEST",
            "project_name is required",
        );
    };
    let mut state = emu.state.lock().expect("state");
    if state.projects.contains_key(&name) {
        return harbor_error(
            StatusCode::CONFLICT,
            "CONFLICT",
            "the project already exists",
        );
    }
    state.next_project += 1;
    let project = ProjectState {
        id: state.next_project,
        public: public_of(&req),
        storage_limit: req.storage_limit.unwrap_or(-1),
    };
    state.projects.insert(name, project);
    StatusCode::CREATED.into_response()
}

async fn update_project(
    State(emu): State<Emu>,
    headers: HeaderMap,
    Path(project): Path<String>,
    Json(req): Json<ProjectReq>,
) -> Response {
    if !basic_ok(&emu, &headers) {
        return unauthorized();
    }
    let mut state = emu.state.lock().expect("state");
    match state.projects.get_mut(&project) {
        Some(p) => {
            p.public = public_of(&req);
            StatusCode::OK.into_response()
        }
        None => harbor_error(StatusCode::NOT_FOUND, "NOT_FOUND", "project not found"),
    }
}

async fn delete_project(
    State(emu): State<Emu>,
    headers: HeaderMap,
    Path(project): Path<String>,
) -> Response {
    if !basic_ok(&emu, &headers) {
        return unauthorized();
    }
    let Ok(inv) = inventory(&emu).await else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    if inv.keys().any(|r| project_of(r) == Some(project.as_str())) {
        return harbor_error(
            StatusCode::PRECONDITION_FAILED,
            "PRECONDITION",
            "the project contains repositories",
        );
    }
    match emu.state.lock().expect("state").projects.remove(&project) {
        Some(_) => StatusCode::OK.into_response(),
        None => harbor_error(StatusCode::NOT_FOUND, "NOT_FOUND", "project not found"),
    }
}

async fn get_project(
    State(emu): State<Emu>,
    headers: HeaderMap,
    Path(project): Path<String>,
) -> Response {
    if !basic_ok(&emu, &headers) {
        return unauthorized();
    }
    match emu.state.lock().expect("state").projects.get(&project) {
        Some(p) => Json(json!({"project_id": p.id, "name": project, "metadata": {"public": p.public.to_string()}})).into_response(),
        None => harbor_error(StatusCode::NOT_FOUND, "NOT_FOUND", "project not found"),
    }
}

#[derive(Deserialize)]
struct QuotaQuery {
    reference_id: Option<i64>,
}

/// Quotas share their project's id here.
async fn quotas(
    State(emu): State<Emu>,
    headers: HeaderMap,
    Query(q): Query<QuotaQuery>,
) -> Response {
    if !basic_ok(&emu, &headers) {
        return unauthorized();
    }
    let state = emu.state.lock().expect("state");
    let items: Vec<Value> = state
        .projects
        .iter()
        .filter(|(_, p)| q.reference_id.is_none_or(|id| id == p.id))
        .map(|(name, p)| json!({"id": p.id, "ref": {"id": p.id, "name": name}, "hard": {"storage": p.storage_limit}}))
        .collect();
    Json(items).into_response()
}

#[derive(Deserialize)]
struct QuotaUpdate {
    hard: HashMap<String, i64>,
}

async fn update_quota(
    State(emu): State<Emu>,
    headers: HeaderMap,
    Path(id): Path<i64>,
    Json(req): Json<QuotaUpdate>,
) -> Response {
    if !basic_ok(&emu, &headers) {
        return unauthorized();
    }
    let mut state = emu.state.lock().expect("state");
    match state.projects.values_mut().find(|p| p.id == id) {
        Some(p) => {
            p.storage_limit = req.hard.get("storage").copied().unwrap_or(-1);
            StatusCode::OK.into_response()
        }
        None => harbor_error(StatusCode::NOT_FOUND, "NOT_FOUND", "quota not found"),
    }
}

#[derive(Deserialize)]
struct RobotReq {
    name: String,
    #[serde(default)]
    permissions: Vec<Permission>,
}

#[derive(Deserialize)]
struct Permission {
    kind: String,
    namespace: String,
    #[serde(default)]
    access: Vec<HashMap<String, String>>,
}

fn pull_projects(req: &RobotReq) -> Vec<String> {
    req.permissions
        .iter()
        .filter(|p| {
            p.kind == "project"
                && p.access
                    .iter()
                    .any(|a| a.get("action").map(String::as_str) == Some("pull"))
        })
        .map(|p| p.namespace.clone())
        .collect()
}

async fn create_robot(
    State(emu): State<Emu>,
    headers: HeaderMap,
    Json(req): Json<RobotReq>,
) -> Response {
    if let Some(refused) = robot_gate(&emu).await {
        return refused;
    }
    if !basic_ok(&emu, &headers) {
        return unauthorized();
    }
    let mut state = emu.state.lock().expect("state");
    let name = format!("robot${}", req.name);
    if state.robots.values().any(|r| r.name == name) {
        return harbor_error(StatusCode::CONFLICT, "CONFLICT", "the robot already exists");
    }
    state.next_robot += 1;
    let robot = Robot {
        id: state.next_robot,
        name,
        secret: uuid::Uuid::new_v4().simple().to_string(),
        projects: pull_projects(&req),
    };
    state.robots.insert(robot.id, robot.clone());
    (
        StatusCode::CREATED,
        Json(json!({"id": robot.id, "name": robot.name, "secret": robot.secret})),
    )
        .into_response()
}

async fn update_robot(
    State(emu): State<Emu>,
    headers: HeaderMap,
    Path(id): Path<i64>,
    Json(req): Json<RobotReq>,
) -> Response {
    if let Some(refused) = robot_gate(&emu).await {
        return refused;
    }
    if !basic_ok(&emu, &headers) {
        return unauthorized();
    }
    let mut state = emu.state.lock().expect("state");
    match state.robots.get_mut(&id) {
        Some(r) => {
            r.projects = pull_projects(&req);
            StatusCode::OK.into_response()
        }
        None => harbor_error(StatusCode::NOT_FOUND, "NOT_FOUND", "robot not found"),
    }
}

async fn delete_robot(State(emu): State<Emu>, headers: HeaderMap, Path(id): Path<i64>) -> Response {
    if let Some(refused) = robot_gate(&emu).await {
        return refused;
    }
    if !basic_ok(&emu, &headers) {
        return unauthorized();
    }
    match emu.state.lock().expect("state").robots.remove(&id) {
        Some(_) => StatusCode::OK.into_response(),
        None => harbor_error(StatusCode::NOT_FOUND, "NOT_FOUND", "robot not found"),
    }
}

async fn list_robots(State(emu): State<Emu>, headers: HeaderMap) -> Response {
    if let Some(refused) = robot_gate(&emu).await {
        return refused;
    }
    if !basic_ok(&emu, &headers) {
        return unauthorized();
    }
    let robots: Vec<Robot> = emu
        .state
        .lock()
        .expect("state")
        .robots
        .values()
        .cloned()
        .collect();
    Json(robots).into_response()
}

async fn repositories(
    State(emu): State<Emu>,
    headers: HeaderMap,
    Path(project): Path<String>,
    Query(p): Query<Paging>,
) -> Response {
    if !basic_ok(&emu, &headers) {
        return unauthorized();
    }
    let Ok(inv) = inventory(&emu).await else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let items: Vec<Value> = inv
        .iter()
        .filter(|(r, _)| project_of(r) == Some(project.as_str()))
        .enumerate()
        .map(|(i, (r, arts))| json!({"id": i + 1, "name": r, "artifact_count": arts.len(), "pull_count": 0}))
        .collect();
    if items.is_empty() && !inv.keys().any(|r| project_of(r) == Some(project.as_str())) {
        return (
            StatusCode::NOT_FOUND,
            Json(json!({"errors": [{"code": "NOT_FOUND", "message": "project not found"}]})),
        )
            .into_response();
    }
    paged(items, &p)
}

async fn artifacts(
    State(emu): State<Emu>,
    headers: HeaderMap,
    Path((project, repository)): Path<(String, String)>,
    Query(p): Query<Paging>,
) -> Response {
    if !basic_ok(&emu, &headers) {
        return unauthorized();
    }
    // axum decoded the segment once; Harbor clients encode '/' twice (%252F → %2F here).
    let repository = repository.replace("%2F", "/").replace("%25", "%");
    let full = format!("{project}/{repository}");
    let Ok(inv) = inventory(&emu).await else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let Some(arts) = inv.get(&full) else {
        return (
            StatusCode::NOT_FOUND,
            Json(json!({"errors": [{"code": "NOT_FOUND", "message": "repository not found"}]})),
        )
            .into_response();
    };
    let items: Vec<Value> = arts
        .iter()
        .map(|a| {
            let references: Vec<Value> = a
                .manifest
                .children()
                .iter()
                .map(|c| {
                    let (os, arch) = c
                        .platform
                        .as_deref()
                        .and_then(|p| p.split_once('/'))
                        .unwrap_or(("", ""));
                    json!({"child_digest": c.digest, "platform": {"os": os, "architecture": arch}})
                })
                .collect();
            json!({
                "digest": a.manifest.digest,
                "manifest_media_type": a.manifest.media_type,
                "media_type": a.manifest.media_type,
                "size": a.size(),
                "tags": a.tags.iter().map(|t| json!({"name": t})).collect::<Vec<_>>(),
                "references": references,
            })
        })
        .collect();
    paged(items, &p)
}

async fn statistics(State(emu): State<Emu>, headers: HeaderMap) -> Response {
    if !basic_ok(&emu, &headers) {
        return unauthorized();
    }
    let Ok(inv) = inventory(&emu).await else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    // Harbor accounts storage per project: a blob shared by two projects counts in each.
    let mut per_project: BTreeMap<&str, (Sizes, Sizes)> = BTreeMap::new();
    for (repo, arts) in &inv {
        let Some(project) = project_of(repo) else {
            continue;
        };
        let entry = per_project.entry(project).or_default();
        for a in arts {
            entry.0.extend(a.blobs());
            entry.1.extend(a.manifests());
        }
    }
    let storage: u64 = per_project
        .values()
        .map(|(b, m)| b.values().sum::<u64>() + m.values().sum::<u64>())
        .sum();
    let repos = inv.keys().filter(|r| project_of(r).is_some()).count();
    Json(json!({
        "private_project_count": per_project.len(), "public_project_count": 0, "total_project_count": per_project.len(),
        "private_repo_count": repos, "public_repo_count": 0, "total_repo_count": repos,
        "total_storage_consumption": storage,
    }))
    .into_response()
}

/// The projects a robot's Basic credentials may pull, if they are a robot's.
fn robot_scope(emu: &Emu, headers: &HeaderMap) -> Option<Vec<String>> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let raw = base64::engine::general_purpose::STANDARD
        .decode(v.strip_prefix("Basic ")?)
        .ok()?;
    let raw = String::from_utf8(raw).ok()?;
    let (user, pass) = raw.split_once(':')?;
    let state = emu.state.lock().expect("state");
    state
        .robots
        .values()
        .find(|r| r.name == user && r.secret == pass)
        .map(|r| r.projects.clone())
}

async fn token(State(emu): State<Emu>, headers: HeaderMap) -> Response {
    let scope = if basic_ok(&emu, &headers) {
        None
    } else {
        match robot_scope(&emu, &headers) {
            Some(projects) => Some(projects),
            None => return unauthorized(),
        }
    };
    let t = uuid::Uuid::new_v4().simple().to_string();
    emu.tokens.lock().expect("tokens").insert(t.clone(), scope);
    Json(json!({"token": t, "expires_in": 1800})).into_response()
}

async fn registry_proxy(State(emu): State<Emu>, req: Request) -> Response {
    let bearer = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(String::from);
    let scope = bearer.and_then(|t| emu.tokens.lock().expect("tokens").get(&t).cloned());
    // A robot reads only its projects.
    if let Some(Some(projects)) = &scope {
        let path = req.uri().path().trim_start_matches("/v2/");
        let readable =
            req.method() == axum::http::Method::GET || req.method() == axum::http::Method::HEAD;
        let project = path.split('/').next().unwrap_or_default();
        if !path.is_empty() && (!readable || !projects.iter().any(|p| p == project)) {
            return harbor_error(
                StatusCode::FORBIDDEN,
                "DENIED",
                "requested access to the resource is denied",
            );
        }
    }
    if scope.is_none() {
        let public = emu.public_url.lock().expect("url").clone();
        let mut resp = unauthorized();
        resp.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_str(&format!(
                "Bearer realm=\"{public}/service/token\",service=\"harbor-registry\""
            ))
            .expect("header"),
        );
        return resp;
    }
    let forwarded = [header::CONTENT_TYPE, header::CONTENT_LENGTH, header::ACCEPT];
    let resp = match crate::front::send(&emu.http, &emu.backend, req, &forwarded).await {
        Ok(r) => r,
        Err(bad_gateway) => return bad_gateway,
    };
    let public = emu.public_url.lock().expect("url").clone();
    crate::front::respond(resp, &format!("http://{}", emu.backend_host), &public)
}
