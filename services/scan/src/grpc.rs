//! `ScanService`, `VulnDbService` and `AllowlistService`: what the gateway calls, with the
//! internal credential. Authorization is the gateway's; these check input and answer.

use berth_error::ApiError;
use berth_proto::v1::allowlist_service_server::AllowlistService;
use berth_proto::v1::scan_service_server::ScanService;
use berth_proto::v1::scanner_service_server::ScannerService;
use berth_proto::v1::vuln_db_service_server::VulnDbService;
use berth_proto::v1::*;
use tokio_stream::StreamExt;
use tonic::{Request, Response, Status, Streaming};

use crate::database::Format;
use crate::Scanning;

/// The largest import accepted (an OSV export of every ecosystem is well below it).
pub const MAX_IMPORT: usize = 1 << 30;

#[derive(Clone)]
pub struct ScanApi {
    pub scanning: Scanning,
}

fn required(field: &str, value: &str) -> Result<(), Status> {
    if value.is_empty() {
        return Err(ApiError::invalid(field, "is required").into());
    }
    Ok(())
}

fn check_digest(digest: &str) -> Result<(), Status> {
    let ok = digest.strip_prefix("sha256:").is_some_and(|h| {
        h.len() == 64
            && h.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    });
    if ok {
        Ok(())
    } else {
        Err(ApiError::invalid("digest", format!("{digest:?} is not a sha256 digest")).into())
    }
}

#[tonic::async_trait]
impl ScanService for ScanApi {
    async fn create_scan(
        &self,
        req: Request<CreateScanRequest>,
    ) -> Result<Response<CreateScanResponse>, Status> {
        let r = req.into_inner();
        required("registry", &r.registry)?;
        required("repository", &r.repository)?;
        required("reference", &r.reference)?;
        let scan = self
            .scanning
            .create_scan(&r.registry, &r.repository, &r.reference, &r.trigger)
            .await?;
        Ok(Response::new(CreateScanResponse { scan: Some(scan) }))
    }

    async fn create_sweep(
        &self,
        req: Request<CreateSweepRequest>,
    ) -> Result<Response<CreateSweepResponse>, Status> {
        let r = req.into_inner();
        required("registry", &r.registry)?;
        let sweep = self
            .scanning
            .create_sweep(&r.registry, &r.space, &r.trigger)
            .await?;
        Ok(Response::new(CreateSweepResponse { sweep: Some(sweep) }))
    }

    async fn get_sweep(
        &self,
        req: Request<GetSweepRequest>,
    ) -> Result<Response<GetSweepResponse>, Status> {
        let r = req.into_inner();
        required("id", &r.id)?;
        let sweep = self.scanning.get_sweep(&r.id).await?;
        Ok(Response::new(GetSweepResponse { sweep: Some(sweep) }))
    }

    async fn get_scan(
        &self,
        req: Request<GetScanRequest>,
    ) -> Result<Response<GetScanResponse>, Status> {
        let r = req.into_inner();
        required("id", &r.id)?;
        let scan = self.scanning.get_scan(&r.id).await?;
        Ok(Response::new(GetScanResponse { scan: Some(scan) }))
    }

    async fn get_report(
        &self,
        req: Request<GetReportRequest>,
    ) -> Result<Response<GetReportResponse>, Status> {
        let r = req.into_inner();
        check_digest(&r.digest)?;
        self.scanning
            .held_at(&r.registry, &r.repository, &r.digest)
            .await?;
        let (_, key) = self.scanning.report_key(&r.registry, &r.digest).await?;
        let report = self.scanning.get_report(&key).await?;
        Ok(Response::new(GetReportResponse {
            report: Some(report),
        }))
    }

    async fn get_sbom(
        &self,
        req: Request<GetSbomRequest>,
    ) -> Result<Response<GetSbomResponse>, Status> {
        let r = req.into_inner();
        check_digest(&r.digest)?;
        self.scanning
            .held_at(&r.registry, &r.repository, &r.digest)
            .await?;
        let (_, key) = self.scanning.report_key(&r.registry, &r.digest).await?;
        let (document, media_type) = self
            .scanning
            .sbom(&key, &r.format, &r.name, &r.platform)
            .await?;
        Ok(Response::new(GetSbomResponse {
            document,
            media_type: media_type.into(),
        }))
    }

    async fn list_summaries(
        &self,
        req: Request<ListSummariesRequest>,
    ) -> Result<Response<ListSummariesResponse>, Status> {
        let r = req.into_inner();
        let summaries = self.scanning.summaries(&r.digests).await?;
        Ok(Response::new(ListSummariesResponse { summaries }))
    }

    async fn evaluate_gate(
        &self,
        req: Request<EvaluateGateRequest>,
    ) -> Result<Response<EvaluateGateResponse>, Status> {
        let r = req.into_inner();
        required("registry", &r.registry)?;
        required("repository", &r.repository)?;
        Ok(Response::new(self.scanning.evaluate_gate(&r).await?))
    }
}

#[tonic::async_trait]
impl VulnDbService for ScanApi {
    async fn import_vuln_db(
        &self,
        req: Request<Streaming<ImportVulnDbRequest>>,
    ) -> Result<Response<ImportVulnDbResponse>, Status> {
        let mut stream = req.into_inner();
        let mut release = None;
        let mut content_type = None;
        let mut body = Vec::new();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk?;
            if content_type.is_none() {
                content_type = Some(Format::of(&chunk.content_type)?);
                release = Some(chunk.release.clone()).filter(|r| !r.is_empty());
            }
            if body.len() + chunk.chunk.len() > MAX_IMPORT {
                return Err(ApiError::invalid(
                    "body",
                    format!(
                        "is larger than the {} MiB an import may be",
                        MAX_IMPORT >> 20
                    ),
                )
                .into());
            }
            body.extend_from_slice(&chunk.chunk);
        }
        let Some(format) = content_type else {
            return Err(ApiError::invalid("body", "is empty").into());
        };
        let (imported, version) = self
            .scanning
            .import(format, &body, release.as_deref())
            .await?;
        Ok(Response::new(ImportVulnDbResponse { imported, version }))
    }

    async fn get_vuln_db_status(
        &self,
        _req: Request<GetVulnDbStatusRequest>,
    ) -> Result<Response<GetVulnDbStatusResponse>, Status> {
        let s = self.scanning.status().await?;
        Ok(Response::new(GetVulnDbStatusResponse {
            records: s.records,
            ecosystems: s.ecosystems.into_iter().collect(),
            updated_at: s.updated_at.map(crate::scans::timestamp),
            version: s.version,
            sources: self.scanning.sources().await?,
        }))
    }

    async fn sync_vuln_db(
        &self,
        _req: Request<SyncVulnDbRequest>,
    ) -> Result<Response<SyncVulnDbResponse>, Status> {
        let Some(mirror) = self.scanning.mirror.clone() else {
            return Err(ApiError::failed_precondition(
                "no mirror is configured (BERTH_VULNDB_MIRROR and BERTH_VULNDB_ECOSYSTEMS)",
            )
            .into());
        };
        let sources = self.scanning.sync_mirror(&mirror).await?;
        let version = self.scanning.status().await?.version;
        Ok(Response::new(SyncVulnDbResponse { sources, version }))
    }
}

#[tonic::async_trait]
impl AllowlistService for ScanApi {
    async fn put_allowlist_entry(
        &self,
        req: Request<PutAllowlistEntryRequest>,
    ) -> Result<Response<PutAllowlistEntryResponse>, Status> {
        let principal = berth_auth::internal::principal_of(req.metadata());
        let mut entry = req.into_inner().entry.unwrap_or_default();
        entry.created_by = principal;
        let entry = self.scanning.put_allowlist_entry(entry).await?;
        Ok(Response::new(PutAllowlistEntryResponse {
            entry: Some(entry),
        }))
    }

    async fn get_allowlist_entry(
        &self,
        req: Request<GetAllowlistEntryRequest>,
    ) -> Result<Response<GetAllowlistEntryResponse>, Status> {
        let r = req.into_inner();
        let entry = self
            .scanning
            .get_allowlist_entry(&r.vulnerability_id, &r.registry, &r.space)
            .await?;
        Ok(Response::new(GetAllowlistEntryResponse {
            entry: Some(entry),
        }))
    }

    async fn list_allowlist_entries(
        &self,
        req: Request<ListAllowlistEntriesRequest>,
    ) -> Result<Response<ListAllowlistEntriesResponse>, Status> {
        let r = req.into_inner();
        let entries = self
            .scanning
            .list_allowlist(&r.registry, &r.space)
            .await?
            .iter()
            .map(crate::allowlist::to_proto)
            .collect();
        Ok(Response::new(ListAllowlistEntriesResponse { entries }))
    }

    async fn delete_allowlist_entry(
        &self,
        req: Request<DeleteAllowlistEntryRequest>,
    ) -> Result<Response<DeleteAllowlistEntryResponse>, Status> {
        let r = req.into_inner();
        self.scanning
            .delete_allowlist_entry(&r.vulnerability_id, &r.registry, &r.space)
            .await?;
        Ok(Response::new(DeleteAllowlistEntryResponse {}))
    }
}

#[tonic::async_trait]
impl ScannerService for ScanApi {
    async fn create_scanner(
        &self,
        req: Request<CreateScannerRequest>,
    ) -> Result<Response<CreateScannerResponse>, Status> {
        let s = req
            .into_inner()
            .scanner
            .ok_or_else(|| ApiError::invalid("scanner", "is required"))?;
        let scanner = self.scanning.create_scanner(s).await?;
        Ok(Response::new(CreateScannerResponse {
            scanner: Some(scanner),
        }))
    }

    async fn list_scanners(
        &self,
        _req: Request<ListScannersRequest>,
    ) -> Result<Response<ListScannersResponse>, Status> {
        let scanners = self.scanning.list_scanners().await?;
        Ok(Response::new(ListScannersResponse { scanners }))
    }

    async fn get_scanner(
        &self,
        req: Request<GetScannerRequest>,
    ) -> Result<Response<GetScannerResponse>, Status> {
        let r = req.into_inner();
        required("name", &r.name)?;
        let scanner = self.scanning.get_scanner(&r.name).await?;
        Ok(Response::new(GetScannerResponse {
            scanner: Some(scanner),
        }))
    }

    async fn delete_scanner(
        &self,
        req: Request<DeleteScannerRequest>,
    ) -> Result<Response<DeleteScannerResponse>, Status> {
        let r = req.into_inner();
        required("name", &r.name)?;
        self.scanning.delete_scanner(&r.name).await?;
        Ok(Response::new(DeleteScannerResponse {}))
    }
}
