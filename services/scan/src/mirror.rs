//! The configured OSV mirror (`BERTH_VULNDB_MIRROR`): a web server laid out as osv.dev's
//! bucket (`{mirror}/{ecosystem}/all.zip`), as an air-gapped site serves the exports it copied
//! in. Every `BERTH_VULNDB_SYNC_SECS` (and at start, and on `SyncVulnDb`) each ecosystem's
//! export is fetched (`If-None-Match` with the last `ETag`; at most [`MAX_EXPORT`]) and imported
//! as an upload would be; an export whose bytes did not change is not imported again. A tick is
//! claimed with a lease in the shared cache, so replicas fetch it once.

use std::time::Duration;

use berth_config::VulnDbMirror;
use berth_proto::v1::VulnDbSource;
use chrono::Utc;
use futures::StreamExt;
use sea_orm::sea_query::OnConflict;
use sea_orm::{EntityTrait, Set};
use sha2::Digest;

use crate::database::Format;
use crate::entity::source;
use crate::{db_error, Result, Scanning};

/// The largest export fetched (osv.dev's largest ecosystem export is well below it).
pub const MAX_EXPORT: usize = 1 << 30;

/// `{mirror}/{ecosystem}/all.zip`.
pub fn export_url(mirror: &str, ecosystem: &str) -> String {
    format!(
        "{mirror}/{}/all.zip",
        percent_encoding::utf8_percent_encode(ecosystem, percent_encoding::NON_ALPHANUMERIC)
    )
}

/// `url` without the user name and password it may carry (`http://user:pass@mirror/…`): what
/// a status answer and a log line show of a mirror.
pub fn shown(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if !u.username().is_empty() || u.password().is_some() => {
            let _ = u.set_username("");
            let _ = u.set_password(None);
            u.to_string()
        }
        _ => url.to_string(),
    }
}

pub fn to_proto(m: &source::Model) -> VulnDbSource {
    VulnDbSource {
        url: shown(&m.url),
        status: m.status.clone(),
        imported: m.imported.max(0) as u64,
        error: m.error.clone(),
        fetched_at: Some(crate::scans::timestamp(m.fetched_at)),
    }
}

/// The export's bytes and `ETag`, or `None` when the mirror says it has not changed.
async fn fetch(
    http: &reqwest::Client,
    url: &str,
    etag: &str,
) -> std::result::Result<Option<(Vec<u8>, String)>, String> {
    let mut req = http.get(url);
    if !etag.is_empty() {
        req = req.header("If-None-Match", etag);
    }
    let resp = req.send().await.map_err(|e| e.to_string())?;
    if resp.status() == reqwest::StatusCode::NOT_MODIFIED {
        return Ok(None);
    }
    if !resp.status().is_success() {
        return Err(format!("the mirror answered {}", resp.status()));
    }
    let etag = resp
        .headers()
        .get("ETag")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let mut body = Vec::new();
    let mut stream = resp.bytes_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| e.to_string())?;
        if body.len() + chunk.len() > MAX_EXPORT {
            return Err(format!(
                "the export is larger than {} MiB",
                MAX_EXPORT >> 20
            ));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Some((body, etag)))
}

impl Scanning {
    /// Fetches and imports every export of `mirror` now.
    pub async fn sync_mirror(&self, mirror: &VulnDbMirror) -> Result<Vec<VulnDbSource>> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(1800))
            .build()
            .expect("an HTTP client");
        let mut out = Vec::new();
        for ecosystem in &mirror.ecosystems {
            let url = export_url(&mirror.url, ecosystem);
            let last = source::Entity::find_by_id(&url)
                .one(&self.db)
                .await
                .map_err(db_error)?;
            let (etag, digest) = last
                .as_ref()
                .map(|l| (l.etag.clone(), l.digest.clone()))
                .unwrap_or_default();
            let mut row = source::Model {
                url: url.clone(),
                etag: etag.clone(),
                digest: digest.clone(),
                status: "unchanged".into(),
                imported: 0,
                error: String::new(),
                fetched_at: Utc::now(),
            };
            match fetch(&http, &url, &etag).await {
                Ok(None) => {}
                Ok(Some((body, new_etag))) => {
                    let sum = hex::encode(sha2::Sha256::digest(&body));
                    if sum != digest {
                        match self.import(Format::Zip, &body, None).await {
                            Ok((imported, _)) => {
                                row.status = "imported".into();
                                row.imported = imported as i64;
                                row.digest = sum;
                                row.etag = new_etag;
                            }
                            Err(e) => {
                                row.status = "failed".into();
                                row.error = e.message;
                            }
                        }
                    } else {
                        row.etag = new_etag;
                    }
                }
                Err(e) => {
                    row.status = "failed".into();
                    // An HTTP error may quote the URL it was fetching.
                    row.error = e.replace(&url, &shown(&url));
                }
            }
            if row.status == "failed" {
                tracing::warn!(url = %shown(&url), error = %row.error, "mirror export not imported");
            } else {
                tracing::info!(url = %shown(&url), status = %row.status, imported = row.imported, "mirror export fetched");
            }
            source::Entity::insert(source::ActiveModel {
                url: Set(row.url.clone()),
                etag: Set(row.etag.clone()),
                digest: Set(row.digest.clone()),
                status: Set(row.status.clone()),
                imported: Set(row.imported),
                error: Set(row.error.clone()),
                fetched_at: Set(row.fetched_at),
            })
            .on_conflict(
                OnConflict::column(source::Column::Url)
                    .update_columns([
                        source::Column::Etag,
                        source::Column::Digest,
                        source::Column::Status,
                        source::Column::Imported,
                        source::Column::Error,
                        source::Column::FetchedAt,
                    ])
                    .to_owned(),
            )
            .exec(&self.db)
            .await
            .map_err(db_error)?;
            out.push(to_proto(&row));
        }
        Ok(out)
    }

    /// The mirror's exports as last fetched.
    pub async fn sources(&self) -> Result<Vec<VulnDbSource>> {
        Ok(source::Entity::find()
            .all(&self.db)
            .await
            .map_err(db_error)?
            .iter()
            .map(to_proto)
            .collect())
    }
}

/// Fetches the mirror's exports at start and every `mirror.every`, once across replicas.
pub async fn run(
    scanning: Scanning,
    mirror: VulnDbMirror,
    cache: std::sync::Arc<dyn berth_cache::Cache>,
    shutdown: berth_runtime::Shutdown,
) {
    let every = mirror.every.max(Duration::from_secs(1));
    let mut ticker = tokio::time::interval(every);
    loop {
        tokio::select! {
            _ = shutdown.wait() => return,
            _ = ticker.tick() => {}
        }
        let tick = Utc::now().timestamp() / every.as_secs().max(1) as i64;
        match cache
            .set_nx(&format!("vulndb-sync:{tick}"), b"1", every)
            .await
        {
            Ok(true) => {}
            Ok(false) => continue,
            Err(e) => {
                tracing::warn!(error = %e, "mirror sync lease unavailable, skipping");
                continue;
            }
        }
        if let Err(e) = scanning.sync_mirror(&mirror).await {
            tracing::warn!(error = %e, "mirror sync failed");
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_mirror_is_shown_without_its_credential() {
        assert_eq!(
            super::shown("http://mirroruser:S3cret@127.0.0.1:5199/PyPI/all.zip"),
            "http://127.0.0.1:5199/PyPI/all.zip"
        );
        assert_eq!(super::shown("http://m/x"), "http://m/x");
    }
}
