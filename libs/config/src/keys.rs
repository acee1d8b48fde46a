//! Every environment variable Berth reads.

pub const CONFIG_FILE: &str = "BERTH_CONFIG";
pub const DATA_DIR: &str = "BERTH_DATA_DIR";
pub const LISTEN: &str = "BERTH_LISTEN";
pub const DATABASE_URL: &str = "BERTH_DATABASE_URL";
pub const BUS_URL: &str = "BERTH_BUS_URL";
pub const CACHE_URL: &str = "BERTH_CACHE_URL";
/// Prefix of exchange, queue and cache key names, so several suites can share a broker.
pub const NAMESPACE: &str = "BERTH_NAMESPACE";
pub const ADMIN_TOKEN: &str = "BERTH_ADMIN_TOKEN";
pub const INTERNAL_TOKEN: &str = "BERTH_INTERNAL_TOKEN";
/// The bearer token the Kubernetes API server presents to `/admission/validate`.
pub const ADMISSION_TOKEN: &str = "BERTH_ADMISSION_TOKEN";
/// Base64 of 32 bytes: the AES-256-GCM key that encrypts registry credentials at rest.
pub const SECRET_KEY: &str = "BERTH_SECRET_KEY";
pub const HEALTH_INTERVAL_SECS: &str = "BERTH_HEALTH_INTERVAL_SECS";
pub const REGISTRY_ADDR: &str = "BERTH_REGISTRY_ADDR";
pub const SPACE_ADDR: &str = "BERTH_SPACE_ADDR";
pub const REPLICATION_ADDR: &str = "BERTH_REPLICATION_ADDR";
pub const SCAN_ADDR: &str = "BERTH_SCAN_ADDR";
/// Replication tasks one process copies at once; 0 runs no worker in that process.
pub const REPLICATION_WORKERS: &str = "BERTH_REPLICATION_WORKERS";
pub const REPLICATION_TASK_ATTEMPTS: &str = "BERTH_REPLICATION_TASK_ATTEMPTS";
pub const REPLICATION_TASK_TIMEOUT_SECS: &str = "BERTH_REPLICATION_TASK_TIMEOUT_SECS";
/// How long a digest recorded by a policy is trusted before the destination is asked again.
pub const REPLICATION_VERIFY_SECS: &str = "BERTH_REPLICATION_VERIFY_SECS";
pub const VULNDB_MIRROR: &str = "BERTH_VULNDB_MIRROR";
pub const VULNDB_ECOSYSTEMS: &str = "BERTH_VULNDB_ECOSYSTEMS";
pub const VULNDB_SYNC_SECS: &str = "BERTH_VULNDB_SYNC_SECS";
/// Issuer of registry tokens (`auth.token.issuer` of registries); `berth` by default.
pub const TOKEN_ISSUER: &str = "BERTH_TOKEN_ISSUER";
/// A PEM P-256 private key (PKCS#8) every service that signs registry tokens uses (gateway,
/// registry, replication); `berth up` generates one into its data dir when it is not given.
pub const TOKEN_SIGNING_KEY_FILE: &str = "BERTH_TOKEN_SIGNING_KEY_FILE";
pub const PLATFORM_ADMINS: &str = "BERTH_PLATFORM_ADMINS";
/// The name a process records as the replica that did a piece of work (a replication task);
/// the host name and process id when unset (in Kubernetes the host name is the pod's).
pub const REPLICA: &str = "BERTH_REPLICA";
pub const LOG_FORMAT: &str = "BERTH_LOG_FORMAT";
pub const OTLP_ENDPOINT: &str = "OTEL_EXPORTER_OTLP_ENDPOINT";
