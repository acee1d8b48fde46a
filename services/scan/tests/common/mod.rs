//! What the scanner's real-data tests share: an image pushed with skopeo to a fresh real
//! docker-registry and scanned there, as the service scans it.

use berth_scan::scanner::{scan, LayerStore, Platform};
use berth_testkit::image::{push_image, Image, Target};
use berth_testkit::registry::{DockerRegistry, RegistryOptions};

/// `image` pushed to a new docker-registry as `repository:tag` and scanned from it: its
/// platforms, and the registry (kept running while the caller holds it).
pub async fn push_and_scan(
    image: &Image,
    repository: &str,
    tag: &str,
) -> (DockerRegistry, Vec<Platform>) {
    let registry = DockerRegistry::start(RegistryOptions::default())
        .await
        .unwrap();
    let target = Target {
        host: registry.host(),
        credential: None,
    };
    push_image(image, &target, repository, tag).await.unwrap();
    let client = berth_oci::Client::new(&registry.url(), None, Default::default()).unwrap();
    let platforms = scan(&client, repository, tag, &LayerStore::default())
        .await
        .unwrap()
        .platforms;
    (registry, platforms)
}
