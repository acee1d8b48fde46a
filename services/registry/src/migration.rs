//! The registry service's schema, recorded in `registry_migrations`.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(CreateRegistries),
            Box::new(CreateRobots),
            Box::new(UniqueHosts),
            Box::new(HookSecrets),
            Box::new(RetiredNames),
            Box::new(HealthLeases),
        ]
    }

    fn migration_table_name() -> DynIden {
        Alias::new("registry_migrations").into_iden()
    }
}

#[derive(DeriveIden)]
enum Registries {
    #[sea_orm(iden = "registry_registries")]
    Table,
    Id,
    Name,
    Kind,
    Url,
    Insecure,
    Description,
    Workspace,
    Managed,
    CredentialSealed,
    TokenService,
    HealthStatus,
    HealthCheckedAt,
    HealthLatencyMs,
    HealthError,
    CreatedAt,
    UpdatedAt,
}

struct CreateRegistries;

impl MigrationName for CreateRegistries {
    fn name(&self) -> &str {
        "m0001_create_registries"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for CreateRegistries {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Registries::Table)
                    .col(
                        ColumnDef::new(Registries::Id)
                            .string()
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(Registries::Name)
                            .string()
                            .not_null()
                            .unique_key(),
                    )
                    .col(ColumnDef::new(Registries::Kind).string().not_null())
                    .col(ColumnDef::new(Registries::Url).string().not_null())
                    .col(ColumnDef::new(Registries::Insecure).boolean().not_null())
                    .col(ColumnDef::new(Registries::Description).text().not_null())
                    .col(ColumnDef::new(Registries::Workspace).string().not_null())
                    .col(ColumnDef::new(Registries::Managed).boolean().not_null())
                    .col(ColumnDef::new(Registries::CredentialSealed).text().null())
                    .col(ColumnDef::new(Registries::TokenService).string().not_null())
                    .col(ColumnDef::new(Registries::HealthStatus).string().not_null())
                    .col(
                        ColumnDef::new(Registries::HealthCheckedAt)
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .col(
                        ColumnDef::new(Registries::HealthLatencyMs)
                            .integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(Registries::HealthError).text().not_null())
                    .col(
                        ColumnDef::new(Registries::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Registries::UpdatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        let backend: DbBackend = manager.get_database_backend();
        manager
            .create_table(berth_bus::outbox::Outbox::new("registry").create_table(backend))
            .await
    }
}

struct CreateRobots;

impl MigrationName for CreateRobots {
    fn name(&self) -> &str {
        "m0002_create_robots"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for CreateRobots {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let col = |n: &str| ColumnDef::new(Alias::new(n));
        manager
            .create_table(
                Table::create()
                    .table(Alias::new("registry_robots"))
                    .col(col("registry").string().not_null())
                    .col(col("workspace").string().not_null())
                    .col(col("robot_id").big_integer().not_null())
                    .col(col("robot_name").string().not_null())
                    .col(col("secret_sealed").text().not_null())
                    .primary_key(
                        Index::create()
                            .col(Alias::new("registry"))
                            .col(Alias::new("workspace")),
                    )
                    .to_owned(),
            )
            .await
    }
}

/// Adds a non-null string column, empty on existing rows, to the registries table.
async fn add_text_column(manager: &SchemaManager<'_>, name: &str) -> Result<(), DbErr> {
    manager
        .alter_table(
            Table::alter()
                .table(Registries::Table)
                .add_column(
                    ColumnDef::new(Alias::new(name))
                        .string()
                        .not_null()
                        .default(""),
                )
                .to_owned(),
        )
        .await
}

/// A host (with port) maps to exactly one registry. Rows from before are filled in at start
/// ([`crate::registries::Registries::backfill_hosts`]); an empty host is not yet known.
struct UniqueHosts;

impl MigrationName for UniqueHosts {
    fn name(&self) -> &str {
        "m0003_unique_hosts"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for UniqueHosts {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        add_text_column(manager, "host").await?;
        // A partial index (both PostgreSQL and SQLite have them): unknown hosts may repeat.
        manager
            .get_connection()
            .execute_unprepared(
                "CREATE UNIQUE INDEX registry_registries_host ON registry_registries (host) \
                 WHERE host <> ''",
            )
            .await
            .map(|_| ())
    }
}

/// Each registry's notifications authenticate with a secret of their own (stored hashed).
struct HookSecrets;

impl MigrationName for HookSecrets {
    fn name(&self) -> &str {
        "m0004_hook_secrets"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for HookSecrets {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        add_text_column(manager, "hook_secret_hash").await
    }
}

/// Names of removed registries behind Berth's token service, kept from other owners.
struct RetiredNames;

impl MigrationName for RetiredNames {
    fn name(&self) -> &str {
        "m0005_retired_names"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for RetiredNames {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let col = |n: &str| ColumnDef::new(Alias::new(n));
        manager
            .create_table(
                Table::create()
                    .table(Alias::new("registry_retired_names"))
                    .col(col("name").string().not_null().primary_key())
                    .col(col("workspace").string().not_null())
                    .col(col("retired_at").timestamp_with_time_zone().not_null())
                    .to_owned(),
            )
            .await
    }
}

/// Replicas share health checks: a replica checks a registry only while it holds the
/// registry's check lease.
struct HealthLeases;

impl MigrationName for HealthLeases {
    fn name(&self) -> &str {
        "m0006_health_leases"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for HealthLeases {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Alias::new("registry_registries"))
                    .add_column(
                        ColumnDef::new(Alias::new("health_lease_until"))
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .to_owned(),
            )
            .await
    }
}
