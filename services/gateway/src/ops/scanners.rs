//! External scanners through the gateway: the platform's to register, list and remove (a
//! registration names the registries it scans and holds a credential for the adapter).

use berth_error::{ApiError, ApiResult};
use berth_proto::v1::*;

use super::{forward, request, scan_error};
use crate::authn::Principal;
use crate::authz::{authorize, Action, Owner};
use crate::state::AppState;

fn platform(p: &Principal) -> ApiResult<()> {
    authorize(p, Action::Admin, Owner::Platform, "the scanners")
}

pub async fn create_scanner(s: &AppState, p: &Principal, scanner: Scanner) -> ApiResult<Scanner> {
    platform(p)?;
    let resource = format!("scanners/{}", scanner.name);
    forward(
        s,
        p,
        "scanner.create",
        &resource,
        s.scan.scanners.clone().create_scanner(request(
            p,
            CreateScannerRequest {
                scanner: Some(scanner),
            },
        )),
        scan_error,
        |r| r.scanner.unwrap_or_default(),
    )
    .await
}

pub async fn list_scanners(s: &AppState, p: &Principal) -> ApiResult<Vec<Scanner>> {
    platform(p)?;
    s.scan
        .scanners
        .clone()
        .list_scanners(request(p, ListScannersRequest {}))
        .await
        .map(|r| r.into_inner().scanners)
        .map_err(scan_error)
}

pub async fn get_scanner(s: &AppState, p: &Principal, name: &str) -> ApiResult<Scanner> {
    platform(p)?;
    s.scan
        .scanners
        .clone()
        .get_scanner(request(p, GetScannerRequest { name: name.into() }))
        .await
        .map(|r| r.into_inner().scanner.unwrap_or_default())
        .map_err(scan_error)
}

pub async fn delete_scanner(s: &AppState, p: &Principal, name: &str) -> ApiResult<()> {
    platform(p)?;
    if name.is_empty() {
        return Err(ApiError::invalid("name", "is required"));
    }
    forward(
        s,
        p,
        "scanner.delete",
        &format!("scanners/{name}"),
        s.scan
            .scanners
            .clone()
            .delete_scanner(request(p, DeleteScannerRequest { name: name.into() })),
        scan_error,
        |_| (),
    )
    .await
}
