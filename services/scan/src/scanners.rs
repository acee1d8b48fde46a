//! The scanners: the built-in one (`berth`), which scans every registry no external scanner is
//! assigned to, and external scanners speaking Harbor's pluggable scanner API ([`external`]),
//! each assigned registries whose artifacts it scans instead. A registration is checked when it
//! is made (the adapter must answer `/api/v1/metadata` and produce vulnerability reports); its
//! credential is sealed at rest and never returned.
//!
//! [`external`]: crate::external

use berth_error::ApiError;
use berth_proto::v1::Scanner as ScannerProto;
use chrono::Utc;
use sea_orm::{ActiveModelTrait, EntityTrait, Set};

use crate::entity::scanner;
use crate::external::Adapter;
use crate::reports::BUILTIN;
use crate::{db_error, Result, Scanning};

pub const AUTHS: [&str; 4] = ["", "Basic", "Bearer", "X-ScannerAdapter-API-Key"];

fn registries_of(m: &scanner::Model) -> Vec<String> {
    serde_json::from_str(&m.registries).unwrap_or_default()
}

/// The adapter's base URL, checked: http(s), no query or fragment, no trailing slash.
fn check_url(url: &str) -> Result<String> {
    let parsed = url::Url::parse(url).map_err(|e| ApiError::invalid("url", e.to_string()))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return Err(ApiError::invalid(
            "url",
            "must be an http:// or https:// URL",
        ));
    }
    if parsed.query().is_some() || parsed.fragment().is_some() || !parsed.username().is_empty() {
        return Err(ApiError::invalid(
            "url",
            "must have no query, fragment or user (the credential goes in access_credential)",
        ));
    }
    Ok(url.trim_end_matches('/').to_string())
}

fn builtin() -> ScannerProto {
    ScannerProto {
        name: BUILTIN.into(),
        builtin: true,
        scanner_name: "Berth".into(),
        vendor: "Berth".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        health: "healthy".into(),
        ..Default::default()
    }
}

impl Scanning {
    fn adapter(&self, m: &scanner::Model) -> Result<Adapter> {
        let credential = if m.credential.is_empty() {
            String::new()
        } else {
            let secrets = self.secrets.as_ref().ok_or_else(|| {
                ApiError::failed_precondition(
                    "the scan service has no secret key (BERTH_SECRET_KEY) to open scanner \
                     credentials with",
                )
            })?;
            secrets.open(&m.credential).map_err(|_| {
                ApiError::failed_precondition(format!(
                    "the credential of scanner {:?} was sealed with another key",
                    m.name
                ))
            })?
        };
        Ok(Adapter::new(&m.name, &m.url, &m.auth, &credential))
    }

    /// The scanner as the API shows it, with what its adapter says of itself now.
    async fn described(&self, m: &scanner::Model) -> ScannerProto {
        let mut out = ScannerProto {
            name: m.name.clone(),
            url: m.url.clone(),
            auth: m.auth.clone(),
            has_credential: !m.credential.is_empty(),
            registries: registries_of(m),
            created_at: Some(crate::scans::timestamp(m.created_at)),
            ..Default::default()
        };
        let metadata = match self.adapter(m) {
            Ok(a) => a.metadata().await,
            Err(e) => Err(e.message),
        };
        match metadata {
            Ok(md) => {
                out.scanner_name = md.scanner.name;
                out.vendor = md.scanner.vendor;
                out.version = md.scanner.version;
                out.health = "healthy".into();
            }
            Err(e) => out.health = e,
        }
        out
    }

    pub async fn create_scanner(&self, s: ScannerProto) -> Result<ScannerProto> {
        berth_error::validate::dns_label(&s.name).map_err(|m| ApiError::invalid("name", m))?;
        if s.name == BUILTIN {
            return Err(ApiError::invalid(
                "name",
                format!("{BUILTIN:?} is the built-in scanner"),
            ));
        }
        let url = check_url(&s.url)?;
        if !AUTHS.contains(&s.auth.as_str()) {
            return Err(ApiError::invalid(
                "auth",
                format!("must be one of {AUTHS:?}, not {:?}", s.auth),
            ));
        }
        match (s.auth.is_empty(), s.access_credential.is_empty()) {
            (false, true) => {
                return Err(ApiError::invalid(
                    "access_credential",
                    format!("is required with auth {:?}", s.auth),
                ))
            }
            (true, false) => {
                return Err(ApiError::invalid(
                    "auth",
                    "is required with an access_credential",
                ))
            }
            _ => {}
        }
        if s.registries.is_empty() {
            return Err(ApiError::invalid(
                "registries",
                "name at least one registry whose artifacts it scans",
            ));
        }
        let existing = scanner::Entity::find()
            .all(&self.db)
            .await
            .map_err(db_error)?;
        if existing.iter().any(|m| m.name == s.name) {
            return Err(ApiError::already_exists(
                "name",
                format!("scanner {:?} exists", s.name),
            ));
        }
        for (i, r) in s.registries.iter().enumerate() {
            berth_error::validate::dns_label(r)
                .map_err(|m| ApiError::invalid(format!("registries[{i}]"), m))?;
            // An unknown registry is NotFound.
            self.clients.get(r).await?;
            if let Some(other) = existing.iter().find(|m| registries_of(m).contains(r)) {
                return Err(ApiError::already_exists(
                    format!("registries[{i}]"),
                    format!("registry {r:?} is scanned by {:?} already", other.name),
                ));
            }
        }
        let credential = if s.access_credential.is_empty() {
            String::new()
        } else {
            self.secrets
                .as_ref()
                .ok_or_else(|| {
                    ApiError::failed_precondition(
                        "the scan service has no secret key (BERTH_SECRET_KEY) to seal the \
                         credential with",
                    )
                })?
                .seal(&s.access_credential)
        };
        let row = scanner::Model {
            name: s.name.clone(),
            url,
            auth: s.auth.clone(),
            credential,
            registries: serde_json::to_string(&s.registries).expect("serializes"),
            created_at: Utc::now(),
        };
        // The adapter must answer now, and produce vulnerability reports.
        let metadata =
            self.adapter(&row)?.metadata().await.map_err(|e| {
                ApiError::invalid("url", format!("the adapter did not answer: {e}"))
            })?;
        if !metadata.reports_vulnerabilities() {
            return Err(ApiError::invalid(
                "url",
                "the adapter produces no vulnerability report Berth reads \
                 (application/vnd.security.vulnerability.report; version=1.1)",
            ));
        }
        scanner::ActiveModel {
            name: Set(row.name.clone()),
            url: Set(row.url.clone()),
            auth: Set(row.auth.clone()),
            credential: Set(row.credential.clone()),
            registries: Set(row.registries.clone()),
            created_at: Set(row.created_at),
        }
        .insert(&self.db)
        .await
        .map_err(db_error)?;
        tracing::info!(scanner = %row.name, registries = ?s.registries, "external scanner registered");
        Ok(self.described(&row).await)
    }

    pub async fn list_scanners(&self) -> Result<Vec<ScannerProto>> {
        let rows = scanner::Entity::find()
            .all(&self.db)
            .await
            .map_err(db_error)?;
        let mut out = vec![builtin()];
        out.extend(futures::future::join_all(rows.iter().map(|m| self.described(m))).await);
        Ok(out)
    }

    pub async fn get_scanner(&self, name: &str) -> Result<ScannerProto> {
        if name == BUILTIN {
            return Ok(builtin());
        }
        let m = scanner::Entity::find_by_id(name)
            .one(&self.db)
            .await
            .map_err(db_error)?
            .ok_or_else(|| ApiError::not_found(format!("scanner {name:?} not found")))?;
        Ok(self.described(&m).await)
    }

    pub async fn delete_scanner(&self, name: &str) -> Result<()> {
        if name == BUILTIN {
            return Err(ApiError::failed_precondition(
                "the built-in scanner cannot be removed",
            ));
        }
        let gone = scanner::Entity::delete_by_id(name)
            .exec(&self.db)
            .await
            .map_err(db_error)?;
        if gone.rows_affected == 0 {
            return Err(ApiError::not_found(format!("scanner {name:?} not found")));
        }
        Ok(())
    }

    /// The external scanner registration `registry` is assigned to, if any.
    async fn registration_for(&self, registry: &str) -> Result<Option<scanner::Model>> {
        Ok(scanner::Entity::find()
            .all(&self.db)
            .await
            .map_err(db_error)?
            .into_iter()
            .find(|m| registries_of(m).iter().any(|r| r == registry)))
    }

    /// The name of the scanner that judges `registry`'s artifacts (`berth` unless an external
    /// one is assigned to it); no credential is opened for it.
    pub(crate) async fn scanner_name(&self, registry: &str) -> Result<String> {
        Ok(self
            .registration_for(registry)
            .await?
            .map_or_else(|| BUILTIN.to_string(), |m| m.name))
    }

    /// Who judges `registry`'s artifacts, and the key of `digest`'s report by it.
    pub(crate) async fn report_key(
        &self,
        registry: &str,
        digest: &str,
    ) -> Result<(String, String)> {
        let scanner = self.scanner_name(registry).await?;
        let key = crate::reports::key(&scanner, digest);
        Ok((scanner, key))
    }

    /// The external scanner assigned to `registry`, if any, ready to call.
    pub(crate) async fn scanner_for(&self, registry: &str) -> Result<Option<Adapter>> {
        self.registration_for(registry)
            .await?
            .map(|m| self.adapter(&m))
            .transpose()
    }
}
