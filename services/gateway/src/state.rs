//! What every gateway handler shares.

use std::sync::Arc;

use berth_auth::internal::Attacher;
use berth_proto::v1::registry_service_client::RegistryServiceClient;
use sea_orm::DatabaseConnection;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

pub type RegistryClient = RegistryServiceClient<InterceptedService<Channel, Attacher>>;

#[derive(Clone)]
pub struct AppState {
    pub db: DatabaseConnection,
    pub admin_token: Arc<str>,
    pub platform_admins: Arc<Vec<String>>,
    pub registry: RegistryClient,
    /// The registry service's channel, for readiness checks.
    pub registry_channel: Channel,
}
