//! Reading an artifact's inventory from its registry: the manifest (an index is read per
//! platform), then each layer streamed once through [`crate::inventory::layer::fetch`], unless
//! the layer store already knows it: a base layer shared by a thousand images is read once.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::inventory::layer::{self, LayerError};
use crate::inventory::{Image, Layer};

/// Where layers already read are kept, by digest: the service's tables, or memory in tests.
#[async_trait::async_trait]
pub trait Layers: Send + Sync {
    /// What layer `digest` holds, if it was read before.
    async fn known(&self, digest: &str) -> anyhow::Result<Option<Arc<Layer>>>;
    /// Keeps what layer `digest` (of `bytes` compressed bytes) holds.
    async fn keep(&self, digest: &str, layer: Layer, bytes: u64) -> anyhow::Result<Arc<Layer>>;
    /// One read of a layer at a time in this process: the second scan of a shared base layer
    /// waits for the first and finds it known.
    fn flights(&self) -> &Flights;
}

/// Per-digest locks, dropped when no scan holds them.
#[derive(Default)]
pub struct Flights(Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>);

impl Flights {
    async fn lock(&self, digest: &str) -> FlightGuard<'_> {
        let m = self
            .0
            .lock()
            .expect("flights")
            .entry(digest.to_string())
            .or_default()
            .clone();
        FlightGuard {
            guard: Some(m.lock_owned().await),
            flights: self,
            digest: digest.to_string(),
        }
    }
}

struct FlightGuard<'a> {
    guard: Option<tokio::sync::OwnedMutexGuard<()>>,
    flights: &'a Flights,
    digest: String,
}

impl Drop for FlightGuard<'_> {
    fn drop(&mut self) {
        self.guard.take();
        let mut map = self.flights.0.lock().expect("flights");
        if map
            .get(&self.digest)
            .is_some_and(|m| Arc::strong_count(m) == 1)
        {
            map.remove(&self.digest);
        }
    }
}

/// Layers in memory (tests, benchmarks).
#[derive(Default)]
pub struct LayerStore {
    known: Mutex<HashMap<String, Arc<Layer>>>,
    flights: Flights,
    /// Layers read from a registry (not found in the store).
    read: std::sync::atomic::AtomicU64,
}

impl LayerStore {
    /// How many layers were read from a registry.
    pub fn reads(&self) -> u64 {
        self.read.load(std::sync::atomic::Ordering::Relaxed)
    }
}

#[async_trait::async_trait]
impl Layers for LayerStore {
    async fn known(&self, digest: &str) -> anyhow::Result<Option<Arc<Layer>>> {
        Ok(self.known.lock().expect("layer store").get(digest).cloned())
    }

    async fn keep(&self, digest: &str, layer: Layer, _bytes: u64) -> anyhow::Result<Arc<Layer>> {
        self.read.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let layer = Arc::new(layer);
        self.known
            .lock()
            .expect("layer store")
            .insert(digest.to_string(), layer.clone());
        Ok(layer)
    }

    fn flights(&self) -> &Flights {
        &self.flights
    }
}

/// One platform of an artifact and what it holds.
#[derive(Debug, Clone)]
pub struct Platform {
    /// `os/arch[/variant]`; empty for a single-platform image whose config names none.
    pub platform: String,
    /// The image manifest's digest.
    pub digest: String,
    pub layers: Vec<String>,
    pub image: Image,
}

#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    #[error(transparent)]
    Registry(#[from] berth_oci::OciError),
    #[error(transparent)]
    Layer(#[from] LayerError),
    #[error("{0}")]
    Unsupported(String),
    #[error("layer store: {0}")]
    Store(String),
}

/// What a scan read: the platforms, and how many layers it read or found known.
#[derive(Debug, Clone, Default)]
pub struct Scanned {
    /// The artifact's own digest (an index's, for a multi-platform image).
    pub digest: String,
    pub platforms: Vec<Platform>,
    pub layers_read: u64,
    pub layers_known: u64,
    /// Compressed bytes read from the registry.
    pub bytes_read: u64,
}

/// The inventory of `repository@reference` (a tag or a digest), one entry per platform.
pub async fn scan(
    client: &berth_oci::Client,
    repository: &str,
    reference: &str,
    store: &dyn Layers,
) -> Result<Scanned, ScanError> {
    let top = client.manifest(repository, reference).await?;
    let mut scanned = Scanned {
        digest: top.digest.clone(),
        ..Default::default()
    };
    let manifests = if top.is_index() {
        let mut out = Vec::new();
        let mut seen = std::collections::HashSet::from([top.digest.clone()]);
        images_of(client, repository, &top, "", 1, &mut seen, &mut out).await?;
        out
    } else {
        vec![(String::new(), top)]
    };
    if manifests.is_empty() {
        return Err(ScanError::Unsupported(
            "the index names no image for a platform".into(),
        ));
    }
    for (platform, manifest) in manifests {
        // The first blob is the config; the rest are the layers, bottom first.
        let layers: Vec<String> = manifest
            .blobs()
            .into_iter()
            .skip(1)
            .map(|d| d.digest)
            .collect();
        let mut read = Vec::with_capacity(layers.len());
        for digest in &layers {
            let layer = layer_of(client, repository, digest, store, &mut scanned).await?;
            read.push((digest.clone(), layer));
        }
        // Composing layers is CPU work (an image of many files and whiteouts): off the runtime.
        let image = tokio::task::spawn_blocking(move || {
            Image::from_layers(read.iter().map(|(d, l)| (d.as_str(), l.as_ref())))
        })
        .await
        .map_err(|e| ScanError::Store(format!("composing the image: {e}")))?;
        scanned.platforms.push(Platform {
            platform,
            digest: manifest.digest.clone(),
            layers,
            image,
        });
    }
    Ok(scanned)
}

/// How deep indexes may nest (an index of indexes is followed by runtimes such as containerd).
pub(crate) const MAX_NESTING: usize = 4;

/// The images of `index`, each with its platform, into `out`: a child that is itself an index
/// is followed (its images take their own platform, else the one its parent names for it), so
/// no image a runtime may pick is left out of the report. Nesting deeper than
/// [`MAX_NESTING`] is unsupported, not skipped.
fn images_of<'a>(
    client: &'a berth_oci::Client,
    repository: &'a str,
    index: &'a berth_oci::Manifest,
    inherited: &'a str,
    depth: usize,
    seen: &'a mut std::collections::HashSet<String>,
    out: &'a mut Vec<(String, berth_oci::Manifest)>,
) -> futures::future::BoxFuture<'a, Result<(), ScanError>> {
    Box::pin(async move {
        for child in index.children() {
            // Attestations are `unknown/unknown`: not images to run. An entry that names no
            // platform at all is an image a runtime may still pick: it is scanned.
            let platform = child
                .platform
                .clone()
                .filter(|p| !p.is_empty())
                .unwrap_or_else(|| inherited.to_string());
            if platform == "unknown/unknown" || !seen.insert(child.digest.clone()) {
                continue;
            }
            let m = client.manifest(repository, &child.digest).await?;
            if !m.is_index() {
                out.push((platform, m));
            } else if depth >= MAX_NESTING {
                return Err(ScanError::Unsupported(format!(
                    "indexes nested more than {MAX_NESTING} deep"
                )));
            } else {
                images_of(client, repository, &m, &platform, depth + 1, seen, out).await?;
            }
        }
        Ok(())
    })
}

/// What layer `digest` holds: known, or read once (waiting for a read of it in flight).
async fn layer_of(
    client: &berth_oci::Client,
    repository: &str,
    digest: &str,
    store: &dyn Layers,
    scanned: &mut Scanned,
) -> Result<Arc<Layer>, ScanError> {
    let store_error = |e: anyhow::Error| ScanError::Store(e.to_string());
    if let Some(l) = store.known(digest).await.map_err(store_error)? {
        scanned.layers_known += 1;
        return Ok(l);
    }
    let _flight = store.flights().lock(digest).await;
    if let Some(l) = store.known(digest).await.map_err(store_error)? {
        scanned.layers_known += 1;
        return Ok(l);
    }
    let (l, bytes) = layer::fetch(client, repository, digest).await?;
    scanned.layers_read += 1;
    scanned.bytes_read += bytes;
    store.keep(digest, l, bytes).await.map_err(store_error)
}
