//! The `scan_*` tables.

macro_rules! no_relations {
    () => {
        #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
        pub enum Relation {}

        impl ActiveModelBehavior for ActiveModel {}
    };
}

pub mod record {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "scan_records")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub modified: String,
        /// The ecosystems the record names (without releases), comma-separated.
        pub ecosystems: String,
        /// The OSV JSON.
        pub record: String,
    }

    no_relations!();
}

pub mod database {
    use sea_orm::entity::prelude::*;

    /// One row (`id` = "osv"): the database's version and last update.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "scan_database")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub version: i64,
        pub updated_at: Option<DateTimeUtc>,
    }

    no_relations!();
}

pub mod layer {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "scan_layers")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub digest: String,
        /// `crate::inventory::Layer` as JSON.
        pub inventory: String,
        /// Compressed size read.
        pub bytes: i64,
        pub read_at: DateTimeUtc,
    }

    no_relations!();
}

pub mod report {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "scan_reports")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub digest: String,
        pub status: String,
        pub error: String,
        /// `[{platform, digest, layers}]` as JSON: what re-matching and SBOMs rebuild from.
        pub platforms: String,
        /// `[crate::reports::Stored]` as JSON.
        pub findings: String,
        pub summary: String,
        pub unsupported: String,
        pub db_version: i64,
        pub updated_at: DateTimeUtc,
        /// `berth`, or the external scanner's name.
        pub scanner: String,
    }

    no_relations!();
}

pub mod scan {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "scan_scans")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub registry: String,
        pub repository: String,
        pub reference: String,
        pub digest: String,
        pub status: String,
        pub error: String,
        pub trigger: String,
        pub layers_read: i64,
        pub layers_known: i64,
        pub bytes_read: i64,
        pub created_at: DateTimeUtc,
        pub finished_at: Option<DateTimeUtc>,
    }

    no_relations!();
}

pub mod subject {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "scan_subjects")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub registry: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub repository: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub digest: String,
        pub seen_at: DateTimeUtc,
    }

    no_relations!();
}

pub mod allow {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "scan_allowlist")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub vulnerability_id: String,
        /// Empty with `space`: platform-wide.
        #[sea_orm(primary_key, auto_increment = false)]
        pub registry: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub space: String,
        pub expires_at: Option<DateTimeUtc>,
        pub reason: String,
        pub created_by: String,
        pub created_at: DateTimeUtc,
    }

    no_relations!();
}

pub mod sweep {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "scan_sweeps")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub registry: String,
        /// Empty: the whole registry.
        pub space: String,
        /// `all` or `schedule`.
        pub trigger: String,
        /// `planning`, `running`, `complete` or `failed`.
        pub status: String,
        pub error: String,
        pub artifacts: i64,
        pub created_at: DateTimeUtc,
        pub finished_at: Option<DateTimeUtc>,
    }

    no_relations!();
}

pub mod sweep_item {
    use sea_orm::entity::prelude::*;

    /// An artifact a sweep found, and the scan that covers it (one it queued, or one of the
    /// same digest already queued).
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "scan_sweep_items")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub sweep: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub digest: String,
        pub repository: String,
        pub scan: String,
    }

    no_relations!();
}

pub mod scanner {
    use sea_orm::entity::prelude::*;

    /// An external scanner: a Harbor pluggable scanner API adapter.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "scan_scanners")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub name: String,
        pub url: String,
        /// `""`, `Basic`, `Bearer` or `X-ScannerAdapter-API-Key`.
        pub auth: String,
        /// The credential, sealed (`v1:…`); empty when none.
        pub credential: String,
        /// The registries it scans, as a JSON array.
        pub registries: String,
        pub created_at: DateTimeUtc,
    }

    no_relations!();
}

pub mod source {
    use sea_orm::entity::prelude::*;

    /// One export of the configured mirror, and its last fetch.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "scan_sources")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub url: String,
        /// The mirror's `ETag` of the last export imported (empty: none sent).
        pub etag: String,
        /// The sha256 of the last export imported: the same bytes are not imported again.
        pub digest: String,
        /// `imported`, `unchanged` or `failed`.
        pub status: String,
        pub imported: i64,
        pub error: String,
        pub fetched_at: DateTimeUtc,
    }

    no_relations!();
}
