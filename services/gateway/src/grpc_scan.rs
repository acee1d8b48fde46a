//! The public gRPC front of scanning: `ScanService`, `VulnDbService` and `AllowlistService`,
//! through the same [`crate::ops`] as HTTP/JSON. `EvaluateGate` is the access rule's internal
//! step: over the public API it is the platform's (the access check is `CheckPull`).

use berth_proto::v1::allowlist_service_server::AllowlistService;
use berth_proto::v1::scan_service_server::ScanService;
use berth_proto::v1::scanner_service_server::ScannerService;
use berth_proto::v1::vuln_db_service_server::VulnDbService;
use berth_proto::v1::*;
use tokio_stream::StreamExt;
use tonic::{Request, Response, Status, Streaming};

use crate::authz::{authorize, Action, Owner};
use crate::grpc::PublicApi;
use crate::ops;

#[tonic::async_trait]
impl ScanService for PublicApi {
    async fn create_scan(
        &self,
        req: Request<CreateScanRequest>,
    ) -> Result<Response<CreateScanResponse>, Status> {
        let p = self.principal(&req).await?;
        let scan = ops::create_scan(&self.state, &p, req.into_inner()).await?;
        Ok(Response::new(CreateScanResponse { scan: Some(scan) }))
    }

    async fn get_scan(
        &self,
        req: Request<GetScanRequest>,
    ) -> Result<Response<GetScanResponse>, Status> {
        let p = self.principal(&req).await?;
        let scan = ops::get_scan(&self.state, &p, &req.into_inner().id).await?;
        Ok(Response::new(GetScanResponse { scan: Some(scan) }))
    }

    async fn create_sweep(
        &self,
        req: Request<CreateSweepRequest>,
    ) -> Result<Response<CreateSweepResponse>, Status> {
        let p = self.principal(&req).await?;
        let sweep = ops::create_sweep(&self.state, &p, req.into_inner()).await?;
        Ok(Response::new(CreateSweepResponse { sweep: Some(sweep) }))
    }

    async fn get_sweep(
        &self,
        req: Request<GetSweepRequest>,
    ) -> Result<Response<GetSweepResponse>, Status> {
        let p = self.principal(&req).await?;
        let sweep = ops::get_sweep(&self.state, &p, &req.into_inner().id).await?;
        Ok(Response::new(GetSweepResponse { sweep: Some(sweep) }))
    }

    async fn get_report(
        &self,
        req: Request<GetReportRequest>,
    ) -> Result<Response<GetReportResponse>, Status> {
        let p = self.principal(&req).await?;
        let r = req.into_inner();
        let report =
            ops::get_report(&self.state, &p, &r.registry, &r.repository, &r.digest).await?;
        Ok(Response::new(GetReportResponse {
            report: Some(report),
        }))
    }

    async fn get_sbom(
        &self,
        req: Request<GetSbomRequest>,
    ) -> Result<Response<GetSbomResponse>, Status> {
        let p = self.principal(&req).await?;
        let r = req.into_inner();
        let sbom = ops::get_sbom(
            &self.state,
            &p,
            &r.registry,
            &r.repository,
            &r.digest,
            &r.format,
            &r.platform,
        )
        .await?;
        Ok(Response::new(sbom))
    }

    async fn list_summaries(
        &self,
        req: Request<ListSummariesRequest>,
    ) -> Result<Response<ListSummariesResponse>, Status> {
        let p = self.principal(&req).await?;
        authorize(&p, Action::Admin, Owner::Platform, "summaries by digest")?;
        self.state
            .scan
            .scans
            .clone()
            .list_summaries(ops::request(&p, req.into_inner()))
            .await
            .map_err(|s| ops::scan_error(s).into())
    }

    async fn evaluate_gate(
        &self,
        req: Request<EvaluateGateRequest>,
    ) -> Result<Response<EvaluateGateResponse>, Status> {
        let p = self.principal(&req).await?;
        authorize(
            &p,
            Action::Admin,
            Owner::Platform,
            "evaluating a gate directly",
        )?;
        self.state
            .scan
            .scans
            .clone()
            .evaluate_gate(ops::request(&p, req.into_inner()))
            .await
            .map_err(|s| ops::scan_error(s).into())
    }
}

#[tonic::async_trait]
impl VulnDbService for PublicApi {
    async fn import_vuln_db(
        &self,
        req: Request<Streaming<ImportVulnDbRequest>>,
    ) -> Result<Response<ImportVulnDbResponse>, Status> {
        let p = self.principal(&req).await?;
        ops::may_import(&p)?;
        let mut stream = req.into_inner();
        let (mut content_type, mut release) = (String::new(), String::new());
        let mut body = Vec::new();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk?;
            if body.is_empty() && content_type.is_empty() {
                content_type = chunk.content_type;
                release = chunk.release;
            }
            if body.len() + chunk.chunk.len() > ops::MAX_IMPORT {
                return Err(berth_error::ApiError::invalid(
                    "chunk",
                    format!(
                        "the import is larger than the {} MiB an import may be",
                        ops::MAX_IMPORT >> 20
                    ),
                )
                .into());
            }
            body.extend_from_slice(&chunk.chunk);
        }
        let r = ops::import_vulndb(&self.state, &p, &content_type, &release, body.into()).await?;
        Ok(Response::new(r))
    }

    async fn get_vuln_db_status(
        &self,
        req: Request<GetVulnDbStatusRequest>,
    ) -> Result<Response<GetVulnDbStatusResponse>, Status> {
        let p = self.principal(&req).await?;
        Ok(Response::new(ops::vulndb_status(&self.state, &p).await?))
    }

    async fn sync_vuln_db(
        &self,
        req: Request<SyncVulnDbRequest>,
    ) -> Result<Response<SyncVulnDbResponse>, Status> {
        let p = self.principal(&req).await?;
        Ok(Response::new(ops::sync_vulndb(&self.state, &p).await?))
    }
}

#[tonic::async_trait]
impl AllowlistService for PublicApi {
    async fn put_allowlist_entry(
        &self,
        req: Request<PutAllowlistEntryRequest>,
    ) -> Result<Response<PutAllowlistEntryResponse>, Status> {
        let p = self.principal(&req).await?;
        let entry = req
            .into_inner()
            .entry
            .ok_or_else(|| Status::from(berth_error::ApiError::invalid("entry", "is required")))?;
        let entry = ops::put_allowlist_entry(&self.state, &p, entry).await?;
        Ok(Response::new(PutAllowlistEntryResponse {
            entry: Some(entry),
        }))
    }

    async fn get_allowlist_entry(
        &self,
        req: Request<GetAllowlistEntryRequest>,
    ) -> Result<Response<GetAllowlistEntryResponse>, Status> {
        let p = self.principal(&req).await?;
        let entry = ops::get_allowlist_entry(&self.state, &p, req.into_inner()).await?;
        Ok(Response::new(GetAllowlistEntryResponse {
            entry: Some(entry),
        }))
    }

    async fn list_allowlist_entries(
        &self,
        req: Request<ListAllowlistEntriesRequest>,
    ) -> Result<Response<ListAllowlistEntriesResponse>, Status> {
        let p = self.principal(&req).await?;
        let r = req.into_inner();
        let entries = ops::list_allowlist(&self.state, &p, &r.registry, &r.space).await?;
        Ok(Response::new(ListAllowlistEntriesResponse { entries }))
    }

    async fn delete_allowlist_entry(
        &self,
        req: Request<DeleteAllowlistEntryRequest>,
    ) -> Result<Response<DeleteAllowlistEntryResponse>, Status> {
        let p = self.principal(&req).await?;
        ops::delete_allowlist_entry(&self.state, &p, req.into_inner()).await?;
        Ok(Response::new(DeleteAllowlistEntryResponse {}))
    }
}

#[tonic::async_trait]
impl ScannerService for PublicApi {
    async fn create_scanner(
        &self,
        req: Request<CreateScannerRequest>,
    ) -> Result<Response<CreateScannerResponse>, Status> {
        let p = self.principal(&req).await?;
        let scanner = req.into_inner().scanner.unwrap_or_default();
        let scanner = ops::create_scanner(&self.state, &p, scanner).await?;
        Ok(Response::new(CreateScannerResponse {
            scanner: Some(scanner),
        }))
    }

    async fn list_scanners(
        &self,
        req: Request<ListScannersRequest>,
    ) -> Result<Response<ListScannersResponse>, Status> {
        let p = self.principal(&req).await?;
        let scanners = ops::list_scanners(&self.state, &p).await?;
        Ok(Response::new(ListScannersResponse { scanners }))
    }

    async fn get_scanner(
        &self,
        req: Request<GetScannerRequest>,
    ) -> Result<Response<GetScannerResponse>, Status> {
        let p = self.principal(&req).await?;
        let scanner = ops::get_scanner(&self.state, &p, &req.into_inner().name).await?;
        Ok(Response::new(GetScannerResponse {
            scanner: Some(scanner),
        }))
    }

    async fn delete_scanner(
        &self,
        req: Request<DeleteScannerRequest>,
    ) -> Result<Response<DeleteScannerResponse>, Status> {
        let p = self.principal(&req).await?;
        ops::delete_scanner(&self.state, &p, &req.into_inner().name).await?;
        Ok(Response::new(DeleteScannerResponse {}))
    }
}
