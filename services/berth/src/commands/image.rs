//! `berth image import FILE --to REGISTRY/SPACE/REPO:TAG`: streams an image archive to the
//! gateway with a progress bar; the file is never read whole into memory.

use anyhow::{bail, Context};
use clap::Subcommand;
use indicatif::{ProgressBar, ProgressStyle};
use tokio::io::AsyncReadExt;

use super::segment;
use crate::client::Client;
use crate::output::{print, Format};

#[derive(Subcommand)]
pub enum ImageCommand {
    /// Import a `docker save` tarball or an OCI image layout (tar or tar.gz).
    Import {
        /// The archive file.
        file: std::path::PathBuf,
        /// REGISTRY/SPACE/REPO:TAG.
        #[arg(long)]
        to: String,
    },
}

/// Splits `REGISTRY/SPACE/REPO:TAG` (tag defaults to `latest`).
pub fn parse_target(to: &str) -> anyhow::Result<(String, String, String)> {
    let Some((registry, rest)) = to.split_once('/') else {
        bail!("--to must be REGISTRY/SPACE/REPO:TAG, not {to:?}");
    };
    let (repo, tag) = match rest.rsplit_once(':') {
        Some((r, t)) if !t.contains('/') => (r, t),
        _ => (rest, "latest"),
    };
    if registry.is_empty() || repo.is_empty() || tag.is_empty() {
        bail!("--to must be REGISTRY/SPACE/REPO:TAG, not {to:?}");
    }
    Ok((registry.into(), repo.into(), tag.into()))
}

pub async fn run(client: &Client, format: Format, cmd: ImageCommand) -> anyhow::Result<()> {
    let ImageCommand::Import { file, to } = cmd;
    let (registry, repo, tag) = parse_target(&to)?;
    let f = tokio::fs::File::open(&file)
        .await
        .with_context(|| format!("cannot open {}", file.display()))?;
    let size = f.metadata().await?.len();
    let bar = ProgressBar::new(size);
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} [{bar:30}] {bytes}/{total_bytes} · {bytes_per_sec} · ETA {eta}",
        )
        .expect("progress template")
        .progress_chars("=> "),
    );
    let progress = bar.clone();
    let body = futures::stream::unfold(f, move |mut f| {
        let progress = progress.clone();
        async move {
            let mut buf = vec![0u8; 256 * 1024];
            match f.read(&mut buf).await {
                Ok(0) => None,
                Ok(n) => {
                    buf.truncate(n);
                    progress.inc(n as u64);
                    Some((Ok::<Vec<u8>, std::io::Error>(buf), f))
                }
                Err(e) => Some((Err(e), f)),
            }
        }
    });
    let path = format!(
        "/api/v1/registries/{}/import?repository={}&tag={}",
        segment(&registry),
        segment(&repo),
        segment(&tag)
    );
    let result = client.upload(&path, reqwest::Body::wrap_stream(body)).await;
    bar.finish_and_clear();
    let value = result?;
    print(
        format,
        &value,
        &[
            ("REPOSITORY", "/repository"),
            ("TAG", "/tag"),
            ("DIGEST", "/digest"),
            ("BLOBS", "/blobs"),
            ("BYTES", "/bytes"),
        ],
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::parse_target;

    #[test]
    fn targets_split_into_registry_repository_and_tag() {
        assert_eq!(
            parse_target("dst/team/app:v1").unwrap(),
            ("dst".into(), "team/app".into(), "v1".into())
        );
        assert_eq!(
            parse_target("dst/team/app").unwrap(),
            ("dst".into(), "team/app".into(), "latest".into())
        );
        assert!(parse_target("dst").is_err());
        assert!(parse_target("dst/:v1").is_err());
    }
}
