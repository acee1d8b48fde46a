//! What every gateway handler shares: its database and clients of the internal services.

use std::sync::Arc;

use berth_auth::internal::Attacher;
use berth_proto::v1::access_service_client::AccessServiceClient;
use berth_proto::v1::binding_service_client::BindingServiceClient;
use berth_proto::v1::registry_provisioning_service_client::RegistryProvisioningServiceClient;
use berth_proto::v1::registry_service_client::RegistryServiceClient;
use berth_proto::v1::space_service_client::SpaceServiceClient;
use berth_proto::v1::workspace_service_client::WorkspaceServiceClient;
use sea_orm::DatabaseConnection;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

type Intercepted = InterceptedService<Channel, Attacher>;
pub type RegistryClient = RegistryServiceClient<Intercepted>;
pub type ProvisioningClient = RegistryProvisioningServiceClient<Intercepted>;

/// Clients of the space service's four gRPC services, over one channel.
#[derive(Clone)]
pub struct SpaceClients {
    pub spaces: SpaceServiceClient<Intercepted>,
    pub workspaces: WorkspaceServiceClient<Intercepted>,
    pub bindings: BindingServiceClient<Intercepted>,
    pub access: AccessServiceClient<Intercepted>,
}

impl SpaceClients {
    pub fn new(channel: Channel, attacher: Attacher) -> Self {
        Self {
            spaces: SpaceServiceClient::with_interceptor(channel.clone(), attacher.clone()),
            workspaces: WorkspaceServiceClient::with_interceptor(channel.clone(), attacher.clone()),
            bindings: BindingServiceClient::with_interceptor(channel.clone(), attacher.clone()),
            access: AccessServiceClient::with_interceptor(channel, attacher),
        }
    }
}

/// Clients of the replication service.
#[derive(Clone)]
pub struct ReplicationClients {
    pub policies: berth_proto::v1::policy_service_client::PolicyServiceClient<Intercepted>,
    pub executions: berth_proto::v1::execution_service_client::ExecutionServiceClient<Intercepted>,
    pub imports: berth_proto::v1::import_service_client::ImportServiceClient<Intercepted>,
}

impl ReplicationClients {
    pub fn new(channel: Channel, attacher: Attacher) -> Self {
        Self {
            policies: berth_proto::v1::policy_service_client::PolicyServiceClient::with_interceptor(
                channel.clone(),
                attacher.clone(),
            ),
            executions:
                berth_proto::v1::execution_service_client::ExecutionServiceClient::with_interceptor(
                    channel.clone(),
                    attacher.clone(),
                ),
            imports: berth_proto::v1::import_service_client::ImportServiceClient::with_interceptor(
                channel, attacher,
            ),
        }
    }
}

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
    pub channels: Arc<Vec<(&'static str, Channel)>>,
}
