//! The OCI client against a hostile registry: what it answers is bounded before it is held.

use berth_oci::{Client, OciError};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A server answering every request with `head` and then `body_len` bytes of `{` padding,
/// declaring the length or not.
async fn hostile(body_len: usize, declare_length: bool) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = sock.read(&mut buf).await;
                let length = if declare_length {
                    format!("content-length: {body_len}\r\n")
                } else {
                    String::new()
                };
                let head = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/vnd.oci.image.manifest.v1+json\r\n\
                     docker-distribution-api-version: registry/2.0\r\n{length}connection: close\r\n\r\n"
                );
                if sock.write_all(head.as_bytes()).await.is_err() {
                    return;
                }
                let chunk = vec![b' '; 64 * 1024];
                let mut sent = 0;
                while sent < body_len {
                    let n = chunk.len().min(body_len - sent);
                    if sock.write_all(&chunk[..n]).await.is_err() {
                        return;
                    }
                    sent += n;
                }
            });
        }
    });
    format!("http://{addr}")
}

#[tokio::test]
async fn manifests_and_lists_larger_than_4_mib_are_refused_unread() {
    for declare_length in [true, false] {
        let url = hostile(64 * 1024 * 1024, declare_length).await;
        let client = Client::new(&url, None, Default::default()).unwrap();
        let started = std::time::Instant::now();
        for result in [
            client.manifest("a/b", "v1").await.map(|_| ()),
            client.tags("a/b").await.map(|_| ()),
            client.catalog().await.map(|_| ()),
        ] {
            match result {
                Err(OciError::Protocol(m)) => assert!(m.contains("larger than"), "{m}"),
                other => panic!("declared length {declare_length}: {other:?}"),
            }
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(10),
            "stopped reading early"
        );
    }
}

#[tokio::test]
async fn names_outside_the_distribution_grammar_never_reach_a_url() {
    let client = Client::new("http://127.0.0.1:9", None, Default::default()).unwrap();
    for (repo, reference) in [
        ("apps/../library/nginx", "v1"),
        ("apps/web", "../../v2/_catalog"),
        ("apps%2Fweb", "v1"),
    ] {
        assert!(
            matches!(
                client.manifest(repo, reference).await,
                Err(OciError::BadName(_))
            ),
            "{repo}:{reference}"
        );
    }
    assert!(matches!(
        client.head_blob("apps/web", "sha256:../../x").await,
        Err(OciError::BadName(_))
    ));
}
