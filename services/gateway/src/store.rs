//! The gateway's own tables: API tokens (hashed) and the audit trail.

use sea_orm_migration::prelude::*;

pub mod api_token {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "gateway_api_tokens")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        /// SHA-256 of the token; the token itself is never stored.
        #[sea_orm(unique)]
        pub hash: String,
        pub principal: String,
        pub created_by: String,
        pub created_at: DateTimeUtc,
        pub expires_at: DateTimeUtc,
        /// Recorded at most once a minute.
        pub last_used_at: Option<DateTimeUtc>,
        /// Whose token it is, for listing: the person an API or login token acts for; empty
        /// for a namespace's pull credential (platform admins only).
        pub owner: String,
    }

    /// The owner of a token acting as `principal` (`login/{registry}/{person}` is the
    /// person's, `namespace/{ns}` nobody's).
    pub fn owner_of(principal: &str) -> String {
        use crate::authn::{LOGIN_PREFIX, NAMESPACE_PREFIX};
        if principal.starts_with(NAMESPACE_PREFIX) {
            String::new()
        } else if let Some(rest) = principal.strip_prefix(LOGIN_PREFIX) {
            rest.split_once('/')
                .map(|(_, person)| person.to_string())
                .unwrap_or_default()
        } else {
            principal.to_string()
        }
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod audit_event {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "gateway_audit_events")]
    pub struct Model {
        /// UUIDv7: ordered by time.
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub time: DateTimeUtc,
        pub principal: String,
        pub action: String,
        pub resource: String,
        pub result: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(CreateTables),
            Box::new(TokenLastUse),
            Box::new(TokenOwner),
        ]
    }

    fn migration_table_name() -> DynIden {
        Alias::new("gateway_migrations").into_iden()
    }
}

#[derive(DeriveIden)]
enum Tokens {
    #[sea_orm(iden = "gateway_api_tokens")]
    Table,
    Id,
    Hash,
    Principal,
    CreatedBy,
    CreatedAt,
    ExpiresAt,
}

#[derive(DeriveIden)]
enum Audit {
    #[sea_orm(iden = "gateway_audit_events")]
    Table,
    Id,
    Time,
    Principal,
    Action,
    Resource,
    Result,
}

struct CreateTables;

impl MigrationName for CreateTables {
    fn name(&self) -> &str {
        "m0001_create_tokens_and_audit"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for CreateTables {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Tokens::Table)
                .col(ColumnDef::new(Tokens::Id).string().not_null().primary_key())
                .col(
                    ColumnDef::new(Tokens::Hash)
                        .string()
                        .not_null()
                        .unique_key(),
                )
                .col(ColumnDef::new(Tokens::Principal).string().not_null())
                .col(ColumnDef::new(Tokens::CreatedBy).string().not_null())
                .col(
                    ColumnDef::new(Tokens::CreatedAt)
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(Tokens::ExpiresAt)
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Audit::Table)
                .col(ColumnDef::new(Audit::Id).string().not_null().primary_key())
                .col(
                    ColumnDef::new(Audit::Time)
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .col(ColumnDef::new(Audit::Principal).string().not_null())
                .col(ColumnDef::new(Audit::Action).string().not_null())
                .col(ColumnDef::new(Audit::Resource).string().not_null())
                .col(ColumnDef::new(Audit::Result).string().not_null())
                .to_owned(),
        )
        .await
    }
}

/// When each token was last used (at most once a minute), for revoking stale ones.
struct TokenLastUse;

impl MigrationName for TokenLastUse {
    fn name(&self) -> &str {
        "m0002_token_last_use"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for TokenLastUse {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Tokens::Table)
                .add_column(
                    ColumnDef::new(Alias::new("last_used_at"))
                        .timestamp_with_time_zone()
                        .null(),
                )
                .to_owned(),
        )
        .await
    }
}

/// Whose each token is, so a person's list is one exact query (names may hold `_` or `%`).
struct TokenOwner;

impl MigrationName for TokenOwner {
    fn name(&self) -> &str {
        "m0003_token_owner"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for TokenOwner {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        use sea_orm::{ActiveModelTrait, EntityTrait, IntoActiveModel, Set};
        m.alter_table(
            Table::alter()
                .table(Tokens::Table)
                .add_column(
                    ColumnDef::new(Alias::new("owner"))
                        .string()
                        .not_null()
                        .default(""),
                )
                .to_owned(),
        )
        .await?;
        let db = m.get_connection();
        for row in api_token::Entity::find().all(db).await? {
            let owner = api_token::owner_of(&row.principal);
            let mut row = row.into_active_model();
            row.owner = Set(owner);
            row.update(db).await?;
        }
        m.create_index(
            Index::create()
                .name("gateway_api_tokens_owner")
                .table(Tokens::Table)
                .col(Alias::new("owner"))
                .to_owned(),
        )
        .await
    }
}
