//! Scanning through the gateway: the vulnerability database (platform admins import, anyone
//! signed in reads its status), scans and reports (for whoever may see the repository: a report
//! of another workspace's private space answers 404, like the space), SBOMs, the allowlist
//! (platform-wide entries are the platform's; a space's are its managers'), and the severity
//! gate, the access rule's last step.

use berth_error::{ApiError, ApiResult};
use berth_proto::v1::*;

use super::{forward, request, visible};
use crate::authn::Principal;
use crate::authz::{authorize, Action, Owner};
use crate::state::AppState;

pub(crate) use berth_runtime::clients::scan_error;

/// Import chunks sent to the scan service.
const CHUNK: usize = 1 << 20;

/// `404` unless `p` may see `registry/repository`.
async fn readable(s: &AppState, p: &Principal, registry: &str, repository: &str) -> ApiResult<()> {
    let r = super::fetch_registry(s, p, registry).await?;
    authorize(
        p,
        Action::Read,
        Owner::of(&r.workspace),
        &format!("registry {registry:?}"),
    )?;
    visible(s, p, &r)
        .await?
        .require_repository(registry, repository)
}

/// The largest import accepted, over HTTP or gRPC.
pub const MAX_IMPORT: usize = 1 << 30;

/// Who may import: platform admins. Asked before a byte of the body is read.
pub fn may_import(p: &Principal) -> ApiResult<()> {
    authorize(
        p,
        Action::Admin,
        Owner::Platform,
        "importing into the vulnerability database",
    )
}

/// Imports `body` (of `content_type`) into the vulnerability database.
pub async fn import_vulndb(
    s: &AppState,
    p: &Principal,
    content_type: &str,
    release: &str,
    body: bytes::Bytes,
) -> ApiResult<ImportVulnDbResponse> {
    may_import(p)?;
    if body.is_empty() {
        return Err(ApiError::invalid("body", "is empty"));
    }
    let mut chunks = Vec::with_capacity(body.len() / CHUNK + 1);
    let mut offset = 0;
    while offset < body.len() {
        let end = (offset + CHUNK).min(body.len());
        chunks.push(ImportVulnDbRequest {
            content_type: if offset == 0 {
                content_type.into()
            } else {
                String::new()
            },
            release: if offset == 0 {
                release.into()
            } else {
                String::new()
            },
            chunk: body.slice(offset..end).to_vec(),
        });
        offset = end;
    }
    forward(
        s,
        p,
        "vulndb.import",
        "vulndb",
        s.scan
            .vulndb
            .clone()
            .import_vuln_db(request(p, tokio_stream::iter(chunks))),
        scan_error,
        |r| r,
    )
    .await
}

/// Fetches the configured mirror's exports now (platform admins).
pub async fn sync_vulndb(s: &AppState, p: &Principal) -> ApiResult<SyncVulnDbResponse> {
    may_import(p)?;
    forward(
        s,
        p,
        "vulndb.sync",
        "vulndb",
        s.scan
            .vulndb
            .clone()
            .sync_vuln_db(request(p, SyncVulnDbRequest {})),
        scan_error,
        |r| r,
    )
    .await
}

pub async fn vulndb_status(s: &AppState, p: &Principal) -> ApiResult<GetVulnDbStatusResponse> {
    s.scan
        .vulndb
        .clone()
        .get_vuln_db_status(request(p, GetVulnDbStatusRequest {}))
        .await
        .map(|r| r.into_inner())
        .map_err(scan_error)
}

pub async fn create_scan(s: &AppState, p: &Principal, req: CreateScanRequest) -> ApiResult<Scan> {
    for (field, value) in [
        ("registry", &req.registry),
        ("repository", &req.repository),
        ("reference", &req.reference),
    ] {
        if value.is_empty() {
            return Err(ApiError::invalid(field, "is required"));
        }
    }
    readable(s, p, &req.registry, &req.repository).await?;
    let resource = format!(
        "registries/{}/repositories/{}:{}",
        req.registry, req.repository, req.reference
    );
    let req = CreateScanRequest {
        trigger: "request".into(),
        ..req
    };
    forward(
        s,
        p,
        "scan.create",
        &resource,
        s.scan.scans.clone().create_scan(request(p, req)),
        scan_error,
        |r| r.scan.unwrap_or_default(),
    )
    .await
}

/// Who may sweep (and watch a sweep of) `registry`, or one space of it: a space's managers; the
/// registry's owner for the whole registry.
async fn sweep_scope(
    s: &AppState,
    p: &Principal,
    registry: &str,
    space: &str,
    action: Action,
) -> ApiResult<()> {
    if space.is_empty() {
        let r = super::fetch_registry(s, p, registry).await?;
        return authorize(
            p,
            action,
            Owner::of(&r.workspace),
            &format!("registry {registry:?}"),
        );
    }
    super::authorized_space(s, p, registry, space, action)
        .await
        .map(|_| ())
}

/// Scan-all of a registry or one of its spaces.
pub async fn create_sweep(
    s: &AppState,
    p: &Principal,
    req: CreateSweepRequest,
) -> ApiResult<Sweep> {
    if req.registry.is_empty() {
        return Err(ApiError::invalid("registry", "is required"));
    }
    if req.space.contains('/') {
        return Err(ApiError::invalid(
            "space",
            "a space is one path segment (the first of its repositories' names)",
        ));
    }
    sweep_scope(s, p, &req.registry, &req.space, Action::Manage).await?;
    let resource = if req.space.is_empty() {
        format!("registries/{}", req.registry)
    } else {
        format!("registries/{}/spaces/{}", req.registry, req.space)
    };
    let req = CreateSweepRequest {
        trigger: "all".into(),
        ..req
    };
    forward(
        s,
        p,
        "scan.sweep",
        &resource,
        s.scan.scans.clone().create_sweep(request(p, req)),
        scan_error,
        |r| r.sweep.unwrap_or_default(),
    )
    .await
}

pub async fn get_sweep(s: &AppState, p: &Principal, id: &str) -> ApiResult<Sweep> {
    let sweep = s
        .scan
        .scans
        .clone()
        .get_sweep(request(p, GetSweepRequest { id: id.into() }))
        .await
        .map_err(scan_error)?
        .into_inner()
        .sweep
        .unwrap_or_default();
    // A whole-registry sweep counts every space's artifacts: its owner's to read. A space's
    // sweep is readable by who may see the space.
    let action = if sweep.space.is_empty() {
        Action::Manage
    } else {
        Action::Read
    };
    sweep_scope(s, p, &sweep.registry, &sweep.space, action)
        .await
        .map_err(|_| ApiError::not_found(format!("sweep {id:?} not found")))?;
    Ok(sweep)
}

pub async fn get_scan(s: &AppState, p: &Principal, id: &str) -> ApiResult<Scan> {
    let scan = s
        .scan
        .scans
        .clone()
        .get_scan(request(p, GetScanRequest { id: id.into() }))
        .await
        .map_err(scan_error)?
        .into_inner()
        .scan
        .unwrap_or_default();
    // A scan of what the caller may not see does not exist for it.
    readable(s, p, &scan.registry, &scan.repository)
        .await
        .map_err(|_| ApiError::not_found(format!("scan {id:?} not found")))?;
    Ok(scan)
}

pub async fn get_report(
    s: &AppState,
    p: &Principal,
    registry: &str,
    repository: &str,
    digest: &str,
) -> ApiResult<Report> {
    readable(s, p, registry, repository).await?;
    Ok(s.scan
        .scans
        .clone()
        .get_report(request(
            p,
            GetReportRequest {
                digest: digest.into(),
                registry: registry.into(),
                repository: repository.into(),
            },
        ))
        .await
        .map_err(scan_error)?
        .into_inner()
        .report
        .unwrap_or_default())
}

pub async fn get_sbom(
    s: &AppState,
    p: &Principal,
    registry: &str,
    repository: &str,
    digest: &str,
    format: &str,
    platform: &str,
) -> ApiResult<GetSbomResponse> {
    readable(s, p, registry, repository).await?;
    s.scan
        .scans
        .clone()
        .get_sbom(request(
            p,
            GetSbomRequest {
                digest: digest.into(),
                format: format.into(),
                name: format!("{registry}/{repository}"),
                platform: platform.into(),
                registry: registry.into(),
                repository: repository.into(),
            },
        ))
        .await
        .map(|r| r.into_inner())
        .map_err(scan_error)
}

/// Platform-wide entries: platform admins; a space's: those who manage the space.
async fn manage_scope(s: &AppState, p: &Principal, registry: &str, space: &str) -> ApiResult<()> {
    if registry.is_empty() && space.is_empty() {
        return authorize(
            p,
            Action::Admin,
            Owner::Platform,
            "the platform-wide allowlist",
        );
    }
    if registry.is_empty() || space.is_empty() {
        let field = if registry.is_empty() {
            "registry"
        } else {
            "space"
        };
        return Err(ApiError::invalid(
            field,
            "registry and space go together (an entry is platform-wide, or for one space)",
        ));
    }
    super::authorized_space(s, p, registry, space, Action::Manage)
        .await
        .map(|_| ())
}

/// Reading a scope: anyone for platform-wide entries; a space's for whoever may see it.
async fn read_scope(s: &AppState, p: &Principal, registry: &str, space: &str) -> ApiResult<()> {
    if registry.is_empty() && space.is_empty() {
        return Ok(());
    }
    if registry.is_empty() {
        return Err(ApiError::invalid("registry", "is required with space"));
    }
    if space.is_empty() {
        return Err(ApiError::invalid("space", "is required with registry"));
    }
    super::authorized_space(s, p, registry, space, Action::Read)
        .await
        .map(|_| ())
}

fn entry_resource(id: &str, registry: &str, space: &str) -> String {
    if registry.is_empty() {
        format!("allowlist/{id}")
    } else {
        format!("registries/{registry}/spaces/{space}/allowlist/{id}")
    }
}

pub async fn put_allowlist_entry(
    s: &AppState,
    p: &Principal,
    entry: AllowlistEntry,
) -> ApiResult<AllowlistEntry> {
    manage_scope(s, p, &entry.registry, &entry.space).await?;
    let resource = entry_resource(&entry.vulnerability_id, &entry.registry, &entry.space);
    let out = forward(
        s,
        p,
        "allowlist.put",
        &resource,
        s.scan
            .allowlist
            .clone()
            .put_allowlist_entry(request(p, PutAllowlistEntryRequest { entry: Some(entry) })),
        scan_error,
        |r| r.entry.unwrap_or_default(),
    )
    .await?;
    settled(s).await;
    Ok(out)
}

/// Cached access answers are orphaned at once after an allowlist change (the event does it for
/// the other replicas too), so the caller's next check sees the change.
async fn settled(s: &AppState) {
    if let Err(e) = s.access_cache.invalidate().await {
        tracing::warn!(error = %e, "access cache not invalidated; the allowlist.changed event will");
    }
}

pub async fn get_allowlist_entry(
    s: &AppState,
    p: &Principal,
    req: GetAllowlistEntryRequest,
) -> ApiResult<AllowlistEntry> {
    read_scope(s, p, &req.registry, &req.space).await?;
    s.scan
        .allowlist
        .clone()
        .get_allowlist_entry(request(p, req))
        .await
        .map(|r| r.into_inner().entry.unwrap_or_default())
        .map_err(scan_error)
}

pub async fn list_allowlist(
    s: &AppState,
    p: &Principal,
    registry: &str,
    space: &str,
) -> ApiResult<Vec<AllowlistEntry>> {
    read_scope(s, p, registry, space).await?;
    let entries = s
        .scan
        .allowlist
        .clone()
        .list_allowlist_entries(request(
            p,
            ListAllowlistEntriesRequest {
                registry: registry.into(),
                space: space.into(),
            },
        ))
        .await
        .map_err(scan_error)?
        .into_inner()
        .entries;
    if p.platform_admin || !registry.is_empty() {
        return Ok(entries);
    }
    // Every entry: platform-wide ones, and those of spaces the caller may see.
    let mut out = Vec::new();
    for e in entries {
        if e.registry.is_empty() || read_scope(s, p, &e.registry, &e.space).await.is_ok() {
            out.push(e);
        }
    }
    Ok(out)
}

pub async fn delete_allowlist_entry(
    s: &AppState,
    p: &Principal,
    req: DeleteAllowlistEntryRequest,
) -> ApiResult<()> {
    manage_scope(s, p, &req.registry, &req.space).await?;
    let resource = entry_resource(&req.vulnerability_id, &req.registry, &req.space);
    forward(
        s,
        p,
        "allowlist.delete",
        &resource,
        s.scan
            .allowlist
            .clone()
            .delete_allowlist_entry(request(p, req)),
        scan_error,
        |_| (),
    )
    .await?;
    settled(s).await;
    Ok(())
}

/// The scan service's verdict on `gate`: the access rule's last step.
pub async fn evaluate_gate(
    s: &AppState,
    p: &Principal,
    gate: &Gate,
) -> ApiResult<EvaluateGateResponse> {
    let policy = gate.policy.clone().unwrap_or_default();
    s.scan
        .scans
        .clone()
        .evaluate_gate(request(
            p,
            EvaluateGateRequest {
                registry: gate.registry.clone(),
                repository: gate.repository.clone(),
                reference: gate.reference.clone(),
                space: gate.space.clone(),
                gate: policy.gate,
                unscanned: policy.unscanned,
            },
        ))
        .await
        .map(|r| r.into_inner())
        .map_err(scan_error)
}

/// The scan states of `digests` that have a report, by digest. Listings carry them; a scan
/// service that does not answer leaves them out rather than failing the listing.
pub async fn summaries(
    s: &AppState,
    p: &Principal,
    digests: Vec<String>,
) -> std::collections::HashMap<String, DigestSummary> {
    if digests.is_empty() {
        return Default::default();
    }
    match s
        .scan
        .scans
        .clone()
        .list_summaries(request(p, ListSummariesRequest { digests }))
        .await
    {
        Ok(r) => r
            .into_inner()
            .summaries
            .into_iter()
            .map(|d| (d.digest.clone(), d))
            .collect(),
        Err(e) => {
            tracing::warn!(error = %e.message(), "scan summaries unavailable for a listing");
            Default::default()
        }
    }
}
