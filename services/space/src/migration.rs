//! The space service's schema, recorded in `space_migrations`.

use sea_orm_migration::prelude::*;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(CreateTables),
            Box::new(BindingPush),
            Box::new(ScanPolicies),
        ]
    }

    fn migration_table_name() -> DynIden {
        Alias::new("space_migrations").into_iden()
    }
}

fn col(name: &str) -> ColumnDef {
    ColumnDef::new(Alias::new(name))
}

struct CreateTables;

impl MigrationName for CreateTables {
    fn name(&self) -> &str {
        "m0001_create_spaces_workspaces_bindings"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for CreateTables {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Alias::new("space_spaces"))
                .col(col("id").string().not_null().primary_key())
                .col(col("registry").string().not_null())
                .col(col("name").string().not_null())
                .col(col("visibility").string().not_null())
                .col(col("quota_bytes").big_integer().not_null())
                .col(col("description").text().not_null())
                .col(col("created_at").timestamp_with_time_zone().not_null())
                .col(col("updated_at").timestamp_with_time_zone().not_null())
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("space_spaces_registry_name")
                .table(Alias::new("space_spaces"))
                .col(Alias::new("registry"))
                .col(Alias::new("name"))
                .unique()
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Alias::new("space_workspaces"))
                .col(col("name").string().not_null().primary_key())
                .col(col("description").text().not_null())
                .col(col("created_at").timestamp_with_time_zone().not_null())
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Alias::new("space_namespaces"))
                .col(col("namespace").string().not_null().primary_key())
                .col(col("workspace").string().not_null())
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Alias::new("space_members"))
                .col(col("workspace").string().not_null())
                .col(col("principal").string().not_null())
                .col(col("role").string().not_null())
                .primary_key(
                    Index::create()
                        .col(Alias::new("workspace"))
                        .col(Alias::new("principal")),
                )
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Alias::new("space_bindings"))
                .col(col("space_id").string().not_null())
                .col(col("workspace").string().not_null())
                .col(col("created_at").timestamp_with_time_zone().not_null())
                .primary_key(
                    Index::create()
                        .col(Alias::new("space_id"))
                        .col(Alias::new("workspace")),
                )
                .to_owned(),
        )
        .await?;
        let backend = m.get_database_backend();
        m.create_table(berth_bus::outbox::Outbox::new("space").create_table(backend))
            .await
    }
}

/// Bindings carry what they grant: `push` lets the workspace's writers push and delete.
struct BindingPush;

impl MigrationName for BindingPush {
    fn name(&self) -> &str {
        "m0002_binding_push"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for BindingPush {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Alias::new("space_bindings"))
                .add_column(col("push").boolean().not_null().default(false))
                .to_owned(),
        )
        .await
    }
}

/// Spaces carry a scan policy (issue 11): when their artifacts are scanned and what the access
/// rule asks of the reports.
struct ScanPolicies;

impl MigrationName for ScanPolicies {
    fn name(&self) -> &str {
        "m0003_scan_policies"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for ScanPolicies {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Alias::new("space_spaces"))
                .add_column(col("scan_policy").text().not_null().default(""))
                .to_owned(),
        )
        .await
    }
}
