//! Reading an artifact's inventory from its registry: the manifest (an index is read per
//! platform), then each layer streamed once through [`crate::inventory::layer::fetch`], unless
//! the layer store already knows it: a base layer shared by a thousand images is read once.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::inventory::layer::{self, LayerError};
use crate::inventory::{Image, Layer};

/// Layers already read, by digest. (In memory for now; the service keeps them in its tables.)
#[derive(Default, Clone)]
pub struct LayerStore {
    known: Arc<Mutex<HashMap<String, Arc<Layer>>>>,
    /// Layers read from a registry (not found in the store), for the tests and metrics.
    read: Arc<std::sync::atomic::AtomicU64>,
}

impl LayerStore {
    pub fn get(&self, digest: &str) -> Option<Arc<Layer>> {
        self.known.lock().expect("layer store").get(digest).cloned()
    }

    pub fn put(&self, digest: &str, layer: Layer) -> Arc<Layer> {
        let layer = Arc::new(layer);
        self.known
            .lock()
            .expect("layer store")
            .insert(digest.to_string(), layer.clone());
        layer
    }

    /// How many layers were read from a registry.
    pub fn reads(&self) -> u64 {
        self.read.load(std::sync::atomic::Ordering::Relaxed)
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
}

/// The inventory of `repository@reference` (a tag or a digest), one entry per platform.
pub async fn scan(
    client: &berth_oci::Client,
    repository: &str,
    reference: &str,
    store: &LayerStore,
) -> Result<Vec<Platform>, ScanError> {
    let top = client.manifest(repository, reference).await?;
    let manifests = if top.is_index() {
        let mut out = Vec::new();
        for child in top.children() {
            // Attestations and other non-image entries of an index have no platform to run on.
            let Some(platform) = child.platform.clone().filter(|p| p != "unknown/unknown") else {
                continue;
            };
            let m = client.manifest(repository, &child.digest).await?;
            if !m.is_index() {
                out.push((platform, m));
            }
        }
        out
    } else {
        vec![(String::new(), top)]
    };
    if manifests.is_empty() {
        return Err(ScanError::Unsupported(
            "the index names no image for a platform".into(),
        ));
    }
    let mut platforms = Vec::new();
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
            let layer = match store.get(digest) {
                Some(l) => l,
                None => {
                    let (l, _) = layer::fetch(client, repository, digest).await?;
                    store
                        .read
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    store.put(digest, l)
                }
            };
            read.push((digest.clone(), layer));
        }
        let image = Image::from_layers(read.iter().map(|(d, l)| (d.as_str(), l.as_ref())));
        platforms.push(Platform {
            platform,
            digest: manifest.digest.clone(),
            layers,
            image,
        });
    }
    Ok(platforms)
}
