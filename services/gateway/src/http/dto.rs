//! The JSON shapes of the HTTP API (the fixed contract) and their conversions from and to the
//! protobuf messages the services speak.

use berth_proto::v1 as pb;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Every time the HTTP API answers with: RFC 3339 in UTC, to the millisecond
/// (`2026-12-04T19:03:21.042Z`).
pub fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// A protobuf time as [`rfc3339`].
pub fn time(t: Option<prost_types::Timestamp>) -> Option<String> {
    let t = t?;
    DateTime::<Utc>::from_timestamp(t.seconds, t.nanos.max(0) as u32).map(rfc3339)
}

fn non_empty(s: String) -> Option<String> {
    if s.is_empty() {
        None
    } else {
        Some(s)
    }
}

/// `{"items": [...], "next_page_token": ...}`.
#[derive(Serialize, ToSchema)]
pub struct List<T: Serialize> {
    pub items: Vec<T>,
    pub next_page_token: Option<String>,
}

impl<T: Serialize> List<T> {
    pub fn new(items: Vec<T>, next: String) -> Self {
        Self {
            items,
            next_page_token: non_empty(next),
        }
    }
}

#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct CredentialBody {
    pub username: String,
    pub password: String,
}

/// `POST /api/v1/registries`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateRegistryBody {
    /// A DNS label: 1–63 lowercase letters, digits and '-'.
    #[schema(pattern = r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")]
    pub name: String,
    /// `distribution`, `harbor` or `oci`.
    #[schema(pattern = "^(distribution|harbor|oci)$")]
    pub kind: String,
    /// `http://` or `https://` base URL of the registry.
    #[schema(pattern = r"^https?://[^\s/?#]+[^\s]*$")]
    pub url: String,
    pub credential: Option<CredentialBody>,
    #[serde(default)]
    pub insecure: bool,
    #[serde(default)]
    pub description: String,
    /// Verify connectivity and credentials first (default true).
    pub verify: Option<bool>,
    /// `berth`: the registry delegates its auth to Berth's token service.
    pub token_service: Option<String>,
    /// Integrate for one workspace only (default: the platform).
    pub workspace: Option<String>,
}

impl From<CreateRegistryBody> for pb::CreateRegistryRequest {
    fn from(b: CreateRegistryBody) -> Self {
        Self {
            name: b.name,
            kind: b.kind,
            url: b.url,
            credential: b.credential.map(|c| pb::Credential {
                username: c.username,
                password: c.password,
            }),
            insecure: b.insecure,
            description: b.description,
            verify: b.verify,
            token_service: b.token_service.unwrap_or_default(),
            workspace: b.workspace.unwrap_or_default(),
        }
    }
}

/// `PATCH /api/v1/registries/{registry}`: only the fields present change.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateRegistryBody {
    /// A new `http://` or `https://` base URL.
    #[schema(pattern = r"^https?://[^\s/?#]+[^\s]*$")]
    pub url: Option<String>,
    pub credential: Option<CredentialBody>,
    pub insecure: Option<bool>,
    pub description: Option<String>,
    pub verify: Option<bool>,
    /// Remove the stored credential.
    #[serde(default)]
    pub clear_credential: bool,
}

impl UpdateRegistryBody {
    pub fn into_request(self, name: String) -> pb::UpdateRegistryRequest {
        pb::UpdateRegistryRequest {
            name,
            url: self.url,
            credential: self.credential.map(|c| pb::Credential {
                username: c.username,
                password: c.password,
            }),
            insecure: self.insecure,
            description: self.description,
            verify: self.verify,
            clear_credential: self.clear_credential,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct HealthJson {
    /// `healthy`, `unhealthy` or `unknown`.
    pub status: &'static str,
    pub checked_at: Option<String>,
    pub latency_ms: u32,
    pub error: Option<String>,
}

impl From<pb::RegistryHealth> for HealthJson {
    fn from(h: pb::RegistryHealth) -> Self {
        let status = match pb::HealthStatus::try_from(h.status) {
            Ok(pb::HealthStatus::Healthy) => "healthy",
            Ok(pb::HealthStatus::Unhealthy) => "unhealthy",
            _ => "unknown",
        };
        Self {
            status,
            checked_at: time(h.checked_at),
            latency_ms: h.latency_ms,
            error: non_empty(h.error),
        }
    }
}

/// A registry as read back: never with a credential.
#[derive(Serialize, ToSchema)]
pub struct RegistryJson {
    pub name: String,
    pub kind: String,
    pub url: String,
    pub insecure: bool,
    pub description: String,
    /// `platform`, or `workspace:NAME` for a registry a workspace integrated for itself.
    pub scope: String,
    pub managed: bool,
    pub health: HealthJson,
    pub has_credential: bool,
    pub token_service: Option<String>,
    pub created_at: Option<String>,
    pub updated_at: Option<String>,
}

impl From<pb::Registry> for RegistryJson {
    fn from(r: pb::Registry) -> Self {
        Self {
            scope: if r.workspace.is_empty() {
                "platform".into()
            } else {
                format!("workspace:{}", r.workspace)
            },
            name: r.name,
            kind: r.kind,
            url: r.url,
            insecure: r.insecure,
            description: r.description,
            managed: r.managed,
            health: r.health.unwrap_or_default().into(),
            has_credential: r.has_credential,
            token_service: non_empty(r.token_service),
            created_at: time(r.created_at),
            updated_at: time(r.updated_at),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct OverviewJson {
    pub spaces: u64,
    pub repositories: u64,
    pub artifacts: u64,
    pub storage_bytes: u64,
    /// Platform overview only: how many registries are integrated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registries: Option<u64>,
}

impl From<pb::Overview> for OverviewJson {
    fn from(o: pb::Overview) -> Self {
        Self {
            spaces: o.spaces,
            repositories: o.repositories,
            artifacts: o.artifacts,
            storage_bytes: o.storage_bytes,
            registries: None,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct RepositoryJson {
    pub name: String,
    pub space: Option<String>,
    pub artifact_count: u64,
}

impl From<pb::Repository> for RepositoryJson {
    fn from(r: pb::Repository) -> Self {
        Self {
            name: r.name,
            space: non_empty(r.space),
            artifact_count: r.artifact_count,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct ArtifactJson {
    pub digest: String,
    pub media_type: String,
    pub size: u64,
    pub tags: Vec<String>,
    pub platforms: Vec<String>,
    /// Its scan state and severity summary; null when it was never scanned.
    pub vulnerabilities: Option<ScanStateJson>,
}

/// An artifact's scan state and severity summary.
#[derive(Serialize, ToSchema)]
pub struct ScanStateJson {
    /// `queued`, `scanning`, `complete`, `failed` or `unsupported`.
    pub status: String,
    pub summary: SummaryJson,
}

impl From<pb::DigestSummary> for ScanStateJson {
    fn from(d: pb::DigestSummary) -> Self {
        Self {
            status: d.status,
            summary: d.summary.unwrap_or_default().into(),
        }
    }
}

impl From<pb::Artifact> for ArtifactJson {
    fn from(a: pb::Artifact) -> Self {
        Self {
            digest: a.digest,
            media_type: a.media_type,
            size: a.size,
            tags: a.tags,
            platforms: a.platforms,
            vulnerabilities: a.vulnerabilities.map(Into::into),
        }
    }
}

/// `POST /api/v1/tokens`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTokenBody {
    /// Who the token authenticates as.
    #[schema(min_length = 1, max_length = 255)]
    pub principal: String,
    /// Lifetime, 60 seconds to 3 years; left out: 90 days.
    #[schema(minimum = 60, maximum = 94608000)]
    pub ttl_seconds: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct TokenJson {
    /// Shown once.
    pub token: String,
    pub expires_at: Option<String>,
}

/// A stored API token (never the token itself).
#[derive(Serialize, ToSchema)]
pub struct ApiTokenJson {
    pub id: String,
    pub principal: String,
    /// `api`, `namespace` (a pull secret's credential) or `login`.
    pub kind: String,
    pub created_by: String,
    pub created_at: Option<String>,
    pub expires_at: Option<String>,
    /// Within a minute; null when never used.
    pub last_used_at: Option<String>,
}

impl From<pb::ApiToken> for ApiTokenJson {
    fn from(t: pb::ApiToken) -> Self {
        Self {
            id: t.id,
            principal: t.principal,
            kind: t.kind,
            created_by: t.created_by,
            created_at: time(t.created_at),
            expires_at: time(t.expires_at),
            last_used_at: time(t.last_used_at),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct AuditEventJson {
    pub id: String,
    pub time: Option<String>,
    pub principal: String,
    pub action: String,
    pub resource: String,
    pub result: String,
}

impl From<pb::AuditEvent> for AuditEventJson {
    fn from(e: pb::AuditEvent) -> Self {
        Self {
            id: e.id,
            time: time(e.time),
            principal: e.principal,
            action: e.action,
            resource: e.resource,
            result: e.result,
        }
    }
}

/// Paging query parameters of every list.
#[derive(Deserialize, Default, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Items per page, 1–1000; left out: the list's default.
    #[param(minimum = 1, maximum = 1000)]
    pub page_size: Option<i32>,
    /// `next_page_token` of the previous page.
    pub page_token: Option<String>,
    /// Repositories only (documented there): narrow to one space.
    #[param(ignore)]
    pub space: Option<String>,
}

/// `POST /api/v1/workspaces`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateWorkspaceBody {
    /// A DNS label: 1–63 lowercase letters, digits and '-'.
    #[schema(pattern = r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")]
    pub name: String,
    #[serde(default)]
    pub description: String,
}

#[derive(Serialize, ToSchema)]
pub struct MemberJson {
    pub principal: String,
    pub role: String,
}

#[derive(Serialize, ToSchema)]
pub struct WorkspaceJson {
    pub name: String,
    pub description: String,
    pub namespaces: Vec<String>,
    pub members: Vec<MemberJson>,
    pub created_at: Option<String>,
}

impl From<pb::Workspace> for WorkspaceJson {
    fn from(w: pb::Workspace) -> Self {
        Self {
            name: w.name,
            description: w.description,
            namespaces: w.namespaces,
            members: w
                .members
                .into_iter()
                .map(|m| MemberJson {
                    principal: m.principal,
                    role: m.role,
                })
                .collect(),
            created_at: time(w.created_at),
        }
    }
}

/// `PUT /api/v1/workspaces/{workspace}/members/{principal}`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MemberBody {
    /// `workspace-admin`, `workspace-editor` or `workspace-viewer`.
    #[schema(pattern = "^workspace-(admin|editor|viewer)$")]
    pub role: String,
}

/// `POST /api/v1/registries/{registry}/spaces`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateSpaceBody {
    /// The registry's top-level path segment (a Harbor project): lowercase letters and digits,
    /// separated by single '.', '_' or '-'.
    #[schema(pattern = r"^[a-z0-9]+([._-][a-z0-9]+)*$", max_length = 255)]
    pub name: String,
    /// `public` or `private` (default).
    #[serde(default)]
    #[schema(pattern = "^(public|private)?$")]
    pub visibility: String,
    #[serde(default)]
    pub quota_bytes: u64,
    #[serde(default)]
    pub description: String,
    /// When the space's artifacts are scanned and what pulls ask of their reports.
    #[serde(default)]
    pub scan: Option<ScanPolicyJson>,
}

/// A space's scan policy.
#[derive(Serialize, Deserialize, ToSchema, Clone, Default)]
#[serde(deny_unknown_fields)]
pub struct ScanPolicyJson {
    /// Scan each pushed artifact.
    #[serde(default)]
    pub on_push: bool,
    /// Scan the space's artifacts on this cron schedule (5 fields, or 6 with seconds).
    #[serde(default)]
    pub cron: Option<String>,
    /// The IANA time zone the schedule is read in (UTC when unset).
    #[serde(default)]
    pub time_zone: Option<String>,
    /// Deny pulls of artifacts with findings at or above this severity (allowlisted ones
    /// excepted); null: no gate.
    #[serde(default)]
    #[schema(pattern = "^(critical|high|medium|low)$")]
    pub gate: Option<String>,
    /// What an artifact without a complete report gets under a gate (default `allow`).
    #[serde(default)]
    #[schema(pattern = "^(allow|deny)$")]
    pub unscanned: Option<String>,
    /// Attach each scanned image's CycloneDX SBOM to it as an OCI referrer (once).
    #[serde(default)]
    pub attach_sbom: bool,
}

impl ScanPolicyJson {
    pub fn into_proto(self) -> pb::ScanPolicy {
        pb::ScanPolicy {
            on_push: self.on_push,
            cron: self.cron.unwrap_or_default(),
            time_zone: self.time_zone.unwrap_or_default(),
            gate: self.gate.unwrap_or_default(),
            unscanned: self.unscanned.unwrap_or_default(),
            attach_sbom: self.attach_sbom,
        }
    }
}

impl From<pb::ScanPolicy> for ScanPolicyJson {
    fn from(p: pb::ScanPolicy) -> Self {
        Self {
            on_push: p.on_push,
            cron: non_empty(p.cron),
            time_zone: non_empty(p.time_zone),
            gate: non_empty(p.gate),
            unscanned: non_empty(p.unscanned),
            attach_sbom: p.attach_sbom,
        }
    }
}

/// A field that may be absent (leave it), null (clear it) or a value (set it).
fn present<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// `PATCH /api/v1/registries/{registry}/spaces/{space}`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateSpaceBody {
    /// `public` or `private`.
    #[schema(pattern = "^(public|private)$")]
    pub visibility: Option<String>,
    pub quota_bytes: Option<u64>,
    pub description: Option<String>,
    /// The scan policy; null removes it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<ScanPolicyJson>, nullable)]
    pub scan: Option<Option<ScanPolicyJson>>,
}

#[derive(Serialize, ToSchema)]
pub struct SpaceJson {
    pub registry: String,
    pub name: String,
    pub visibility: String,
    pub quota_bytes: Option<u64>,
    pub description: String,
    /// Bound workspaces the caller may see.
    pub workspaces: Vec<String>,
    pub created_at: Option<String>,
    pub updated_at: Option<String>,
    /// The scan policy, if the space has one.
    pub scan: Option<ScanPolicyJson>,
}

impl SpaceJson {
    /// Shows only the bound workspaces `visible` allows.
    pub fn new(s: pb::Space, visible: impl Fn(&str) -> bool) -> Self {
        Self {
            workspaces: s.workspaces.into_iter().filter(|w| visible(w)).collect(),
            registry: s.registry,
            name: s.name,
            visibility: s.visibility,
            quota_bytes: if s.quota_bytes == 0 {
                None
            } else {
                Some(s.quota_bytes)
            },
            description: s.description,
            created_at: time(s.created_at),
            updated_at: time(s.updated_at),
            scan: s.scan.map(Into::into),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct BindingJson {
    pub registry: String,
    pub space: String,
    pub workspace: String,
    /// Editors and admins of the workspace may push and delete in the space.
    pub push: bool,
    pub created_at: Option<String>,
}

impl From<pb::Binding> for BindingJson {
    fn from(b: pb::Binding) -> Self {
        Self {
            registry: b.registry,
            space: b.space,
            workspace: b.workspace,
            push: b.push,
            created_at: time(b.created_at),
        }
    }
}

/// `POST …/hook-secret`.
#[derive(Deserialize, Default, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HookSecretBody {
    /// The new secret (32 to 256 printable characters); left out: one is generated.
    pub secret: Option<String>,
}

/// A registry's new hook secret (shown once) and how to configure the registry with it.
#[derive(Serialize, ToSchema)]
pub struct HookSecretJson {
    pub secret: String,
    /// The `Authorization` header value notifications must carry.
    pub authorization: String,
    /// Distribution's `notifications.endpoints` entry (YAML), with `BERTH` for Berth's URL.
    pub distribution: String,
    /// Harbor webhook policy settings (endpoint path and auth header).
    pub harbor: serde_json::Value,
}

impl HookSecretJson {
    pub fn new(registry: &str, secret: String) -> Self {
        let authorization = format!("Bearer {secret}");
        Self {
            distribution: format!(
                "notifications:\n  endpoints:\n    - name: berth\n      url: BERTH/hooks/distribution/{registry}\n      headers:\n        Authorization: [\"{authorization}\"]\n      ignoredmediatypes: [application/octet-stream]\n"
            ),
            harbor: serde_json::json!({
                "address": format!("BERTH/hooks/harbor/{registry}"),
                "auth_header": authorization,
                "event_types": ["PUSH_ARTIFACT", "DELETE_ARTIFACT"],
            }),
            authorization,
            secret,
        }
    }
}

/// `PUT …/bindings/{workspace}`: what the binding grants.
#[derive(Deserialize, Default, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BindBody {
    /// Also let the workspace's editors and admins push and delete (default false).
    #[serde(default)]
    pub push: bool,
}

/// `POST /api/v1/access/check`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AccessCheckBody {
    /// A Kubernetes namespace (a DNS label).
    #[schema(pattern = r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")]
    pub namespace: String,
    /// `host[:port]/space/repository[:tag|@digest]`.
    #[schema(min_length = 1)]
    pub image: String,
}

#[derive(Serialize, ToSchema)]
pub struct AccessJson {
    pub allowed: bool,
    pub reason: String,
}

/// Every error answer: `{"error": {"code", "message", "field"?}}`.
#[derive(Serialize, ToSchema)]
pub struct ErrorJson {
    pub error: ErrorDetailJson,
}

#[derive(Serialize, ToSchema)]
pub struct ErrorDetailJson {
    /// `invalid_argument`, `not_found`, `already_exists`, `permission_denied`,
    /// `unauthenticated`, `failed_precondition`, `unavailable`, `deadline_exceeded`,
    /// `method_not_allowed`, `upstream_unavailable` (a registry the request names cannot be
    /// reached) or `internal`.
    pub code: String,
    pub message: String,
    /// For `invalid_argument`: the field, query or path parameter at fault (`filters[1].pattern`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

/// A repository a namespace may pull, with its tags.
#[derive(Serialize, ToSchema)]
pub struct VisibleImageJson {
    pub registry: String,
    pub space: String,
    pub repository: String,
    /// `host/repository`, ready for a pod spec.
    pub image: String,
    pub tags: Vec<VisibleTagJson>,
}

#[derive(Serialize, ToSchema)]
pub struct VisibleTagJson {
    pub tag: String,
    pub digest: String,
    /// Its scan state and severity summary; null when it was never scanned.
    pub vulnerabilities: Option<ScanStateJson>,
}

/// A short-lived `docker login` credential for the caller.
#[derive(Serialize, ToSchema)]
pub struct LoginCommandJson {
    pub registry: String,
    pub host: String,
    pub username: String,
    /// Shown once.
    pub password: String,
    pub expires_at: String,
    /// The command to run, reading the password from stdin.
    pub command: String,
}

/// A Kubernetes `Secret` of type `kubernetes.io/dockerconfigjson` holding new pull
/// credentials of the namespace for every registry it may pull from.
#[derive(Serialize, ToSchema)]
pub struct PullSecretJson {
    #[serde(rename = "apiVersion")]
    pub api_version: String,
    pub kind: String,
    pub r#type: String,
    pub metadata: serde_json::Value,
    /// `.dockerconfigjson`, base64.
    pub data: serde_json::Value,
}

/// What a notification published: one bus event per pushed or deleted artifact.
#[derive(Serialize, ToSchema)]
pub struct PublishedJson {
    pub published: u64,
}

/// The Docker registry token service's answer (distribution's token authentication spec).
#[derive(Serialize, ToSchema)]
pub struct RegistryTokenJson {
    pub token: String,
    pub access_token: String,
    pub expires_in: i64,
    pub issued_at: String,
}

// --- scanning ------------------------------------------------------------------------------

/// `GET /api/v1/vulndb`.
#[derive(Serialize, ToSchema)]
pub struct VulnDbJson {
    pub records: u64,
    /// Records per ecosystem (`Debian`, `PyPI`, `npm`, …).
    pub ecosystems: std::collections::BTreeMap<String, u64>,
    /// Null before the first import.
    pub updated_at: Option<String>,
    pub version: u64,
    /// The configured mirror's exports and how their last fetch went.
    pub sources: Vec<VulnDbSourceJson>,
}

/// One export of the configured mirror (`BERTH_VULNDB_MIRROR`).
#[derive(Serialize, ToSchema)]
pub struct VulnDbSourceJson {
    /// `{mirror}/{ecosystem}/all.zip`.
    pub url: String,
    /// `imported`, `unchanged` or `failed`.
    pub status: String,
    /// Records added or replaced by the last fetch.
    pub imported: u64,
    pub error: Option<String>,
    pub fetched_at: Option<String>,
}

impl From<pb::VulnDbSource> for VulnDbSourceJson {
    fn from(s: pb::VulnDbSource) -> Self {
        Self {
            url: s.url,
            status: s.status,
            imported: s.imported,
            error: non_empty(s.error),
            fetched_at: time(s.fetched_at),
        }
    }
}

/// `POST /api/v1/vulndb/sync`.
#[derive(Serialize, ToSchema)]
pub struct VulnDbSyncJson {
    pub sources: Vec<VulnDbSourceJson>,
    /// The database version after the fetch.
    pub version: u64,
}

impl From<pb::GetVulnDbStatusResponse> for VulnDbJson {
    fn from(r: pb::GetVulnDbStatusResponse) -> Self {
        Self {
            records: r.records,
            ecosystems: r.ecosystems.into_iter().collect(),
            updated_at: time(r.updated_at),
            version: r.version,
            sources: r.sources.into_iter().map(Into::into).collect(),
        }
    }
}

/// `POST /api/v1/vulndb/import`.
#[derive(Serialize, ToSchema)]
pub struct ImportedJson {
    /// Records added, or replaced by newer ones.
    pub imported: u64,
    /// The database version after the import.
    pub version: u64,
}

/// `POST /api/v1/scans`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateScanBody {
    pub registry: String,
    /// The repository's path (it may contain `/`).
    pub repository: String,
    /// A tag or a `sha256:` digest.
    pub reference: String,
}

#[derive(Serialize, ToSchema)]
pub struct SummaryJson {
    pub critical: u32,
    pub high: u32,
    pub medium: u32,
    pub low: u32,
    pub unknown: u32,
}

impl From<pb::Summary> for SummaryJson {
    fn from(s: pb::Summary) -> Self {
        Self {
            critical: s.critical,
            high: s.high,
            medium: s.medium,
            low: s.low,
            unknown: s.unknown,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct ScanJson {
    pub id: String,
    /// `queued`, `scanning`, `complete`, `failed` or `unsupported`.
    pub status: String,
    pub registry: String,
    pub repository: String,
    pub reference: String,
    pub digest: String,
    /// Why it failed or is unsupported.
    pub error: Option<String>,
    /// `request`, `push`, `schedule` or `all`.
    pub trigger: String,
    /// Once complete.
    pub summary: Option<SummaryJson>,
    pub created_at: Option<String>,
    pub finished_at: Option<String>,
    /// Layers read from the registry, and those already known by digest.
    pub layers_read: u64,
    pub layers_known: u64,
    /// Compressed bytes read.
    pub bytes_read: u64,
}

impl From<pb::Scan> for ScanJson {
    fn from(s: pb::Scan) -> Self {
        Self {
            id: s.id,
            status: s.status,
            registry: s.registry,
            repository: s.repository,
            reference: s.reference,
            digest: s.digest,
            error: non_empty(s.error),
            trigger: s.trigger,
            summary: s.summary.map(Into::into),
            created_at: time(s.created_at),
            finished_at: time(s.finished_at),
            layers_read: s.layers_read,
            layers_known: s.layers_known,
            bytes_read: s.bytes_read,
        }
    }
}

/// `POST /api/v1/scan-sweeps`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateSweepBody {
    pub registry: String,
    /// One space of the registry; absent: every space.
    pub space: Option<String>,
}

/// A scan-all of a registry or a space, and its progress.
#[derive(Serialize, ToSchema)]
pub struct SweepJson {
    pub id: String,
    pub registry: String,
    pub space: Option<String>,
    /// `all` (by request) or `schedule` (the space's cron).
    pub trigger: String,
    /// `planning` (listing the artifacts), `running`, `complete` or `failed`.
    pub status: String,
    /// Why planning failed.
    pub error: Option<String>,
    /// Artifacts found (final once planning ends), and their scans by state.
    pub artifacts: u64,
    pub queued: u64,
    pub scanning: u64,
    pub complete: u64,
    pub failed: u64,
    pub unsupported: u64,
    /// Compressed layer bytes read (layers known by digest are not read again).
    pub bytes_read: u64,
    pub created_at: Option<String>,
    pub finished_at: Option<String>,
}

impl From<pb::Sweep> for SweepJson {
    fn from(s: pb::Sweep) -> Self {
        Self {
            id: s.id,
            registry: s.registry,
            space: non_empty(s.space),
            trigger: s.trigger,
            status: s.status,
            error: non_empty(s.error),
            artifacts: s.artifacts,
            queued: s.queued,
            scanning: s.scanning,
            complete: s.complete,
            failed: s.failed,
            unsupported: s.unsupported,
            bytes_read: s.bytes_read,
            created_at: time(s.created_at),
            finished_at: time(s.finished_at),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct VulnerabilityJson {
    /// The record's id (`CVE-…`, `GHSA-…`, `DEBIAN-12-CVE-…-openssl`).
    pub id: String,
    pub aliases: Vec<String>,
    /// The installed package.
    pub package: String,
    /// The OSV ecosystem (`Debian:12`, `PyPI`, …).
    pub ecosystem: String,
    pub installed: String,
    /// The first version that fixes it; null when none is known.
    pub fixed: Option<String>,
    /// `critical`, `high`, `medium`, `low` or `unknown`.
    pub severity: String,
    /// The CVSS base score, when the record has one.
    pub score: Option<f64>,
    /// The digest of the layer the package came from.
    pub layer: String,
    /// The platform of an index's image; null for a single image.
    pub platform: Option<String>,
}

/// `GET …/artifacts/{digest}/vulnerabilities`.
#[derive(Serialize, ToSchema)]
pub struct ReportJson {
    pub digest: String,
    /// `queued`, `scanning`, `complete`, `failed` or `unsupported`.
    pub status: String,
    pub error: Option<String>,
    pub summary: SummaryJson,
    pub items: Vec<VulnerabilityJson>,
    /// The vulnerability database version the findings were matched against.
    pub db_version: u64,
    pub updated_at: Option<String>,
    /// Package databases seen in formats Berth does not read, by path.
    pub unsupported: Vec<String>,
    /// Who scanned it: `berth` (the built-in scanner) or an external scanner's name.
    pub scanner: String,
}

impl ReportJson {
    /// The report, its items cut to `severity` and above when given.
    pub fn new(r: pb::Report, at_least: Option<u8>) -> Self {
        let rank = |s: &str| match s {
            "critical" => 4,
            "high" => 3,
            "medium" => 2,
            "low" => 1,
            _ => 0,
        };
        Self {
            digest: r.digest,
            status: r.status,
            error: non_empty(r.error),
            summary: r.summary.unwrap_or_default().into(),
            items: r
                .findings
                .into_iter()
                .filter(|f| at_least.is_none_or(|min| rank(&f.severity) >= min))
                .map(|f| VulnerabilityJson {
                    id: f.id,
                    aliases: f.aliases,
                    package: f.package,
                    ecosystem: f.ecosystem,
                    installed: f.installed,
                    fixed: non_empty(f.fixed),
                    severity: f.severity,
                    score: f.score,
                    layer: f.layer,
                    platform: non_empty(f.platform),
                })
                .collect(),
            db_version: r.db_version,
            updated_at: time(r.updated_at),
            unsupported: r.unsupported,
            scanner: r.scanner,
        }
    }
}

/// `PUT /api/v1/allowlist/{vulnerability_id}`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AllowlistBody {
    /// With `space`: the entry holds for that space only; without both: platform-wide.
    #[serde(default)]
    pub registry: Option<String>,
    #[serde(default)]
    pub space: Option<String>,
    /// RFC 3339; null or absent: never expires.
    #[serde(default)]
    pub expires_at: Option<String>,
    /// Why the vulnerability may pass.
    pub reason: String,
}

#[derive(Serialize, ToSchema)]
pub struct AllowlistEntryJson {
    pub vulnerability_id: String,
    pub registry: Option<String>,
    pub space: Option<String>,
    pub expires_at: Option<String>,
    pub reason: String,
    pub created_by: String,
    pub created_at: Option<String>,
}

impl From<pb::AllowlistEntry> for AllowlistEntryJson {
    fn from(e: pb::AllowlistEntry) -> Self {
        Self {
            vulnerability_id: e.vulnerability_id,
            registry: non_empty(e.registry),
            space: non_empty(e.space),
            expires_at: time(e.expires_at),
            reason: e.reason,
            created_by: e.created_by,
            created_at: time(e.created_at),
        }
    }
}

/// `POST /api/v1/scanners`: an external scanner speaking Harbor's pluggable scanner API.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateScannerBody {
    pub name: String,
    /// The adapter's base URL (`{url}/api/v1/metadata` answers).
    pub url: String,
    /// `Basic` (the credential is `user:password`), `Bearer` or `X-ScannerAdapter-API-Key`;
    /// absent: none.
    pub auth: Option<String>,
    /// Write-only: sealed at rest, never returned.
    pub access_credential: Option<String>,
    /// The registries whose artifacts it scans instead of the built-in scanner.
    pub registries: Vec<String>,
}

#[derive(Serialize, ToSchema)]
pub struct ScannerJson {
    pub name: String,
    /// The built-in scanner (`berth`) scans every registry no external scanner has.
    pub builtin: bool,
    pub url: Option<String>,
    pub auth: Option<String>,
    /// Whether a credential is stored (it is never returned).
    pub has_credential: bool,
    pub registries: Vec<String>,
    /// What the adapter says of itself.
    pub scanner: ScannerInfoJson,
    /// `healthy`, or why the adapter's metadata could not be read.
    pub health: String,
    pub created_at: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct ScannerInfoJson {
    pub name: String,
    pub vendor: String,
    pub version: String,
}

impl From<pb::Scanner> for ScannerJson {
    fn from(s: pb::Scanner) -> Self {
        Self {
            name: s.name,
            builtin: s.builtin,
            url: non_empty(s.url),
            auth: non_empty(s.auth),
            has_credential: s.has_credential,
            registries: s.registries,
            scanner: ScannerInfoJson {
                name: s.scanner_name,
                vendor: s.vendor,
                version: s.version,
            },
            health: s.health,
            created_at: time(s.created_at),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct ScannerListJson {
    pub items: Vec<ScannerJson>,
}
