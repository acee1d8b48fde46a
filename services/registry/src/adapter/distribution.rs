//! Distribution and generic OCI registries, read through the Distribution API.
//!
//! Spaces are first path segments. Storage is computed by walking every tag: each distinct
//! blob (configs and layers, of index children too) once, plus each distinct manifest once.
//! Manifests are fetched by digest only the first time a digest is seen.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use berth_oci::{Client, Manifest, OciError};
use berth_proto::v1::{Artifact, Overview, Repository};
use futures::{stream, StreamExt, TryStreamExt};

use super::{space_of, Adapter, Page, Spaces};

const CONCURRENCY: usize = 16;

/// What one manifest digest contributes: its own size, and the blobs and child manifests under it.
#[derive(Debug, Clone, Default)]
struct Footprint {
    media_type: String,
    manifests: HashMap<String, u64>,
    blobs: HashMap<String, u64>,
    platforms: Vec<String>,
}

#[derive(Clone)]
pub struct Distribution {
    client: Client,
    footprints: Arc<Mutex<HashMap<String, Arc<Footprint>>>>,
}

impl Distribution {
    pub fn new(client: Client) -> Self {
        Self {
            client,
            footprints: Arc::default(),
        }
    }

    /// The footprint of `digest` in `repo`, fetched once per digest.
    async fn footprint(&self, repo: &str, digest: &str) -> Result<Arc<Footprint>, OciError> {
        if let Some(f) = self.footprints.lock().expect("footprint lock").get(digest) {
            return Ok(f.clone());
        }
        let top = self.client.manifest(repo, digest).await?;
        let mut f = Footprint {
            media_type: top.media_type.clone(),
            ..Default::default()
        };
        f.manifests
            .insert(top.digest.clone(), top.bytes.len() as u64);
        add_image(&mut f, &top);
        let children = top.children();
        let digests: Vec<String> = children.iter().map(|c| c.digest.clone()).collect();
        let (client, repo_name) = (self.client.clone(), repo.to_string());
        let fetched: Vec<Manifest> = stream::iter(digests)
            .map(move |digest| {
                let (client, repo) = (client.clone(), repo_name.clone());
                async move { client.manifest(&repo, &digest).await }
            })
            .buffer_unordered(CONCURRENCY)
            .try_collect()
            .await?;
        for (child, m) in children.iter().zip(order_like(&children, fetched)) {
            f.manifests.insert(m.digest.clone(), m.bytes.len() as u64);
            add_image(&mut f, &m);
            if let Some(p) = &child.platform {
                f.platforms.push(p.clone());
            }
        }
        let f = Arc::new(f);
        self.footprints
            .lock()
            .expect("footprint lock")
            .insert(digest.to_string(), f.clone());
        Ok(f)
    }

    /// Tags of `repo` grouped by the digest they point at.
    async fn tagged_digests(&self, repo: &str) -> Result<Vec<(String, Vec<String>)>, OciError> {
        let tags = self.client.tags(repo).await?;
        let (client, repo_name) = (self.client.clone(), repo.to_string());
        let heads: Vec<(String, Option<String>)> = stream::iter(tags)
            .map(move |tag| {
                let (client, repo) = (client.clone(), repo_name.clone());
                async move {
                    let d = client.head_manifest(&repo, &tag).await?;
                    Ok::<_, OciError>((tag, d.map(|d| d.digest).filter(|d| !d.is_empty())))
                }
            })
            .buffer_unordered(CONCURRENCY)
            .try_collect()
            .await?;
        let mut by_digest: HashMap<String, Vec<String>> = HashMap::new();
        for (tag, digest) in heads {
            let digest = match digest {
                Some(d) => d,
                // Some registries omit the digest on HEAD; fall back to GET.
                None => self.client.manifest(repo, &tag).await?.digest,
            };
            by_digest.entry(digest).or_default().push(tag);
        }
        let mut out: Vec<_> = by_digest.into_iter().collect();
        for (_, tags) in out.iter_mut() {
            tags.sort();
        }
        out.sort_by(|a, b| a.1.first().cmp(&b.1.first()));
        Ok(out)
    }
}

fn add_image(f: &mut Footprint, m: &Manifest) {
    for b in m.blobs() {
        f.blobs.insert(b.digest, b.size);
    }
}

/// `buffer_unordered` loses order; put fetched manifests back in the order of `children`.
fn order_like(children: &[berth_oci::Descriptor], mut fetched: Vec<Manifest>) -> Vec<Manifest> {
    let mut out = Vec::with_capacity(children.len());
    for c in children {
        if let Some(i) = fetched.iter().position(|m| m.digest == c.digest) {
            out.push(fetched.swap_remove(i));
        }
    }
    out
}

#[async_trait::async_trait]
impl Adapter for Distribution {
    async fn ping(&self) -> Result<(), OciError> {
        self.client.ping().await
    }

    async fn overview(&self, spaces: &Spaces) -> Result<Overview, OciError> {
        let mut repos = self.client.catalog().await?;
        repos.retain(|r| spaces.admits(r));
        let this = self.clone();
        let per_repo: Vec<(String, Vec<Arc<Footprint>>)> = stream::iter(repos)
            .map(move |repo| {
                let this = this.clone();
                async move {
                    let tagged = match this.tagged_digests(&repo).await {
                        Ok(t) => t,
                        // Listed but emptied (all tags deleted): not a repository any more.
                        Err(OciError::NotFound(_)) => Vec::new(),
                        Err(e) => return Err(e),
                    };
                    let mut fps = Vec::new();
                    for (digest, _) in &tagged {
                        fps.push(this.footprint(&repo, digest).await?);
                    }
                    Ok::<_, OciError>((repo, fps))
                }
            })
            .buffer_unordered(CONCURRENCY)
            .try_collect()
            .await?;
        let mut manifests = HashMap::new();
        let mut blobs = HashMap::new();
        let mut spaces = BTreeSet::new();
        let (mut repositories, mut artifacts) = (0u64, 0u64);
        for (repo, fps) in per_repo {
            if fps.is_empty() {
                continue;
            }
            repositories += 1;
            artifacts += fps.len() as u64;
            if !space_of(&repo).is_empty() {
                spaces.insert(space_of(&repo).to_string());
            }
            for f in fps {
                manifests.extend(f.manifests.iter().map(|(k, v)| (k.clone(), *v)));
                blobs.extend(f.blobs.iter().map(|(k, v)| (k.clone(), *v)));
            }
        }
        Ok(Overview {
            spaces: spaces.len() as u64,
            repositories,
            artifacts,
            storage_bytes: manifests.values().sum::<u64>() + blobs.values().sum::<u64>(),
        })
    }

    async fn repositories(
        &self,
        space: &str,
        page_size: usize,
        page_token: &str,
    ) -> Result<Page<Repository>, OciError> {
        let mut names = self.client.catalog().await?;
        // Distribution orders its catalog by path component ("pub/app" before "pub-x/app");
        // the page cursor compares whole names, so page in plain string order.
        names.sort_unstable();
        names.retain(|r| space.is_empty() || space_of(r) == space);
        names.retain(|r| r.as_str() > page_token);
        let more = names.len() > page_size;
        names.truncate(page_size);
        let this = self.clone();
        let repos: Vec<Repository> = stream::iter(names)
            .map(move |name| {
                let this = this.clone();
                async move {
                    let count = match this.tagged_digests(&name).await {
                        Ok(t) => t.len() as u64,
                        Err(OciError::NotFound(_)) => 0,
                        Err(e) => return Err(e),
                    };
                    Ok(Repository {
                        space: space_of(&name).to_string(),
                        name,
                        artifact_count: count,
                    })
                }
            })
            .buffered(CONCURRENCY)
            .try_collect()
            .await?;
        let next = if more {
            repos.last().map(|r| r.name.clone()).unwrap_or_default()
        } else {
            String::new()
        };
        Ok((repos, next))
    }

    async fn artifacts(
        &self,
        repository: &str,
        page_size: usize,
        page_token: &str,
    ) -> Result<Page<Artifact>, OciError> {
        let tagged = self.tagged_digests(repository).await?;
        let start: usize = page_token.parse().unwrap_or(0);
        let page: Vec<_> = tagged.iter().skip(start).take(page_size).cloned().collect();
        let next = if start + page.len() < tagged.len() {
            (start + page.len()).to_string()
        } else {
            String::new()
        };
        let (this, repo_name) = (self.clone(), repository.to_string());
        let artifacts = stream::iter(page)
            .map(move |(digest, tags)| {
                let (this, repository) = (this.clone(), repo_name.clone());
                async move {
                    let f = this.footprint(&repository, &digest).await?;
                    Ok::<_, OciError>(Artifact {
                        digest,
                        media_type: f.media_type.clone(),
                        size: f.manifests.values().sum::<u64>() + f.blobs.values().sum::<u64>(),
                        tags,
                        platforms: f.platforms.clone(),
                        vulnerabilities: None,
                    })
                }
            })
            .buffered(CONCURRENCY)
            .try_collect()
            .await?;
        Ok((artifacts, next))
    }
}
