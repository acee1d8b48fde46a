//! OCI clients of integrated registries, for the services that read or write their content
//! (replication, scan, reclaim): built from what the registry service's provisioning answers
//! (URL, TLS option, credential) and kept for a short while, so work shares connections and
//! bearer tokens and credential changes still apply within seconds.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use berth_auth::registry_token::{Minter, TokenSigner};
use berth_oci::{Auth, Client, ClientOptions, Credential};
use berth_proto::v1::GetRegistryAccessRequest;

use berth_error::ApiError;
use berth_proto::v1::registry_provisioning_service_client::RegistryProvisioningServiceClient;

use crate::clients::{registry_error, Intercepted};

type Provisioning = RegistryProvisioningServiceClient<Intercepted>;
type Result<T> = std::result::Result<T, ApiError>;

/// How long a client is kept: the replica that hears of a registry's change drops it at once, every
/// other within this.
const KEEP: Duration = Duration::from_secs(10);

/// A registry as Berth reaches it.
#[derive(Clone)]
pub struct Reached {
    pub client: Client,
    pub url: String,
    /// `distribution`, `harbor` or `oci`.
    pub kind: String,
    auth: Auth,
}

impl Reached {
    /// An `Authorization` value that lets a third party (an external scanner) pull
    /// `repository` and nothing else: a pull-only token of five minutes, for a registry behind
    /// Berth's token service. A registry Berth reaches with a password gets none: the password
    /// opens far more than one repository, and it is never handed on.
    pub fn pull_authorization(&self, repository: &str) -> Option<String> {
        match &self.auth {
            Auth::Anonymous | Auth::Password(_) => None,
            Auth::Minted(m) => Some(format!(
                "Bearer {}",
                m.mint(&format!("repository:{repository}:pull"))
            )),
        }
    }
}

pub struct Clients {
    provisioning: Provisioning,
    signer: Option<Arc<TokenSigner>>,
    cached: Mutex<HashMap<String, (Reached, Instant)>>,
}

impl Clients {
    pub fn new(provisioning: Provisioning, signer: Option<Arc<TokenSigner>>) -> Self {
        Self {
            provisioning,
            signer,
            cached: Mutex::default(),
        }
    }

    /// Drops what is kept of `registry` (it changed): the next use asks again.
    pub fn forget(&self, registry: &str) {
        self.cached.lock().expect("clients lock").remove(registry);
    }

    /// How to reach `registry`.
    pub async fn get(&self, registry: &str) -> Result<Reached> {
        if let Some((r, at)) = self.cached.lock().expect("clients lock").get(registry) {
            if at.elapsed() < KEEP {
                return Ok(r.clone());
            }
        }
        let access = self
            .provisioning
            .clone()
            .get_registry_access(GetRegistryAccessRequest {
                registry: registry.into(),
            })
            .await
            .map_err(registry_error)?
            .into_inner();
        let auth = if access.berth_token_service {
            // Signed here for this registry alone: no reusable secret goes to its URL.
            let signer = self.signer.clone().ok_or_else(|| {
                ApiError::failed_precondition(format!(
                    "{registry} delegates its auth to Berth's token service, but this service \
                     has no token signing key"
                ))
            })?;
            Auth::Minted(Arc::new(Minter::new(signer, registry)))
        } else {
            access
                .credential
                .map(|c| Credential {
                    username: c.username,
                    password: c.password,
                })
                .into()
        };
        let client = Client::with_auth(
            &access.url,
            auth.clone(),
            ClientOptions {
                insecure: access.insecure,
                ..Default::default()
            },
        )
        .map_err(|e| ApiError::invalid("registry", e.to_string()))?;
        let reached = Reached {
            client,
            url: access.url,
            kind: access.kind,
            auth,
        };
        self.cached
            .lock()
            .expect("clients lock")
            .insert(registry.to_string(), (reached.clone(), Instant::now()));
        Ok(reached)
    }
}
