//! Harbor, read through its `/api/v2.0` (projects, repositories, artifacts, statistics).
//!
//! Spaces are Harbor projects. Storage is Harbor's own `total_storage_consumption`, which Harbor
//! computes per project (a blob shared by two projects counts in each); that is the figure Harbor
//! users see and quota against.

use berth_oci::{Credential, OciError};
use berth_proto::v1::{Artifact, Overview, Repository};
use reqwest::StatusCode;
use serde::Deserialize;

use super::{space_of, Adapter, Page, Spaces};

const PAGE: usize = 100;

pub struct Harbor {
    http: reqwest::Client,
    api: String,
    host: String,
    credential: Option<Credential>,
    oci: berth_oci::Client,
}

#[derive(Deserialize)]
struct Project {
    name: String,
    #[serde(default)]
    metadata: std::collections::HashMap<String, String>,
}

#[derive(Deserialize)]
struct HarborRepository {
    name: String,
    #[serde(default)]
    artifact_count: u64,
}

#[derive(Deserialize)]
struct Statistics {
    #[serde(default)]
    total_project_count: u64,
    #[serde(default)]
    total_repo_count: u64,
    #[serde(default)]
    total_storage_consumption: u64,
}

#[derive(Deserialize)]
struct Tag {
    name: String,
}

#[derive(Deserialize)]
struct Platform {
    os: Option<String>,
    architecture: Option<String>,
    variant: Option<String>,
}

#[derive(Deserialize)]
struct Reference {
    platform: Option<Platform>,
}

#[derive(Deserialize)]
struct HarborArtifact {
    digest: String,
    #[serde(default)]
    manifest_media_type: String,
    #[serde(default)]
    size: u64,
    #[serde(default)]
    tags: Option<Vec<Tag>>,
    #[serde(default)]
    references: Option<Vec<Reference>>,
}

/// Harbor path-encodes a repository name inside a project twice ('/' → `%252F`).
fn encode_repo(name: &str) -> String {
    name.replace('%', "%25").replace('/', "%252F")
}

impl Harbor {
    pub fn new(
        url: &str,
        credential: Option<Credential>,
        insecure: bool,
        oci: berth_oci::Client,
    ) -> Result<Self, OciError> {
        let http = reqwest::Client::builder()
            .danger_accept_invalid_certs(insecure)
            .connect_timeout(std::time::Duration::from_secs(10))
            .timeout(std::time::Duration::from_secs(30))
            .build()
            .map_err(|e| OciError::Protocol(e.to_string()))?;
        Ok(Self {
            http,
            api: format!("{}/api/v2.0", url.trim_end_matches('/')),
            host: oci.host().to_string(),
            credential,
            oci,
        })
    }

    async fn get(&self, path: &str) -> Result<reqwest::Response, OciError> {
        let mut req = self
            .http
            .get(format!("{}{path}", self.api))
            .header("accept", "application/json");
        if let Some(c) = &self.credential {
            req = req.basic_auth(&c.username, Some(&c.password));
        }
        let resp = req
            .send()
            .await
            .map_err(|e| OciError::from_transport(&self.host, &e))?;
        match resp.status() {
            s if s.is_success() => Ok(resp),
            StatusCode::UNAUTHORIZED => Err(OciError::Unauthorized(
                "Harbor rejected the credentials".into(),
            )),
            StatusCode::FORBIDDEN => Err(OciError::Forbidden(format!("Harbor {path}"))),
            StatusCode::NOT_FOUND => Err(OciError::NotFound(format!("Harbor {path}"))),
            s => Err(OciError::Status {
                status: s.as_u16(),
                detail: format!("Harbor {path}"),
            }),
        }
    }

    async fn json<T: serde::de::DeserializeOwned>(&self, path: &str) -> Result<T, OciError> {
        self.get(path)
            .await?
            .json()
            .await
            .map_err(|e| OciError::Protocol(format!("Harbor {path}: {e}")))
    }

    /// Every page of a Harbor list endpoint (`page`, `page_size`).
    async fn all<T: serde::de::DeserializeOwned>(&self, path: &str) -> Result<Vec<T>, OciError> {
        let sep = if path.contains('?') { '&' } else { '?' };
        let mut out = Vec::new();
        for page in 1.. {
            let items: Vec<T> = self
                .json(&format!("{path}{sep}page={page}&page_size={PAGE}"))
                .await?;
            let n = items.len();
            out.extend(items);
            if n < PAGE {
                break;
            }
        }
        Ok(out)
    }

    async fn projects(&self) -> Result<Vec<String>, OciError> {
        let projects: Vec<Project> = self.all("/projects").await?;
        Ok(projects.into_iter().map(|p| p.name).collect())
    }

    /// Every project with its public flag.
    pub async fn projects_with_visibility(&self) -> Result<Vec<(String, bool)>, OciError> {
        let projects: Vec<Project> = self.all("/projects").await?;
        Ok(projects
            .into_iter()
            .map(|p| {
                let public = p.metadata.get("public").is_some_and(|v| v == "true");
                (p.name, public)
            })
            .collect())
    }

    async fn project_repositories(&self, project: &str) -> Result<Vec<HarborRepository>, OciError> {
        self.all(&format!("/projects/{project}/repositories")).await
    }
}

/// A robot as Harbor answers its creation.
#[derive(Debug, Deserialize)]
pub struct CreatedRobot {
    pub id: i64,
    pub name: String,
    #[serde(default)]
    pub secret: String,
}

fn robot_body(name: &str, projects: &[String]) -> serde_json::Value {
    serde_json::json!({
        "name": name,
        "description": "managed by Berth: pull on the projects bound to the workspace",
        "duration": -1,
        "disable": false,
        "level": "system",
        "permissions": projects.iter().map(|p| serde_json::json!({
            "kind": "project",
            "namespace": p,
            "access": [{"resource": "repository", "action": "pull"}],
        })).collect::<Vec<_>>(),
    })
}

impl Harbor {
    /// Sends a write request; `ok_also` lists statuses that count as success (e.g. 409 on create).
    async fn write(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<serde_json::Value>,
        ok_also: &[u16],
    ) -> Result<reqwest::Response, OciError> {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.api))
            .header("accept", "application/json")
            .header("X-Is-Resource-Name", "true");
        if let Some(c) = &self.credential {
            req = req.basic_auth(&c.username, Some(&c.password));
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req
            .send()
            .await
            .map_err(|e| OciError::from_transport(&self.host, &e))?;
        let status = resp.status();
        if status.is_success() || ok_also.contains(&status.as_u16()) {
            return Ok(resp);
        }
        let detail = resp.text().await.unwrap_or_default();
        Err(match status {
            StatusCode::UNAUTHORIZED => {
                OciError::Unauthorized("Harbor rejected the credentials".into())
            }
            StatusCode::FORBIDDEN => OciError::Forbidden(format!("Harbor {path}")),
            StatusCode::NOT_FOUND => OciError::NotFound(format!("Harbor {path}")),
            s => OciError::Status {
                status: s.as_u16(),
                detail: format!(
                    "Harbor {path}: {}",
                    detail.chars().take(200).collect::<String>()
                ),
            },
        })
    }

    /// Creates `project` if missing, then sets its public flag and storage quota (0: none).
    pub async fn ensure_project(
        &self,
        project: &str,
        public: bool,
        quota_bytes: u64,
    ) -> Result<(), OciError> {
        let metadata = serde_json::json!({"public": public.to_string()});
        let limit: i64 = if quota_bytes == 0 {
            -1
        } else {
            quota_bytes.min(i64::MAX as u64) as i64
        };
        let create = serde_json::json!({"project_name": project, "metadata": metadata, "storage_limit": limit});
        self.write(reqwest::Method::POST, "/projects", Some(create), &[409])
            .await?;
        self.write(
            reqwest::Method::PUT,
            &format!("/projects/{project}"),
            Some(serde_json::json!({"metadata": metadata})),
            &[],
        )
        .await?;
        // The quota of an existing project lives in Harbor's quota API, keyed by project id.
        #[derive(Deserialize)]
        struct ProjectId {
            project_id: i64,
        }
        #[derive(Deserialize)]
        struct Quota {
            id: i64,
        }
        let p: ProjectId = self.json(&format!("/projects/{project}")).await?;
        let quotas: Vec<Quota> = self
            .json(&format!(
                "/quotas?reference=project&reference_id={}",
                p.project_id
            ))
            .await?;
        if let Some(q) = quotas.first() {
            let body = serde_json::json!({"hard": {"storage": limit}});
            self.write(
                reqwest::Method::PUT,
                &format!("/quotas/{}", q.id),
                Some(body),
                &[],
            )
            .await?;
        }
        Ok(())
    }

    /// Deletes `project` (Harbor refuses while it holds repositories: 412).
    pub async fn delete_project(&self, project: &str) -> Result<(), OciError> {
        self.write(
            reqwest::Method::DELETE,
            &format!("/projects/{project}"),
            None,
            &[404],
        )
        .await?;
        Ok(())
    }

    pub async fn create_robot(
        &self,
        name: &str,
        projects: &[String],
    ) -> Result<CreatedRobot, OciError> {
        let resp = self
            .write(
                reqwest::Method::POST,
                "/robots",
                Some(robot_body(name, projects)),
                &[],
            )
            .await?;
        resp.json()
            .await
            .map_err(|e| OciError::Protocol(format!("Harbor robot: {e}")))
    }

    pub async fn update_robot(
        &self,
        id: i64,
        name: &str,
        projects: &[String],
    ) -> Result<(), OciError> {
        let mut body = robot_body(name, projects);
        body["id"] = id.into();
        self.write(
            reqwest::Method::PUT,
            &format!("/robots/{id}"),
            Some(body),
            &[],
        )
        .await?;
        Ok(())
    }

    pub async fn delete_robot(&self, id: i64) -> Result<(), OciError> {
        self.write(
            reqwest::Method::DELETE,
            &format!("/robots/{id}"),
            None,
            &[404],
        )
        .await?;
        Ok(())
    }
}

#[async_trait::async_trait]
impl Adapter for Harbor {
    async fn ping(&self) -> Result<(), OciError> {
        #[derive(Deserialize)]
        struct SystemInfo {
            harbor_version: Option<String>,
        }
        let info: SystemInfo = match self.json("/systeminfo").await {
            Ok(i) => i,
            Err(OciError::NotFound(_)) | Err(OciError::Protocol(_)) => {
                return Err(OciError::NotARegistry(format!(
                    "{} is not a Harbor server (no /api/v2.0/systeminfo)",
                    self.api
                )))
            }
            Err(e) => return Err(e),
        };
        if info.harbor_version.is_none() {
            tracing::debug!(host = %self.host, "harbor hides its version from anonymous callers");
        }
        // The registry endpoint checks the credential for robots and users alike.
        self.oci.ping().await
    }

    async fn overview(&self, spaces: &Spaces) -> Result<Overview, OciError> {
        if let Spaces::Only(set) = spaces {
            // Some projects: Harbor accounts (and enforces) their quotas itself; count what they
            // hold.
            let mut total = Overview::default();
            for space in set {
                let repos = match self.project_repositories(space).await {
                    Ok(r) => r,
                    Err(OciError::NotFound(_)) => continue,
                    Err(e) => return Err(e),
                };
                for r in &repos {
                    let name = r.name.split_once('/').map_or(r.name.as_str(), |(_, n)| n);
                    let path = format!(
                        "/projects/{space}/repositories/{}/artifacts",
                        encode_repo(name)
                    );
                    let artifacts: Vec<HarborArtifact> = self.all(&path).await?;
                    total.storage_bytes += artifacts.iter().map(|a| a.size).sum::<u64>();
                }
                total.spaces += 1;
                total.repositories += repos.len() as u64;
                total.artifacts += repos.iter().map(|r| r.artifact_count).sum::<u64>();
            }
            return Ok(total);
        }
        let stats: Statistics = self.json("/statistics").await?;
        let mut artifacts = 0;
        for project in self.projects().await? {
            artifacts += self
                .project_repositories(&project)
                .await?
                .iter()
                .map(|r| r.artifact_count)
                .sum::<u64>();
        }
        Ok(Overview {
            spaces: stats.total_project_count,
            repositories: stats.total_repo_count,
            artifacts,
            storage_bytes: stats.total_storage_consumption,
        })
    }

    async fn repositories(
        &self,
        space: &str,
        page_size: usize,
        page_token: &str,
    ) -> Result<Page<Repository>, OciError> {
        let projects = if space.is_empty() {
            self.projects().await?
        } else {
            vec![space.to_string()]
        };
        let mut repos = Vec::new();
        for p in projects {
            repos.extend(self.project_repositories(&p).await?);
        }
        repos.sort_by(|a, b| a.name.cmp(&b.name));
        repos.retain(|r| r.name.as_str() > page_token);
        let more = repos.len() > page_size;
        repos.truncate(page_size);
        let next = if more {
            repos.last().map(|r| r.name.clone()).unwrap_or_default()
        } else {
            String::new()
        };
        let items = repos
            .into_iter()
            .map(|r| Repository {
                space: space_of(&r.name).to_string(),
                name: r.name,
                artifact_count: r.artifact_count,
            })
            .collect();
        Ok((items, next))
    }

    async fn artifacts(
        &self,
        repository: &str,
        page_size: usize,
        page_token: &str,
    ) -> Result<Page<Artifact>, OciError> {
        let (project, repo) = repository.split_once('/').ok_or_else(|| {
            OciError::NotFound(format!(
                "repository {repository} (Harbor repositories live in a project)"
            ))
        })?;
        let page: usize = page_token.parse().unwrap_or(1).max(1);
        let items: Vec<HarborArtifact> = self
            .json(&format!(
                "/projects/{project}/repositories/{}/artifacts?with_tag=true&page={page}&page_size={page_size}",
                encode_repo(repo)
            ))
            .await?;
        let next = if items.len() == page_size {
            (page + 1).to_string()
        } else {
            String::new()
        };
        let artifacts = items
            .into_iter()
            .map(|a| Artifact {
                digest: a.digest,
                media_type: a.manifest_media_type,
                size: a.size,
                tags: {
                    let mut tags: Vec<String> = a
                        .tags
                        .unwrap_or_default()
                        .into_iter()
                        .map(|t| t.name)
                        .collect();
                    tags.sort();
                    tags
                },
                platforms: a
                    .references
                    .unwrap_or_default()
                    .into_iter()
                    .filter_map(|r| r.platform)
                    .map(|p| {
                        let mut s = format!(
                            "{}/{}",
                            p.os.unwrap_or_default(),
                            p.architecture.unwrap_or_default()
                        );
                        if let Some(v) = p.variant.filter(|v| !v.is_empty()) {
                            s.push('/');
                            s.push_str(&v);
                        }
                        s
                    })
                    .collect(),
                vulnerabilities: None,
            })
            .collect();
        Ok((artifacts, next))
    }
}
