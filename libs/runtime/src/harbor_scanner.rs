//! The media types of Harbor's pluggable scanner API (adapter spec v1.1/v1.2): what Berth's
//! gateway serves to a Harbor that uses Berth as its scanner, and what the scan service sends
//! to the external scanners it uses.

pub const METADATA: &str = "application/vnd.scanner.adapter.metadata+json; version=1.1";
pub const SCAN_REQUEST: &str = "application/vnd.scanner.adapter.scan.request+json; version=1.1";
pub const SCAN_RESPONSE: &str = "application/vnd.scanner.adapter.scan.response+json; version=1.0";
pub const VULN_REPORT: &str = "application/vnd.security.vulnerability.report; version=1.1";
pub const HARBOR_VULN_REPORT: &str =
    "application/vnd.scanner.adapter.vuln.report.harbor+json; version=1.0";
pub const SBOM_REPORT: &str = "application/vnd.security.sbom.report+json; version=1.0";
pub const ERROR: &str = "application/vnd.scanner.adapter.error+json; version=1.0";
/// The artifacts an adapter scans: image manifests.
pub const CONSUMES: [&str; 2] = [
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
];
/// The SBOM formats of the `sbom` capability (`?sbom_media_type=`).
pub const SPDX: &str = "application/spdx+json";
pub const CYCLONEDX: &str = "application/vnd.cyclonedx+json";

/// Media types compared without spaces around `;` and case (adapters write both ways).
pub fn same_type(a: &str, b: &str) -> bool {
    let norm = |s: &str| s.split(';').map(str::trim).collect::<Vec<_>>().join(";");
    norm(a).eq_ignore_ascii_case(&norm(b))
}

/// A Berth severity (`high`) as Harbor writes it (`High`).
pub fn harbor_severity(severity: &str) -> &'static str {
    match severity {
        "critical" => "Critical",
        "high" => "High",
        "medium" => "Medium",
        "low" => "Low",
        _ => "Unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_types_compare_as_adapters_write_them() {
        assert!(same_type(
            "application/vnd.security.vulnerability.report;version=1.1",
            VULN_REPORT
        ));
        assert!(!same_type(SBOM_REPORT, VULN_REPORT));
        assert_eq!(harbor_severity("high"), "High");
        assert_eq!(harbor_severity("unknown"), "Unknown");
    }
}
