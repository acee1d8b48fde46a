//! Clients of Berth's internal gRPC services: one kind of channel (balanced across a service's
//! ready replicas, with deadlines; [`crate::balance`]), one typed set of clients per callee
//! carrying the internal credential, and one mapping of each callee's `Status` into an
//! [`ApiError`] that names it.

use berth_auth::internal::Attacher;
use berth_error::ApiError;
use berth_proto::v1::access_service_client::AccessServiceClient;
use berth_proto::v1::allowlist_service_client::AllowlistServiceClient;
use berth_proto::v1::binding_service_client::BindingServiceClient;
use berth_proto::v1::execution_service_client::ExecutionServiceClient;
use berth_proto::v1::import_service_client::ImportServiceClient;
use berth_proto::v1::policy_service_client::PolicyServiceClient;
use berth_proto::v1::registry_provisioning_service_client::RegistryProvisioningServiceClient;
use berth_proto::v1::registry_service_client::RegistryServiceClient;
use berth_proto::v1::scan_service_client::ScanServiceClient;
use berth_proto::v1::scanner_service_client::ScannerServiceClient;
use berth_proto::v1::space_service_client::SpaceServiceClient;
use berth_proto::v1::vuln_db_service_client::VulnDbServiceClient;
use berth_proto::v1::workspace_service_client::WorkspaceServiceClient;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

pub use crate::balance::{Balanced, CONNECT_TIMEOUT, DEADLINE};

/// A service's calls, balanced across its ready replicas, with the internal credential and
/// trace context attached.
pub type Intercepted = InterceptedService<Balanced, Attacher>;

/// A channel to one address with the settings of every internal connection, connected on first
/// use (a service may start before its callee). Calls to Berth's services go through
/// [`Balanced`] instead; this is for a single peer (a health probe, a test).
pub fn channel(addr: &str) -> anyhow::Result<Channel> {
    Ok(crate::balance::endpoint(addr)?.connect_lazy())
}

/// The registry service.
#[derive(Clone)]
pub struct RegistryClients {
    pub registries: RegistryServiceClient<Intercepted>,
    pub provisioning: RegistryProvisioningServiceClient<Intercepted>,
    pub channel: Balanced,
}

impl RegistryClients {
    pub fn new(addr: &str, attacher: Attacher) -> anyhow::Result<Self> {
        let channel = Balanced::new("registry service", addr)?;
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
    pub channel: Balanced,
}

impl SpaceClients {
    pub fn new(addr: &str, attacher: Attacher) -> anyhow::Result<Self> {
        let channel = Balanced::new("space service", addr)?;
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
    pub channel: Balanced,
}

impl ReplicationClients {
    pub fn new(addr: &str, attacher: Attacher) -> anyhow::Result<Self> {
        let channel = Balanced::new("replication service", addr)?;
        Ok(Self {
            policies: PolicyServiceClient::with_interceptor(channel.clone(), attacher.clone()),
            executions: ExecutionServiceClient::with_interceptor(channel.clone(), attacher.clone()),
            imports: ImportServiceClient::with_interceptor(channel.clone(), attacher),
            channel,
        })
    }
}

/// Reports and SBOMs can be large: what a client of the scan service accepts in one answer.
pub const SCAN_MESSAGE_LIMIT: usize = 256 * 1024 * 1024;

/// The scan service's three services, over one channel.
#[derive(Clone)]
pub struct ScanClients {
    pub scans: ScanServiceClient<Intercepted>,
    pub vulndb: VulnDbServiceClient<Intercepted>,
    pub allowlist: AllowlistServiceClient<Intercepted>,
    pub scanners: ScannerServiceClient<Intercepted>,
    pub channel: Balanced,
}

impl ScanClients {
    pub fn new(addr: &str, attacher: Attacher) -> anyhow::Result<Self> {
        let channel = Balanced::new("scan service", addr)?;
        Ok(Self {
            scans: ScanServiceClient::with_interceptor(channel.clone(), attacher.clone())
                .max_decoding_message_size(SCAN_MESSAGE_LIMIT),
            vulndb: VulnDbServiceClient::with_interceptor(channel.clone(), attacher.clone()),
            allowlist: AllowlistServiceClient::with_interceptor(channel.clone(), attacher.clone()),
            scanners: ScannerServiceClient::with_interceptor(channel.clone(), attacher),
            channel,
        })
    }
}

/// What a failed call to the scan service means to a caller.
pub fn scan_error(status: tonic::Status) -> ApiError {
    ApiError::from_status("scan service", &status)
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
