//! Real `docker-registry` processes.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// How a test registry is configured.
#[derive(Debug, Clone, Default)]
pub struct RegistryOptions {
    /// htpasswd auth with this user and password.
    pub htpasswd: Option<(String, String)>,
    /// Notification endpoint URL (Distribution's `notifications.endpoints`).
    pub notify_url: Option<String>,
    /// Bearer token the registry sends with its notifications.
    pub notify_token: Option<String>,
    /// Token auth: realm URL, service name, issuer and the path of the root certificate bundle.
    pub token: Option<TokenAuth>,
}

#[derive(Debug, Clone)]
pub struct TokenAuth {
    pub realm: String,
    pub service: String,
    pub issuer: String,
    pub rootcertbundle: PathBuf,
}

/// A running `docker-registry`; killed on drop.
pub struct DockerRegistry {
    pub port: u16,
    dir: tempfile::TempDir,
    child: Option<Child>,
    pub options: RegistryOptions,
}

impl DockerRegistry {
    /// Starts a registry on a free port and waits until it answers.
    pub async fn start(options: RegistryOptions) -> anyhow::Result<Self> {
        crate::require_command("docker-registry");
        let mut r = Self {
            port: 0,
            dir: tempfile::tempdir()?,
            child: None,
            options,
        };
        let mut last = None;
        // Another process may take the port between our probe and the registry's bind.
        for _ in 0..5 {
            r.port = crate::free_port();
            r.write_config()?;
            match r.spawn().await {
                Ok(()) => return Ok(r),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| anyhow::anyhow!("docker-registry did not start")))
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// `127.0.0.1:PORT`, as image references name it.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.id())
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn write_config(&self) -> anyhow::Result<()> {
        let d = self.dir.path();
        let mut yaml = format!(
            "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{}\n  secret: {}\n",
            d.join("data").display(),
            self.port,
            uuid::Uuid::new_v4().simple()
        );
        if let Some((user, pass)) = &self.options.htpasswd {
            let hash = bcrypt::hash(pass, 5)?;
            std::fs::write(d.join("htpasswd"), format!("{user}:{hash}\n"))?;
            yaml.push_str(&format!(
                "auth:\n  htpasswd:\n    realm: berth-test\n    path: {}\n",
                d.join("htpasswd").display()
            ));
        } else if let Some(t) = &self.options.token {
            yaml.push_str(&format!(
                "auth:\n  token:\n    realm: {}\n    service: {}\n    issuer: {}\n    rootcertbundle: {}\n",
                t.realm,
                t.service,
                t.issuer,
                t.rootcertbundle.display()
            ));
        }
        if let Some(url) = &self.options.notify_url {
            yaml.push_str(&format!(
                "notifications:\n  endpoints:\n    - name: berth\n      url: {url}\n      timeout: 2s\n      threshold: 5\n      backoff: 1s\n"
            ));
            if let Some(token) = &self.options.notify_token {
                yaml.push_str(&format!(
                    "      headers:\n        Authorization: [\"Bearer {token}\"]\n"
                ));
            }
        }
        std::fs::write(d.join("config.yml"), yaml)?;
        Ok(())
    }

    async fn spawn(&mut self) -> anyhow::Result<()> {
        let log = std::fs::File::create(self.dir.path().join("registry.log"))?;
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(self.dir.path().join("config.yml"))
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()?;
        self.child = Some(child);
        let url = format!("{}/v2/", self.url());
        let http = reqwest::Client::new();
        let up = crate::wait_until(Duration::from_secs(10), || {
            let (http, url) = (http.clone(), url.clone());
            async move { http.get(&url).send().await.is_ok() }
        })
        .await;
        if !up
            || self
                .child
                .as_mut()
                .is_some_and(|c| matches!(c.try_wait(), Ok(Some(_))))
        {
            self.stop();
            let log =
                std::fs::read_to_string(self.dir.path().join("registry.log")).unwrap_or_default();
            anyhow::bail!("docker-registry did not start on port {}: {log}", self.port);
        }
        Ok(())
    }

    /// Kills the process; storage stays for [`DockerRegistry::restart`].
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts the process again on the same port and storage.
    pub async fn restart(&mut self) -> anyhow::Result<()> {
        self.stop();
        self.spawn().await
    }

    /// The registry's log so far (for failing tests).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("registry.log")).unwrap_or_default()
    }
}

impl Drop for DockerRegistry {
    fn drop(&mut self) {
        self.stop();
    }
}
