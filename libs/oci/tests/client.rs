//! The OCI client against a real docker-registry: paging, streamed blob copy, mount, manifest
//! put and verification, digest rejection, referrers through the tag-schema fallback, auth.

use berth_oci::{Client, ClientOptions, Credential, OciError};
use berth_testkit::image::{push_image, Image, Target};
use berth_testkit::registry::{DockerRegistry, RegistryOptions};
use bytes::Bytes;
use futures::stream;

const USER: &str = "oci";
const PASSWORD: &str = "oci-client-password";

async fn setup() -> (DockerRegistry, Client, Image) {
    let reg = DockerRegistry::start(RegistryOptions {
        htpasswd: Some((USER.into(), PASSWORD.into())),
        ..Default::default()
    })
    .await
    .unwrap();
    let image = Image::new(&[(31, 50_000), (32, 20_000)], "amd64");
    let target = Target {
        host: reg.host(),
        credential: Some((USER.into(), PASSWORD.into())),
    };
    for repo in ["src/app", "src/other", "a", "b", "c"] {
        push_image(&image, &target, repo, "v1").await.unwrap();
    }
    let cred = Credential {
        username: USER.into(),
        password: PASSWORD.into(),
    };
    let client = Client::new(&reg.url(), Some(cred), ClientOptions::default()).unwrap();
    (reg, client, image)
}

fn one_chunk(bytes: Vec<u8>) -> berth_oci::BlobStream {
    Box::pin(stream::iter(vec![Ok(Bytes::from(bytes))]))
}

#[tokio::test]
async fn lists_with_link_pagination_and_checks_credentials() {
    let (reg, client, _) = setup().await;
    client.ping().await.unwrap();
    let (first, next) = client.catalog_page(None, 2).await.unwrap();
    assert_eq!(first, vec!["a", "b"]);
    let next = next.expect("a Link to the next page");
    let (second, _) = client.catalog_page(Some(&next), 2).await.unwrap();
    assert_eq!(second, vec!["c", "src/app"]);
    assert_eq!(client.catalog().await.unwrap().len(), 5);
    assert_eq!(client.tags("src/app").await.unwrap(), vec!["v1"]);

    let wrong = Client::new(
        &reg.url(),
        Some(Credential {
            username: USER.into(),
            password: "bad".into(),
        }),
        ClientOptions::default(),
    )
    .unwrap();
    assert!(matches!(wrong.ping().await, Err(OciError::Unauthorized(_))));
    let anonymous = Client::new(&reg.url(), None, ClientOptions::default()).unwrap();
    assert!(matches!(
        anonymous.ping().await,
        Err(OciError::Unauthorized(_))
    ));
}

#[tokio::test]
async fn copies_blobs_as_streams_mounts_and_puts_manifests() {
    let (_reg, client, image) = setup().await;
    let m = client.manifest("src/app", "v1").await.unwrap();
    assert_eq!(m.digest, image.manifest.digest);
    let head = client
        .head_manifest("src/app", "v1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(head.digest, image.manifest.digest);
    assert_eq!(head.size, image.manifest.size());
    assert!(client
        .head_manifest("src/app", "missing")
        .await
        .unwrap()
        .is_none());

    // Streamed copy of every blob into a new repository, then the manifest.
    for b in m.blobs() {
        assert!(client
            .head_blob("dst/app", &b.digest)
            .await
            .unwrap()
            .is_none());
        let (len, body) = client.get_blob("src/app", &b.digest).await.unwrap();
        assert_eq!(len, Some(b.size));
        client
            .put_blob("dst/app", &b.digest, b.size, body)
            .await
            .unwrap();
        assert_eq!(
            client.head_blob("dst/app", &b.digest).await.unwrap(),
            Some(b.size)
        );
    }
    let digest = client
        .put_manifest(
            "dst/app",
            "copied",
            &m.media_type,
            Bytes::from(m.bytes.clone()),
        )
        .await
        .unwrap();
    assert_eq!(digest, image.manifest.digest);
    assert_eq!(
        client.manifest("dst/app", "copied").await.unwrap().digest,
        image.manifest.digest
    );

    // Cross-repository mount.
    let layer = &image.layers[0];
    let mounted = client
        .mount_blob("mounted/app", &layer.digest, "src/app")
        .await
        .unwrap();
    assert_eq!(mounted, berth_oci::Mount::Mounted);
    assert_eq!(
        client
            .head_blob("mounted/app", &layer.digest)
            .await
            .unwrap(),
        Some(layer.size())
    );

    // Content that does not match its digest is refused and not stored.
    let fake = format!("sha256:{}", "0".repeat(64));
    let err = client
        .put_blob("dst/app", &fake, 5, one_chunk(b"hello".to_vec()))
        .await
        .unwrap_err();
    assert!(matches!(err, OciError::DigestMismatch { .. }), "{err:?}");
    assert!(client.head_blob("dst/app", &fake).await.unwrap().is_none());
}

#[tokio::test]
async fn finds_referrers_through_the_tag_schema_fallback() {
    let (_reg, client, image) = setup().await;
    // A signature artifact whose subject is the image.
    let empty = b"{}".to_vec();
    let empty_digest = berth_oci::sha256_digest(&empty);
    client
        .put_blob(
            "src/app",
            &empty_digest,
            empty.len() as u64,
            one_chunk(empty.clone()),
        )
        .await
        .unwrap();
    let sig = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "artifactType": "application/vnd.example.signature",
        "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": empty_digest, "size": 2},
        "layers": [{"mediaType": "application/vnd.oci.empty.v1+json", "digest": empty_digest, "size": 2}],
        "subject": {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": image.manifest.digest, "size": image.manifest.size()},
    });
    let sig = serde_json::to_vec(&sig).unwrap();
    let sig_digest = berth_oci::sha256_digest(&sig);
    client
        .put_manifest(
            "src/app",
            &sig_digest,
            "application/vnd.oci.image.manifest.v1+json",
            Bytes::from(sig.clone()),
        )
        .await
        .unwrap();
    assert!(
        client
            .referrers("src/app", &image.manifest.digest)
            .await
            .unwrap()
            .is_empty(),
        "no referrers index yet"
    );
    // The tag-schema fallback: an index tagged sha256-<hex> of the subject lists its referrers.
    let index = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": sig_digest, "size": sig.len(), "artifactType": "application/vnd.example.signature"}],
    });
    let tag = image.manifest.digest.replace(':', "-");
    client
        .put_manifest(
            "src/app",
            &tag,
            "application/vnd.oci.image.index.v1+json",
            Bytes::from(serde_json::to_vec(&index).unwrap()),
        )
        .await
        .unwrap();
    let refs = client
        .referrers("src/app", &image.manifest.digest)
        .await
        .unwrap();
    assert_eq!(refs.len(), 1);
    assert_eq!(refs[0].digest, sig_digest);
    assert_eq!(
        refs[0].artifact_type.as_deref(),
        Some("application/vnd.example.signature")
    );
    let fetched = client.manifest("src/app", &sig_digest).await.unwrap();
    assert_eq!(fetched.subject().unwrap().digest, image.manifest.digest);
}

/// A blob transfer lasts as long as its size needs over a slow link: the request limit bounds
/// the other requests, not a download (an idle connection is still cut by the read timeout).
#[tokio::test]
async fn a_slow_blob_download_outlasts_the_request_limit() {
    let registry = DockerRegistry::start(RegistryOptions::default())
        .await
        .unwrap();
    let image = Image::new(&[(11, 3 << 20)], "amd64");
    let target = Target {
        host: registry.host(),
        credential: None,
    };
    push_image(&image, &target, "slow/app", "v1").await.unwrap();
    let proxy =
        berth_testkit::proxy::TcpProxy::start(registry.host().parse().expect("a loopback address"))
            .await
            .unwrap();
    let client = Client::new(
        &format!("http://127.0.0.1:{}", proxy.port),
        None,
        ClientOptions {
            request_timeout: std::time::Duration::from_secs(1),
            ..Default::default()
        },
    )
    .unwrap();
    // About 3 s for the layer at 1 MiB/s: three times the request limit.
    proxy.throttle(1 << 20);
    let layer = &image.layers[0];
    let (_, stream) = client.get_blob("slow/app", &layer.digest).await.unwrap();
    let bytes: Vec<Bytes> = futures::TryStreamExt::try_collect(stream).await.unwrap();
    assert_eq!(
        bytes.iter().map(|b| b.len()).sum::<usize>(),
        layer.bytes.len()
    );
}
