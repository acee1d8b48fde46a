//! What each layer holds, kept in `scan_layers` by digest: a layer is read from a registry once,
//! ever, whichever image, repository or registry it is part of; re-matching and SBOMs read the
//! table, never a registry.

use std::sync::Arc;

use chrono::Utc;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, Set};

use crate::entity::layer;
use crate::inventory::Layer;
use crate::scanner::{Flights, Layers};

pub struct TableLayers {
    db: DatabaseConnection,
    flights: Flights,
}

impl TableLayers {
    pub fn new(db: DatabaseConnection) -> Self {
        Self {
            db,
            flights: Flights::default(),
        }
    }

    /// The inventories of `digests` that are known, by digest.
    pub async fn many(
        &self,
        digests: &[String],
    ) -> anyhow::Result<std::collections::HashMap<String, Arc<Layer>>> {
        let mut out = std::collections::HashMap::new();
        for chunk in digests.chunks(500) {
            for m in layer::Entity::find()
                .filter(layer::Column::Digest.is_in(chunk.iter().cloned()))
                .all(&self.db)
                .await?
            {
                out.insert(m.digest, Arc::new(serde_json::from_str(&m.inventory)?));
            }
        }
        Ok(out)
    }
}

#[async_trait::async_trait]
impl Layers for TableLayers {
    async fn known(&self, digest: &str) -> anyhow::Result<Option<Arc<Layer>>> {
        let Some(m) = layer::Entity::find_by_id(digest).one(&self.db).await? else {
            return Ok(None);
        };
        Ok(Some(Arc::new(serde_json::from_str(&m.inventory)?)))
    }

    async fn keep(&self, digest: &str, l: Layer, bytes: u64) -> anyhow::Result<Arc<Layer>> {
        let row = layer::ActiveModel {
            digest: Set(digest.to_string()),
            inventory: Set(serde_json::to_string(&l)?),
            bytes: Set(bytes.min(i64::MAX as u64) as i64),
            read_at: Set(Utc::now()),
        };
        // Another replica may have read it meanwhile: the same digest holds the same files.
        layer::Entity::insert(row)
            .on_conflict(
                OnConflict::column(layer::Column::Digest)
                    .do_nothing()
                    .to_owned(),
            )
            .do_nothing()
            .exec(&self.db)
            .await?;
        metrics::counter!("berth_scan_layers_read_total").increment(1);
        metrics::counter!("berth_scan_layer_bytes_read_total").increment(bytes);
        Ok(Arc::new(l))
    }

    fn flights(&self) -> &Flights {
        &self.flights
    }
}
