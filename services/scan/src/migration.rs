//! The scan service's schema, recorded in `scan_migrations`.

use sea_orm_migration::prelude::*;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(CreateTables),
            Box::new(CreateSweeps),
            Box::new(CreateScanners),
            Box::new(CreateSources),
        ]
    }

    fn migration_table_name() -> DynIden {
        Alias::new("scan_migrations").into_iden()
    }
}

fn col(name: &str) -> ColumnDef {
    ColumnDef::new(Alias::new(name))
}

struct CreateTables;

impl MigrationName for CreateTables {
    fn name(&self) -> &str {
        "m0001_records_layers_reports_scans_allowlist"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for CreateTables {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // The vulnerability database: one OSV record a row, and its version.
        m.create_table(
            Table::create()
                .table(Alias::new("scan_records"))
                .col(col("id").string().not_null().primary_key())
                .col(col("modified").string().not_null())
                .col(col("ecosystems").text().not_null())
                .col(col("record").text().not_null())
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Alias::new("scan_database"))
                .col(col("id").string().not_null().primary_key())
                .col(col("version").big_integer().not_null())
                .col(col("updated_at").timestamp_with_time_zone().null())
                .to_owned(),
        )
        .await?;
        // What each layer holds, by digest: read once, ever.
        m.create_table(
            Table::create()
                .table(Alias::new("scan_layers"))
                .col(col("digest").string().not_null().primary_key())
                .col(col("inventory").text().not_null())
                .col(col("bytes").big_integer().not_null())
                .col(col("read_at").timestamp_with_time_zone().not_null())
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Alias::new("scan_reports"))
                .col(col("digest").string().not_null().primary_key())
                .col(col("status").string().not_null())
                .col(col("error").text().not_null())
                .col(col("platforms").text().not_null())
                .col(col("findings").text().not_null())
                .col(col("summary").text().not_null())
                .col(col("unsupported").text().not_null())
                .col(col("db_version").big_integer().not_null())
                .col(col("updated_at").timestamp_with_time_zone().not_null())
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Alias::new("scan_scans"))
                .col(col("id").string().not_null().primary_key())
                .col(col("registry").string().not_null())
                .col(col("repository").string().not_null())
                .col(col("reference").string().not_null())
                .col(col("digest").string().not_null())
                .col(col("status").string().not_null())
                .col(col("error").text().not_null())
                .col(col("trigger").string().not_null())
                .col(col("layers_read").big_integer().not_null())
                .col(col("layers_known").big_integer().not_null())
                .col(col("bytes_read").big_integer().not_null())
                .col(col("created_at").timestamp_with_time_zone().not_null())
                .col(col("finished_at").timestamp_with_time_zone().null())
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("scan_scans_by_status")
                .table(Alias::new("scan_scans"))
                .col(Alias::new("status"))
                .to_owned(),
        )
        .await?;
        // Where Berth saw each scanned digest: the repository-level gate reads it.
        m.create_table(
            Table::create()
                .table(Alias::new("scan_subjects"))
                .col(col("registry").string().not_null())
                .col(col("repository").string().not_null())
                .col(col("digest").string().not_null())
                .col(col("seen_at").timestamp_with_time_zone().not_null())
                .primary_key(
                    Index::create()
                        .col(Alias::new("registry"))
                        .col(Alias::new("repository"))
                        .col(Alias::new("digest")),
                )
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Alias::new("scan_allowlist"))
                .col(col("vulnerability_id").string().not_null())
                .col(col("registry").string().not_null())
                .col(col("space").string().not_null())
                .col(col("expires_at").timestamp_with_time_zone().null())
                .col(col("reason").text().not_null())
                .col(col("created_by").string().not_null())
                .col(col("created_at").timestamp_with_time_zone().not_null())
                .primary_key(
                    Index::create()
                        .col(Alias::new("vulnerability_id"))
                        .col(Alias::new("registry"))
                        .col(Alias::new("space")),
                )
                .to_owned(),
        )
        .await?;
        let backend = m.get_database_backend();
        m.create_table(berth_bus::outbox::Outbox::new("scan").create_table(backend))
            .await
    }
}

struct CreateSweeps;

impl MigrationName for CreateSweeps {
    fn name(&self) -> &str {
        "m0002_sweeps"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for CreateSweeps {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // Scan-all of a registry or a space: the sweep, and the scan of each artifact it found.
        m.create_table(
            Table::create()
                .table(Alias::new("scan_sweeps"))
                .col(col("id").string().not_null().primary_key())
                .col(col("registry").string().not_null())
                .col(col("space").string().not_null())
                .col(col("trigger").string().not_null())
                .col(col("status").string().not_null())
                .col(col("error").text().not_null())
                .col(col("artifacts").big_integer().not_null())
                .col(col("created_at").timestamp_with_time_zone().not_null())
                .col(col("finished_at").timestamp_with_time_zone().null())
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Alias::new("scan_sweep_items"))
                .col(col("sweep").string().not_null())
                .col(col("digest").string().not_null())
                .col(col("repository").string().not_null())
                .col(col("scan").string().not_null())
                .primary_key(
                    Index::create()
                        .col(Alias::new("sweep"))
                        .col(Alias::new("digest")),
                )
                .to_owned(),
        )
        .await
    }
}

struct CreateScanners;

impl MigrationName for CreateScanners {
    fn name(&self) -> &str {
        "m0003_external_scanners"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for CreateScanners {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // External scanners (Harbor's pluggable scanner API) and the registries each scans.
        m.create_table(
            Table::create()
                .table(Alias::new("scan_scanners"))
                .col(col("name").string().not_null().primary_key())
                .col(col("url").string().not_null())
                .col(col("auth").string().not_null())
                .col(col("credential").text().not_null())
                .col(col("registries").text().not_null())
                .col(col("created_at").timestamp_with_time_zone().not_null())
                .to_owned(),
        )
        .await?;
        // Who scanned each report.
        m.alter_table(
            Table::alter()
                .table(Alias::new("scan_reports"))
                .add_column(col("scanner").string().not_null().default("berth"))
                .to_owned(),
        )
        .await
    }
}

struct CreateSources;

impl MigrationName for CreateSources {
    fn name(&self) -> &str {
        "m0004_mirror_sources"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for CreateSources {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // The mirror's exports: what each last fetch brought (and its ETag, to ask again).
        m.create_table(
            Table::create()
                .table(Alias::new("scan_sources"))
                .col(col("url").string().not_null().primary_key())
                .col(col("etag").string().not_null())
                .col(col("digest").string().not_null())
                .col(col("status").string().not_null())
                .col(col("imported").big_integer().not_null())
                .col(col("error").text().not_null())
                .col(col("fetched_at").timestamp_with_time_zone().not_null())
                .to_owned(),
        )
        .await
    }
}
