//! The replication service's schema, recorded in `replication_migrations`.

use sea_orm_migration::prelude::*;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![Box::new(CreateTables)]
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
