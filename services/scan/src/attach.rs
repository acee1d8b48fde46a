//! SBOMs attached to the images they describe: where a space's scan policy says
//! `attach_sbom`, each complete built-in scan attaches each platform's CycloneDX SBOM to that
//! platform's image as an OCI referrer (artifact type `application/vnd.cyclonedx+json`), once:
//! an image's packages do not change, so an image that has Berth's SBOM is not given another.
//! The SBOM then travels with the image (replication copies referrers).

use berth_error::ApiError;

use crate::reports::{platforms_of, BUILTIN};
use crate::{Result, Scanning};

pub const SBOM_TYPE: &str = "application/vnd.cyclonedx+json";
/// The annotation that marks Berth's SBOM referrers.
pub const MADE_BY: &str = "dev.berth.sbom";

impl Scanning {
    /// Attaches `digest`'s SBOMs in `registry/repository` where none is yet; answers the
    /// referrers made.
    pub async fn attach_sboms(
        &self,
        registry: &str,
        repository: &str,
        digest: &str,
    ) -> Result<Vec<String>> {
        let Some(report) = self
            .report_row(digest)
            .await?
            .filter(|r| r.status == "complete" && r.scanner == BUILTIN)
        else {
            return Ok(Vec::new());
        };
        let client = self.clients.get(registry).await?.client;
        let upstream =
            |e: berth_oci::OciError| crate::scans::registry_error(registry, repository, digest, e);
        let mut made = Vec::new();
        for p in platforms_of(&report) {
            let Some(subject) = client
                .head_manifest(repository, &p.digest)
                .await
                .map_err(upstream)?
            else {
                continue;
            };
            let attached = client
                .referrers(repository, &subject.digest)
                .await
                .map_err(upstream)?
                .iter()
                .any(|r| r.artifact_type.as_deref() == Some(SBOM_TYPE));
            if attached {
                continue;
            }
            let (document, _) = self
                .sbom(
                    digest,
                    "cyclonedx",
                    &format!("{registry}/{repository}"),
                    &p.platform,
                )
                .await?;
            let referrer = client
                .attach(
                    repository,
                    &subject,
                    SBOM_TYPE,
                    document.into_bytes().into(),
                    serde_json::json!({
                        MADE_BY: "CycloneDX 1.6",
                        "org.opencontainers.image.created": chrono::Utc::now()
                            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                    }),
                )
                .await
                .map_err(|e| ApiError::unavailable(format!("attaching the SBOM: {e}")))?;
            made.push(referrer);
        }
        Ok(made)
    }
}
