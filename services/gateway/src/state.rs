//! What every gateway handler shares: its database and clients of the internal services.

use std::sync::Arc;

use berth_proto::v1::registry_provisioning_service_client::RegistryProvisioningServiceClient;
use berth_proto::v1::registry_service_client::RegistryServiceClient;
use berth_runtime::clients::Intercepted;
pub use berth_runtime::clients::{ReplicationClients, SpaceClients};
use sea_orm::DatabaseConnection;

pub type RegistryClient = RegistryServiceClient<Intercepted>;
pub type ProvisioningClient = RegistryProvisioningServiceClient<Intercepted>;

#[derive(Clone)]
pub struct AppState {
    pub db: DatabaseConnection,
    pub admin_token: Arc<str>,
    pub platform_admins: Arc<Vec<String>>,
    pub registry: RegistryClient,
    /// Internal provisioning of the registry service (robot credentials for pull secrets).
    pub provisioning: ProvisioningClient,
    pub space: SpaceClients,
    pub replication: ReplicationClients,
    pub scan: berth_runtime::clients::ScanClients,
    /// The job bus (registry notifications become `artifact.pushed`).
    pub bus: Arc<dyn berth_bus::Bus>,
    /// Cached `CheckPull` answers.
    pub access_cache: crate::access_cache::AccessCache,
    /// Signs registry tokens (`/auth/token`).
    pub token_signer: Arc<berth_auth::registry_token::TokenSigner>,
    /// Seals the page tokens callers see.
    pub pages: crate::pages::PageTokens,
    /// The bearer token the Kubernetes API server presents to the admission webhook (`None`:
    /// admission answers nobody).
    pub admission_token: Option<Arc<str>>,
    /// Hook secrets verified lately.
    pub hook_secrets: crate::http::hooks::HookSecrets,
    /// Channels of the internal services, by name, for readiness checks.
    pub channels: Arc<Vec<(&'static str, berth_runtime::clients::Balanced)>>,
}
