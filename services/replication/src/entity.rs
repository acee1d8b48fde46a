//! The `replication_*` tables.

pub mod policy {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "replication_policies")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub name: String,
        /// The policy as JSON (`crate::policies::Spec`).
        pub spec: String,
        pub created_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod execution {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "replication_executions")]
    pub struct Model {
        /// UUIDv7: ordered by start.
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub policy: String,
        pub status: String,
        pub total: i64,
        pub succeeded: i64,
        pub failed: i64,
        pub skipped: i64,
        pub bytes: i64,
        pub error: String,
        pub started_at: DateTimeUtc,
        pub finished_at: Option<DateTimeUtc>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
