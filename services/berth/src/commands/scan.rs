//! Scanning: `berth scan IMAGE [--wait]`, `berth scan --all REGISTRY[/SPACE] [--wait]`,
//! `berth vulns IMAGE [--severity high]`,
//! `berth sbom IMAGE --format cyclonedx|spdx` and `berth vulndb status|import|build-debian`.
//! IMAGE is `REGISTRY/REPO:TAG` or `REGISTRY/REPO@sha256:…` (the registry's name in Berth).

use std::time::Duration;

use anyhow::{bail, Context};
use clap::{Args, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{json, Value};
use tokio::io::AsyncReadExt;

use super::{segment, Denied};
use crate::client::Client;
use crate::output::{print, structured, table, Format};

/// An image as the scan commands take it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef {
    pub registry: String,
    pub repository: String,
    /// A tag or a digest.
    pub reference: String,
}

/// Splits `REGISTRY/REPO:TAG` or `REGISTRY/REPO@DIGEST` (tag `latest` when none is given).
pub fn parse_image(image: &str) -> anyhow::Result<ImageRef> {
    let bad = || {
        anyhow::anyhow!("IMAGE must be REGISTRY/REPO:TAG or REGISTRY/REPO@sha256:…, not {image:?}")
    };
    let (registry, rest) = image.split_once('/').ok_or_else(bad)?;
    let (repository, reference) = if let Some((r, d)) = rest.split_once('@') {
        (r, d)
    } else {
        match rest.rsplit_once(':') {
            Some((r, t)) if !t.contains('/') => (r, t),
            _ => (rest, "latest"),
        }
    };
    if registry.is_empty() || repository.is_empty() || reference.is_empty() {
        return Err(bad());
    }
    Ok(ImageRef {
        registry: registry.into(),
        repository: repository.into(),
        reference: reference.into(),
    })
}

#[derive(Args)]
pub struct ScanArgs {
    /// REGISTRY/REPO:TAG or REGISTRY/REPO@sha256:…; with --all, REGISTRY or REGISTRY/SPACE.
    pub image: String,
    /// Scan every artifact of the registry (or the space): a sweep on the bulk queue.
    #[arg(long)]
    pub all: bool,
    /// Wait for the scan (or the sweep, with a progress bar) to end, and print its summary.
    #[arg(long)]
    pub wait: bool,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum Severity {
    Critical,
    High,
    Medium,
    Low,
}

#[derive(Args)]
pub struct VulnsArgs {
    /// REGISTRY/REPO:TAG or REGISTRY/REPO@sha256:….
    pub image: String,
    /// Only findings at or above this severity.
    #[arg(long, value_enum)]
    pub severity: Option<Severity>,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum SbomFormat {
    Cyclonedx,
    Spdx,
}

#[derive(Args)]
pub struct SbomArgs {
    /// REGISTRY/REPO:TAG or REGISTRY/REPO@sha256:….
    pub image: String,
    /// CycloneDX 1.6 JSON or SPDX 2.3 JSON.
    #[arg(long, value_enum, default_value_t = SbomFormat::Cyclonedx)]
    pub format: SbomFormat,
    /// For a multi-platform image: the platform (`linux/arm64`).
    #[arg(long)]
    pub platform: Option<String>,
}

#[derive(Subcommand)]
pub enum VulnDbCommand {
    /// Records, per ecosystem, last update and version.
    Status,
    /// Fetch the configured mirror's exports now (BERTH_VULNDB_MIRROR).
    Sync,
    /// Import an OSV export (`all.zip`), OSV JSON (a record or an array) or a Debian package.
    Import {
        /// The file; its kind is told by its extension (.zip, .json, .deb).
        file: std::path::PathBuf,
        /// For a Debian package: the Debian release its records are for (`12`), when its
        /// changelog does not say.
        #[arg(long)]
        release: Option<String>,
    },
    /// Build records from Debian packages' changelogs (`apt-get download PKG` makes them).
    BuildDebian {
        /// The `.deb` files.
        #[arg(required = true)]
        files: Vec<std::path::PathBuf>,
        /// The Debian release their records are for (`12`), when a changelog does not say.
        #[arg(long)]
        release: Option<String>,
    },
}

/// The digest `image` names now (a tag is looked up among the repository's artifacts).
async fn digest_of(client: &Client, image: &ImageRef) -> anyhow::Result<String> {
    if image.reference.starts_with("sha256:") {
        return Ok(image.reference.clone());
    }
    let mut token = String::new();
    loop {
        let mut path = format!(
            "/api/v1/registries/{}/repositories/{}/artifacts?page_size=500",
            segment(&image.registry),
            image.repository
        );
        if !token.is_empty() {
            path.push_str(&format!("&page_token={}", segment(&token)));
        }
        let page = client.get(&path).await?;
        for a in page["items"].as_array().into_iter().flatten() {
            if a["tags"]
                .as_array()
                .is_some_and(|t| t.iter().any(|t| t == image.reference.as_str()))
            {
                return Ok(a["digest"].as_str().unwrap_or_default().to_string());
            }
        }
        match page["next_page_token"].as_str() {
            Some(t) if !t.is_empty() => token = t.to_string(),
            _ => bail!(
                "{}/{}:{} not found",
                image.registry,
                image.repository,
                image.reference
            ),
        }
    }
}

fn artifact_path(image: &ImageRef, digest: &str, what: &str) -> String {
    format!(
        "/api/v1/registries/{}/repositories/{}/artifacts/{}/{what}",
        segment(&image.registry),
        image.repository,
        segment(digest)
    )
}

const SCAN_COLUMNS: &[(&str, &str)] = &[
    ("ID", "/id"),
    ("STATUS", "/status"),
    ("DIGEST", "/digest"),
    ("CRITICAL", "/summary/critical"),
    ("HIGH", "/summary/high"),
    ("MEDIUM", "/summary/medium"),
    ("LOW", "/summary/low"),
    ("ERROR", "/error"),
];

const SWEEP_COLUMNS: &[(&str, &str)] = &[
    ("ID", "/id"),
    ("STATUS", "/status"),
    ("ARTIFACTS", "/artifacts"),
    ("COMPLETE", "/complete"),
    ("FAILED", "/failed"),
    ("UNSUPPORTED", "/unsupported"),
    ("BYTES READ", "/bytes_read"),
    ("ERROR", "/error"),
];

/// `berth scan --all REGISTRY[/SPACE]`: a sweep, followed with a progress bar when waiting.
async fn sweep(client: &Client, format: Format, a: ScanArgs) -> anyhow::Result<()> {
    let (registry, space) = match a.image.split_once('/') {
        Some((r, s)) if !s.contains('/') => (r, Some(s)),
        Some(_) => bail!(
            "with --all, name REGISTRY or REGISTRY/SPACE, not {:?}",
            a.image
        ),
        None => (a.image.as_str(), None),
    };
    let body = json!({"registry": registry, "space": space});
    let mut sweep = client
        .call(reqwest::Method::POST, "/api/v1/scan-sweeps", Some(&body))
        .await?;
    if a.wait {
        let id = sweep["id"].as_str().unwrap_or_default().to_string();
        let bar = ProgressBar::new(0).with_style(
            ProgressStyle::with_template("{bar:30} {pos}/{len} artifacts · {msg} · {elapsed}")
                .expect("progress template"),
        );
        while matches!(sweep["status"].as_str(), Some("planning" | "running")) {
            tokio::time::sleep(Duration::from_millis(300)).await;
            sweep = client
                .get(&format!("/api/v1/scan-sweeps/{}", segment(&id)))
                .await?;
            let n = |k: &str| sweep[k].as_u64().unwrap_or(0);
            bar.set_length(n("artifacts"));
            bar.set_position(n("complete") + n("failed") + n("unsupported"));
            bar.set_message(format!(
                "{} · {} MB read",
                sweep["status"].as_str().unwrap_or_default(),
                n("bytes_read") / 1_000_000
            ));
        }
        bar.finish_and_clear();
    }
    print(format, &sweep, SWEEP_COLUMNS);
    if matches!(sweep["status"].as_str(), Some("failed")) {
        return Err(Denied.into());
    }
    Ok(())
}

pub async fn scan(client: &Client, format: Format, a: ScanArgs) -> anyhow::Result<()> {
    if a.all {
        return sweep(client, format, a).await;
    }
    let image = parse_image(&a.image)?;
    let body = json!({"registry": image.registry, "repository": image.repository, "reference": image.reference});
    let mut scan = client
        .call(reqwest::Method::POST, "/api/v1/scans", Some(&body))
        .await?;
    if a.wait {
        let id = scan["id"].as_str().unwrap_or_default().to_string();
        let bar = ProgressBar::new_spinner().with_style(
            ProgressStyle::with_template("{spinner} scanning {msg} · {elapsed}")
                .expect("progress template"),
        );
        bar.set_message(a.image.clone());
        bar.enable_steady_tick(Duration::from_millis(120));
        while matches!(scan["status"].as_str(), Some("queued" | "scanning")) {
            tokio::time::sleep(Duration::from_millis(300)).await;
            scan = client
                .get(&format!("/api/v1/scans/{}", segment(&id)))
                .await?;
            bar.set_message(format!(
                "{} ({}, {} layers read)",
                a.image,
                scan["status"].as_str().unwrap_or_default(),
                scan["layers_read"]
            ));
        }
        bar.finish_and_clear();
    }
    print(format, &scan, SCAN_COLUMNS);
    if matches!(scan["status"].as_str(), Some("failed")) {
        return Err(Denied.into());
    }
    Ok(())
}

pub async fn vulns(client: &Client, format: Format, a: VulnsArgs) -> anyhow::Result<()> {
    let image = parse_image(&a.image)?;
    let digest = digest_of(client, &image).await?;
    let mut path = artifact_path(&image, &digest, "vulnerabilities");
    if let Some(s) = a.severity {
        let s = s
            .to_possible_value()
            .expect("a value")
            .get_name()
            .to_string();
        path.push_str(&format!("?severity={s}"));
    }
    let report = client.get(&path).await?;
    if structured(format, &report).is_some() {
        return Ok(());
    }
    let rows = report["items"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|f| {
            let s = |k: &str| f[k].as_str().unwrap_or("").to_string();
            vec![
                s("id"),
                s("severity"),
                f["score"]
                    .as_f64()
                    .map(|x| format!("{x:.1}"))
                    .unwrap_or_default(),
                s("package"),
                s("installed"),
                s("fixed"),
                f["aliases"]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(Value::as_str)
                            .collect::<Vec<_>>()
                            .join(",")
                    })
                    .unwrap_or_default(),
            ]
        })
        .collect();
    table(
        &[
            "ID",
            "SEVERITY",
            "SCORE",
            "PACKAGE",
            "INSTALLED",
            "FIXED",
            "ALIASES",
        ],
        rows,
    );
    let n = |k: &str| report["summary"][k].as_u64().unwrap_or(0);
    println!(
        "\n{digest} · {} · critical {} · high {} · medium {} · low {} · unknown {}",
        report["status"].as_str().unwrap_or_default(),
        n("critical"),
        n("high"),
        n("medium"),
        n("low"),
        n("unknown")
    );
    Ok(())
}

pub async fn sbom(client: &Client, a: SbomArgs) -> anyhow::Result<()> {
    let image = parse_image(&a.image)?;
    let digest = digest_of(client, &image).await?;
    let format = match a.format {
        SbomFormat::Cyclonedx => "cyclonedx",
        SbomFormat::Spdx => "spdx",
    };
    let mut path = format!("{}?format={format}", artifact_path(&image, &digest, "sbom"));
    if let Some(p) = &a.platform {
        path.push_str(&format!("&platform={}", segment(p)));
    }
    let doc = client.get(&path).await?;
    println!("{}", serde_json::to_string_pretty(&doc)?);
    Ok(())
}

/// Uploads `file` to the import endpoint with a progress bar.
async fn import_file(
    client: &Client,
    file: &std::path::Path,
    release: Option<&str>,
    content_type: Option<&str>,
) -> anyhow::Result<Value> {
    let content_type = match content_type {
        Some(c) => c,
        None => match file.extension().and_then(|e| e.to_str()) {
            Some("zip") => "application/zip",
            Some("json") => "application/json",
            Some("deb") => "application/vnd.debian.binary-package",
            _ => bail!(
                "{}: the kind of file is told by its extension (.zip, .json or .deb)",
                file.display()
            ),
        },
    };
    let mut f = tokio::fs::File::open(file)
        .await
        .with_context(|| format!("cannot open {}", file.display()))?;
    let size = f.metadata().await?.len();
    let bar = ProgressBar::new(size).with_style(
        ProgressStyle::with_template("{spinner} [{bar:30}] {bytes}/{total_bytes} · {msg}")
            .expect("progress template")
            .progress_chars("=> "),
    );
    bar.set_message(file.display().to_string());
    let mut bytes = Vec::with_capacity(size as usize);
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = f.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        bytes.extend_from_slice(&buf[..n]);
        bar.inc(n as u64);
    }
    bar.set_message(format!("{}: importing", file.display()));
    let mut path = "/api/v1/vulndb/import".to_string();
    if let Some(r) = release {
        path.push_str(&format!("?release={}", segment(r)));
    }
    let result = client.upload_as(&path, content_type, bytes.into()).await;
    bar.finish_and_clear();
    result
}

pub async fn vulndb(client: &Client, format: Format, cmd: VulnDbCommand) -> anyhow::Result<()> {
    match cmd {
        VulnDbCommand::Sync => {
            let s = client
                .call(reqwest::Method::POST, "/api/v1/vulndb/sync", None)
                .await?;
            if structured(format, &s).is_some() {
                return Ok(());
            }
            let rows = s["sources"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|x| {
                    let f = |k: &str| x[k].as_str().unwrap_or("").to_string();
                    vec![f("url"), f("status"), x["imported"].to_string(), f("error")]
                })
                .collect();
            table(&["EXPORT", "STATUS", "IMPORTED", "ERROR"], rows);
            println!("database version {}", s["version"]);
        }
        VulnDbCommand::Status => {
            let s = client.get("/api/v1/vulndb").await?;
            if structured(format, &s).is_some() {
                return Ok(());
            }
            let rows = s["ecosystems"]
                .as_object()
                .into_iter()
                .flatten()
                .map(|(e, n)| vec![e.clone(), n.to_string()])
                .collect();
            table(&["ECOSYSTEM", "RECORDS"], rows);
            println!(
                "\n{} records · version {} · updated {}",
                s["records"],
                s["version"],
                s["updated_at"].as_str().unwrap_or("never")
            );
        }
        VulnDbCommand::Import { file, release } => {
            let r = import_file(client, &file, release.as_deref(), None).await?;
            print(
                format,
                &r,
                &[("IMPORTED", "/imported"), ("VERSION", "/version")],
            );
        }
        VulnDbCommand::BuildDebian { files, release } => {
            let mut rows = Vec::new();
            let mut total = 0;
            let mut version = Value::Null;
            for f in &files {
                let r = import_file(
                    client,
                    f,
                    release.as_deref(),
                    Some("application/vnd.debian.binary-package"),
                )
                .await?;
                total += r["imported"].as_u64().unwrap_or(0);
                version = r["version"].clone();
                rows.push(json!({"file": f.display().to_string(), "imported": r["imported"]}));
            }
            let value = json!({"items": rows, "imported": total, "version": version});
            print(
                format,
                &value,
                &[("FILE", "/file"), ("IMPORTED", "/imported")],
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_name_registry_repository_and_reference() {
        let d = format!("sha256:{}", "a".repeat(64));
        assert_eq!(
            parse_image("hub/team/app:v1").unwrap(),
            ImageRef {
                registry: "hub".into(),
                repository: "team/app".into(),
                reference: "v1".into()
            }
        );
        assert_eq!(
            parse_image(&format!("hub/team/app@{d}")).unwrap().reference,
            d
        );
        assert_eq!(parse_image("hub/team/app").unwrap().reference, "latest");
        assert!(parse_image("hub").is_err());
        assert!(parse_image("hub/:v1").is_err());
    }
}
