//! Clients of Berth's internal gRPC services: one channel builder (timeouts, keepalive,
//! HTTP/2 windows), one typed set of clients per callee carrying the internal credential, and
//! one mapping of each callee's `Status` into an [`ApiError`] that names it.

use std::time::Duration;

use berth_auth::internal::Attacher;
use berth_error::ApiError;
use berth_proto::v1::access_service_client::AccessServiceClient;
use berth_proto::v1::binding_service_client::BindingServiceClient;
use berth_proto::v1::execution_service_client::ExecutionServiceClient;
use berth_proto::v1::import_service_client::ImportServiceClient;
use berth_proto::v1::policy_service_client::PolicyServiceClient;
use berth_proto::v1::registry_provisioning_service_client::RegistryProvisioningServiceClient;
use berth_proto::v1::registry_service_client::RegistryServiceClient;
use berth_proto::v1::space_service_client::SpaceServiceClient;
use berth_proto::v1::workspace_service_client::WorkspaceServiceClient;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Channel, Endpoint};

use crate::grpc::WINDOW;

/// A channel's calls, with the internal credential and trace context attached.
pub type Intercepted = InterceptedService<Channel, Attacher>;

/// How long connecting to another service may take before a call fails `UNAVAILABLE`.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// HTTP/2 pings on idle connections, so a peer that vanished is noticed.
const KEEPALIVE: Duration = Duration::from_secs(30);

/// The one kind of channel between Berth's services: connected on first use (a service may
/// start before its callee), with large flow-control windows (imports stream through it) and
/// keepalive. Calls carry no deadline of their own: progress streams and imports run long.
pub fn channel(addr: &str) -> anyhow::Result<Channel> {
    Ok(Endpoint::from_shared(addr.to_string())?
        .connect_timeout(CONNECT_TIMEOUT)
        .tcp_keepalive(Some(KEEPALIVE))
        .http2_keep_alive_interval(KEEPALIVE)
        .keep_alive_while_idle(true)
        .initial_stream_window_size(WINDOW)
        .initial_connection_window_size(WINDOW * 2)
        .connect_lazy())
}

/// The registry service.
#[derive(Clone)]
pub struct RegistryClients {
    pub registries: RegistryServiceClient<Intercepted>,
    pub provisioning: RegistryProvisioningServiceClient<Intercepted>,
    pub channel: Channel,
}

impl RegistryClients {
    pub fn new(addr: &str, attacher: Attacher) -> anyhow::Result<Self> {
        let channel = channel(addr)?;
        Ok(Self {
            registries: RegistryServiceClient::with_interceptor(channel.clone(), attacher.clone()),
            provisioning: RegistryProvisioningServiceClient::with_interceptor(
                channel.clone(),
                attacher,
            ),
            channel,
        })
    }
}

/// The space service's four services, over one channel.
#[derive(Clone)]
pub struct SpaceClients {
    pub spaces: SpaceServiceClient<Intercepted>,
    pub workspaces: WorkspaceServiceClient<Intercepted>,
    pub bindings: BindingServiceClient<Intercepted>,
    pub access: AccessServiceClient<Intercepted>,
    pub channel: Channel,
}

impl SpaceClients {
    pub fn new(addr: &str, attacher: Attacher) -> anyhow::Result<Self> {
        let channel = channel(addr)?;
        Ok(Self {
            spaces: SpaceServiceClient::with_interceptor(channel.clone(), attacher.clone()),
            workspaces: WorkspaceServiceClient::with_interceptor(channel.clone(), attacher.clone()),
            bindings: BindingServiceClient::with_interceptor(channel.clone(), attacher.clone()),
            access: AccessServiceClient::with_interceptor(channel.clone(), attacher),
            channel,
        })
    }
}

/// The replication service.
#[derive(Clone)]
pub struct ReplicationClients {
    pub policies: PolicyServiceClient<Intercepted>,
    pub executions: ExecutionServiceClient<Intercepted>,
    pub imports: ImportServiceClient<Intercepted>,
    pub channel: Channel,
}

impl ReplicationClients {
    pub fn new(addr: &str, attacher: Attacher) -> anyhow::Result<Self> {
        let channel = channel(addr)?;
        Ok(Self {
            policies: PolicyServiceClient::with_interceptor(channel.clone(), attacher.clone()),
            executions: ExecutionServiceClient::with_interceptor(channel.clone(), attacher.clone()),
            imports: ImportServiceClient::with_interceptor(channel.clone(), attacher),
            channel,
        })
    }
}

/// What a failed call to the registry service means to a caller.
pub fn registry_error(status: tonic::Status) -> ApiError {
    ApiError::from_status("registry service", &status)
}

/// What a failed call to the space service means to a caller.
pub fn space_error(status: tonic::Status) -> ApiError {
    ApiError::from_status("space service", &status)
}

/// What a failed call to the replication service means to a caller.
pub fn replication_error(status: tonic::Status) -> ApiError {
    ApiError::from_status("replication service", &status)
}
