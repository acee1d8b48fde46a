//! The `replication_*` tables.

use sea_orm::entity::prelude::*;

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

/// Where an execution or a task stands (stored as its lower-case name).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
pub enum Status {
    #[sea_orm(string_value = "pending")]
    Pending,
    #[sea_orm(string_value = "running")]
    Running,
    #[sea_orm(string_value = "succeeded")]
    Succeeded,
    #[sea_orm(string_value = "failed")]
    Failed,
    #[sea_orm(string_value = "cancelled")]
    Cancelled,
    /// A task only: nothing to do (up to date, filtered out, or left alone with a reason).
    #[sea_orm(string_value = "skipped")]
    Skipped,
}

impl Status {
    /// Not yet ended.
    pub const ACTIVE: [Status; 2] = [Status::Pending, Status::Running];

    pub fn is_final(self) -> bool {
        !Self::ACTIVE.contains(&self)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Running => "running",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
            Self::Skipped => "skipped",
        }
    }

    /// The status a filter names (`?status=failed`), if any.
    pub fn parse(s: &str) -> Option<Self> {
        <Self as sea_orm::Iterable>::iter().find(|v| v.as_str() == s)
    }
}

/// What a task does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
pub enum Action {
    /// Copies the artifact to the destination.
    #[sea_orm(string_value = "copy")]
    Copy,
    /// Propagates a deletion at the source.
    #[sea_orm(string_value = "delete")]
    Delete,
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
        pub status: super::Status,
        pub total: i64,
        pub succeeded: i64,
        pub failed: i64,
        pub skipped: i64,
        pub bytes: i64,
        pub error: String,
        pub started_at: DateTimeUtc,
        pub finished_at: Option<DateTimeUtc>,
        /// "manual", "cron" or "push".
        pub trigger: String,
        /// Artifacts skipped at planning because their recorded digest still matches.
        pub known: i64,
        /// Re-check every artifact at the destination.
        pub verify: bool,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod task {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "replication_tasks")]
    pub struct Model {
        /// Derived from the execution and the artifact, so planning twice adds nothing.
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub execution: String,
        pub policy: String,
        pub source_repository: String,
        pub destination_repository: String,
        pub reference: String,
        pub status: super::Status,
        pub attempts: i32,
        pub bytes: i64,
        pub digest: String,
        pub error: String,
        /// The delivery that owns the task now; only its owner may finish it.
        pub claim: String,
        pub started_at: Option<DateTimeUtc>,
        pub finished_at: Option<DateTimeUtc>,
        /// What the task does; for a deletion, `digest` is what the policy put at the
        /// destination for the tag, the only thing it may delete.
        pub action: super::Action,
        /// Until when the current claim holds the task (renewed while it runs); none once the
        /// task waits or ended.
        pub lease_until: Option<DateTimeUtc>,
        /// The replica that claimed the task last (`BERTH_REPLICA`).
        pub worker: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod record {
    use sea_orm::entity::prelude::*;

    /// The digest a policy last put at the destination for a source tag.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "replication_records")]
    pub struct Model {
        /// `{policy}\n{source repository}:{tag}`.
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub policy: String,
        pub registry: String,
        pub repository: String,
        pub tag: String,
        pub digest: String,
        pub verified_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod source {
    use sea_orm::entity::prelude::*;

    /// A registry that sends Berth its push and delete notifications, and since when.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "replication_sources")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub registry: String,
        pub notified_since: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
