//! The `registry_registries` table.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "registry_registries")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    #[sea_orm(unique)]
    pub name: String,
    pub kind: String,
    pub url: String,
    pub insecure: bool,
    pub description: String,
    /// Empty for a platform registry.
    pub workspace: String,
    pub managed: bool,
    /// `{"username","password"}` sealed with AES-256-GCM; never plaintext.
    pub credential_sealed: Option<String>,
    pub token_service: String,
    /// `host[:port]` as image references name it; unique among registries.
    pub host: String,
    /// SHA-256 (hex) of the secret its notifications authenticate with; empty: none yet.
    pub hook_secret_hash: String,
    pub health_status: String,
    pub health_checked_at: Option<DateTimeUtc>,
    pub health_latency_ms: i32,
    pub health_error: String,
    /// Until when a replica holds the right to check this registry (replicas share checks).
    pub health_lease_until: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// `registry_robots`: one Harbor robot per (registry, workspace), pulling its bound projects.
pub mod robot {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "registry_robots")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub registry: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub workspace: String,
        pub robot_id: i64,
        pub robot_name: String,
        /// The robot's secret, sealed like every credential.
        pub secret_sealed: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `registry_retired_names`: names of removed registries that were behind Berth's token
/// service. Registries configured with `service: NAME` may still trust Berth's tokens for the
/// name, so only the owner it had (or the platform) may use it again.
pub mod retired {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "registry_retired_names")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub name: String,
        /// Empty: the platform.
        pub workspace: String,
        pub retired_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
