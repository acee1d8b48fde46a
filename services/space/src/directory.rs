//! What the space service knows of registries, read from the registry service and kept for a
//! moment so the access check does not ask on every call.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use berth_proto::v1::registry_provisioning_service_client::RegistryProvisioningServiceClient;
use berth_proto::v1::registry_service_client::RegistryServiceClient;
use berth_proto::v1::{ListRegistriesRequest, Registry};
use berth_runtime::clients::{registry_error, Intercepted, RegistryClients};

use crate::error::{Result, SpaceError};

const FRESH_FOR: Duration = Duration::from_secs(2);

pub type RegistryClient = RegistryServiceClient<Intercepted>;
pub type ProvisioningClient = RegistryProvisioningServiceClient<Intercepted>;

/// A failed call to the registry service, as the space service answers it.
pub fn upstream(status: tonic::Status) -> SpaceError {
    SpaceError::Upstream(registry_error(status))
}

/// `host[:port]` of a registry URL, as image references name it.
pub fn host_of(url: &str) -> String {
    berth_oci::reference::host_of_url(url).unwrap_or_default()
}

/// Every registry, and when it was read.
type Snapshot = (Instant, Arc<Vec<Registry>>);

#[derive(Clone)]
pub struct Directory {
    client: RegistryClient,
    provisioning: ProvisioningClient,
    cached: Arc<Mutex<Option<Snapshot>>>,
}

impl Directory {
    pub fn new(clients: RegistryClients) -> Self {
        Self {
            client: clients.registries,
            provisioning: clients.provisioning,
            cached: Arc::default(),
        }
    }

    /// A client of the registry service's provisioning (Harbor projects and robots).
    pub fn provisioning(&self) -> ProvisioningClient {
        self.provisioning.clone()
    }

    /// Every registry (at most [`FRESH_FOR`] old).
    pub async fn all(&self) -> Result<Arc<Vec<Registry>>> {
        if let Some((at, list)) = self.cached.lock().expect("directory lock").as_ref() {
            if at.elapsed() < FRESH_FOR {
                return Ok(list.clone());
            }
        }
        let mut out = Vec::new();
        let mut token = String::new();
        loop {
            let page = self
                .client
                .clone()
                .list_registries(ListRegistriesRequest {
                    page_size: 500,
                    page_token: token,
                    workspace: String::new(),
                })
                .await
                .map_err(upstream)?
                .into_inner();
            out.extend(page.registries);
            if page.next_page_token.is_empty() {
                break;
            }
            token = page.next_page_token;
        }
        let list = Arc::new(out);
        *self.cached.lock().expect("directory lock") = Some((Instant::now(), list.clone()));
        Ok(list)
    }

    /// A client of the registry service.
    pub fn client(&self) -> RegistryClient {
        self.client.clone()
    }

    /// Forgets what it knows (after `registry.changed`).
    pub fn invalidate(&self) {
        *self.cached.lock().expect("directory lock") = None;
    }

    /// The registry named `name` as the registry service has it now (never from the cache):
    /// a space made while its registry was being removed (or replaced by another of the same
    /// name) is taken back when this no longer is the registry it was made for.
    pub async fn current(&self, name: &str) -> Result<Option<Registry>> {
        match self
            .client
            .clone()
            .get_registry(berth_proto::v1::GetRegistryRequest { name: name.into() })
            .await
        {
            Ok(r) => Ok(r.into_inner().registry),
            Err(s) if s.code() == tonic::Code::NotFound => Ok(None),
            Err(s) => Err(upstream(s)),
        }
    }

    pub async fn by_name(&self, name: &str) -> Result<Registry> {
        if let Some(r) = self.all().await?.iter().find(|r| r.name == name) {
            return Ok(r.clone());
        }
        // Not in the cached list: a registry made a moment ago (its `registry.changed` may not
        // have arrived yet) is asked of the registry service itself.
        let now = self
            .current(name)
            .await?
            .ok_or_else(|| SpaceError::NotFound(format!("registry {name:?} not found")))?;
        self.invalidate();
        Ok(now)
    }

    /// The registry an image reference's host names, if Berth integrates it (a host belongs
    /// to at most one registry: the registry service refuses a second claim).
    pub async fn by_host(&self, host: &str) -> Result<Option<Registry>> {
        let host = berth_oci::reference::canonical_host(host);
        let find = |list: &[Registry]| list.iter().find(|r| host_of(&r.url) == host).cloned();
        if let Some(r) = find(&self.all().await?) {
            return Ok(Some(r));
        }
        // Not in the cached list: a registry integrated a moment ago is in the registry
        // service's own, which is asked once more (an answer cached downstream would
        // otherwise call it unknown for as long as it is kept).
        self.invalidate();
        Ok(find(&self.all().await?))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn hosts_of_urls() {
        assert_eq!(super::host_of("http://127.0.0.1:5000"), "127.0.0.1:5000");
        assert_eq!(
            super::host_of("https://reg.example.com/sub"),
            "reg.example.com"
        );
        assert_eq!(
            super::host_of("https://Reg.Example.com:443"),
            "reg.example.com"
        );
        assert_eq!(super::host_of("http://reg:8080"), "reg:8080");
    }
}
