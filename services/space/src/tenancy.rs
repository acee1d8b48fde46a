//! The tenancy domain shared by [`crate::spaces`], [`crate::workspaces`], [`crate::bindings`]
//! and [`crate::access`]: its state, conversions and the events it publishes.

use berth_bus::outbox::Outbox;
use berth_bus::Message;
use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter};
use serde::Serialize;

use crate::directory::Directory;
use crate::entity::{space, workspace};
use crate::error::{Result, SpaceError};

pub const ROLES: [&str; 3] = ["workspace-admin", "workspace-editor", "workspace-viewer"];
pub const DEFAULT_PAGE: usize = 50;
pub const MAX_PAGE: usize = 500;

/// Spaces, workspaces, namespaces, members and bindings.
#[derive(Clone)]
pub struct Tenancy {
    pub(crate) db: DatabaseConnection,
    pub(crate) outbox: Outbox,
    pub(crate) directory: Directory,
    /// One robot sync at a time per (registry, workspace), so the last to run carries the
    /// latest bindings.
    pub(crate) robot_locks: crate::harbor::RobotLocks,
}

pub fn page_size(requested: i32) -> usize {
    match requested {
        n if n <= 0 => DEFAULT_PAGE,
        n => (n as usize).min(MAX_PAGE),
    }
}

pub fn timestamp(t: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: t.timestamp(),
        nanos: t.timestamp_subsec_nanos() as i32,
    }
}

/// Checks a field with a shared rule, naming the field in the error.
pub fn check(
    field: &'static str,
    rule: fn(&str) -> std::result::Result<(), String>,
    value: &str,
) -> Result<()> {
    rule(value).map_err(|m| SpaceError::invalid(field, m))
}

impl Tenancy {
    pub fn new(db: DatabaseConnection, outbox: Outbox, directory: Directory) -> Self {
        Self {
            db,
            outbox,
            directory,
            robot_locks: Default::default(),
        }
    }

    pub fn outbox(&self) -> &Outbox {
        &self.outbox
    }

    pub fn directory(&self) -> &Directory {
        &self.directory
    }

    pub(crate) async fn enqueue<C: ConnectionTrait>(
        &self,
        conn: &C,
        kind: &str,
        payload: &impl Serialize,
    ) -> Result<()> {
        self.outbox
            .enqueue(conn, &Message::new(kind, payload))
            .await
            .map_err(|e| SpaceError::Internal(format!("outbox: {e}")))
    }

    pub(crate) async fn find_space<C: ConnectionTrait>(
        &self,
        conn: &C,
        registry: &str,
        name: &str,
    ) -> Result<space::Model> {
        space::Entity::find()
            .filter(space::Column::Registry.eq(registry))
            .filter(space::Column::Name.eq(name))
            .one(conn)
            .await?
            .ok_or_else(|| SpaceError::NotFound(format!("space {registry}/{name} not found")))
    }

    pub(crate) async fn find_workspace<C: ConnectionTrait>(
        &self,
        conn: &C,
        name: &str,
    ) -> Result<workspace::Model> {
        workspace::Entity::find_by_id(name.to_string())
            .one(conn)
            .await?
            .ok_or_else(|| SpaceError::NotFound(format!("workspace {name:?} not found")))
    }
}
