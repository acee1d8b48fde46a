//! The replication service's schema, recorded in `replication_migrations`.

use sea_orm_migration::prelude::*;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(CreateTables),
            Box::new(TasksAndRecords),
            Box::new(NotifyingSources),
            Box::new(DeleteTasks),
            Box::new(TaskLeases),
        ]
    }

    fn migration_table_name() -> DynIden {
        Alias::new("replication_migrations").into_iden()
    }
}

fn col(name: &str) -> ColumnDef {
    ColumnDef::new(Alias::new(name))
}

struct CreateTables;

impl MigrationName for CreateTables {
    fn name(&self) -> &str {
        "m0001_create_policies_and_executions"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for CreateTables {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Alias::new("replication_policies"))
                .col(col("name").string().not_null().primary_key())
                .col(col("spec").text().not_null())
                .col(col("created_at").timestamp_with_time_zone().not_null())
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Alias::new("replication_executions"))
                .col(col("id").string().not_null().primary_key())
                .col(col("policy").string().not_null())
                .col(col("status").string().not_null())
                .col(col("total").big_integer().not_null())
                .col(col("succeeded").big_integer().not_null())
                .col(col("failed").big_integer().not_null())
                .col(col("skipped").big_integer().not_null())
                .col(col("bytes").big_integer().not_null())
                .col(col("error").text().not_null())
                .col(col("started_at").timestamp_with_time_zone().not_null())
                .col(col("finished_at").timestamp_with_time_zone().null())
                .to_owned(),
        )
        .await
    }
}

struct TasksAndRecords;

impl MigrationName for TasksAndRecords {
    fn name(&self) -> &str {
        "m0002_tasks_records_outbox"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for TasksAndRecords {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let executions = Alias::new("replication_executions");
        for column in [
            col("trigger")
                .string()
                .not_null()
                .default("manual")
                .to_owned(),
            col("known").big_integer().not_null().default(0).to_owned(),
            col("verify").boolean().not_null().default(false).to_owned(),
        ] {
            m.alter_table(
                Table::alter()
                    .table(executions.clone())
                    .add_column(column)
                    .to_owned(),
            )
            .await?;
        }
        m.create_table(
            Table::create()
                .table(Alias::new("replication_tasks"))
                .col(col("id").string().not_null().primary_key())
                .col(col("execution").string().not_null())
                .col(col("policy").string().not_null())
                .col(col("source_repository").string().not_null())
                .col(col("destination_repository").string().not_null())
                .col(col("reference").string().not_null())
                .col(col("status").string().not_null())
                .col(col("attempts").integer().not_null())
                .col(col("bytes").big_integer().not_null())
                .col(col("digest").string().not_null())
                .col(col("error").text().not_null())
                .col(col("claim").string().not_null())
                .col(col("started_at").timestamp_with_time_zone().null())
                .col(col("finished_at").timestamp_with_time_zone().null())
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("replication_tasks_by_execution")
                .table(Alias::new("replication_tasks"))
                .col(Alias::new("execution"))
                .col(Alias::new("status"))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Alias::new("replication_records"))
                .col(col("id").string().not_null().primary_key())
                .col(col("policy").string().not_null())
                .col(col("registry").string().not_null())
                .col(col("repository").string().not_null())
                .col(col("tag").string().not_null())
                .col(col("digest").string().not_null())
                .col(col("verified_at").timestamp_with_time_zone().not_null())
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("replication_records_by_artifact")
                .table(Alias::new("replication_records"))
                .col(Alias::new("registry"))
                .col(Alias::new("repository"))
                .to_owned(),
        )
        .await?;
        let backend = m.get_database_backend();
        m.create_table(berth_bus::outbox::Outbox::new("replication").create_table(backend))
            .await
    }
}

struct NotifyingSources;

impl MigrationName for NotifyingSources {
    fn name(&self) -> &str {
        "m0003_notifying_sources"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for NotifyingSources {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Alias::new("replication_sources"))
                .col(col("registry").string().not_null().primary_key())
                .col(col("notified_since").timestamp_with_time_zone().not_null())
                .to_owned(),
        )
        .await
    }
}

/// Deletions propagate as tasks of their own, retried like copies.
struct DeleteTasks;

impl MigrationName for DeleteTasks {
    fn name(&self) -> &str {
        "m0004_delete_tasks"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for DeleteTasks {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Alias::new("replication_tasks"))
                .add_column(col("action").string().not_null().default("copy"))
                .to_owned(),
        )
        .await
    }
}

/// A claim holds its task for a lease the worker renews while it works; a delivery of a task
/// under a live lease is a duplicate. The replica that ran the task is recorded.
struct TaskLeases;

impl MigrationName for TaskLeases {
    fn name(&self) -> &str {
        "m0005_task_leases"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for TaskLeases {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite adds one at a time.
        m.alter_table(
            Table::alter()
                .table(Alias::new("replication_tasks"))
                .add_column(col("lease_until").timestamp_with_time_zone().null())
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(Alias::new("replication_tasks"))
                .add_column(col("worker").string().not_null().default(""))
                .to_owned(),
        )
        .await?;
        // The sweeper's question: running tasks whose lease ran out.
        m.create_index(
            Index::create()
                .name("replication_tasks_status_lease")
                .table(Alias::new("replication_tasks"))
                .col(Alias::new("status"))
                .col(Alias::new("lease_until"))
                .to_owned(),
        )
        .await
    }
}
