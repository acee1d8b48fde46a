//! Digests recorded per policy: what each policy last put at the destination for a source tag.
//!
//! A run asks only the source for a tag's digest and skips the artifact when it matches the
//! record, without asking the destination; records older than the verify interval (or every
//! record, on a run with `verify`) are checked at the destination again. Push and delete events
//! from the source forget the records they touch.
//!
//! A source that sends Berth its notifications is marked notifying from its first event on
//! ([`notified`]); a record made after that is trusted without asking the source at all, since
//! any change to its tag would have arrived as an event and forgotten it.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::OnConflict;
use sea_orm::{ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, Set};

use crate::entity::{record, source};

fn id(policy: &str, repository: &str, tag: &str) -> String {
    format!("{policy}\n{repository}:{tag}")
}

/// A policy's records by (source repository, tag): digest and when it was last verified.
pub async fn load(
    db: &DatabaseConnection,
    policy: &str,
) -> Result<HashMap<(String, String), (String, DateTime<Utc>)>, DbErr> {
    Ok(record::Entity::find()
        .filter(record::Column::Policy.eq(policy))
        .all(db)
        .await?
        .into_iter()
        .map(|r| ((r.repository, r.tag), (r.digest, r.verified_at)))
        .collect())
}

/// Records that `digest` is at the destination for `repository:tag` of `registry`.
pub async fn remember(
    db: &DatabaseConnection,
    policy: &str,
    registry: &str,
    repository: &str,
    tag: &str,
    digest: &str,
) -> Result<(), DbErr> {
    let row = record::ActiveModel {
        id: Set(id(policy, repository, tag)),
        policy: Set(policy.into()),
        registry: Set(registry.into()),
        repository: Set(repository.into()),
        tag: Set(tag.into()),
        digest: Set(digest.into()),
        verified_at: Set(Utc::now()),
    };
    record::Entity::insert(row)
        .on_conflict(
            OnConflict::column(record::Column::Id)
                .update_columns([record::Column::Digest, record::Column::VerifiedAt])
                .to_owned(),
        )
        .exec(db)
        .await?;
    Ok(())
}

/// Marks what every policy recorded for `repository:tag` of `registry` as unverified (a push
/// changed the tag at the source): the next run asks the source and the destination again,
/// while the record still proves what the policy put at the destination, for propagating a
/// later deletion.
pub async fn stale(
    db: &DatabaseConnection,
    registry: &str,
    repository: &str,
    tag: &str,
) -> Result<(), DbErr> {
    use sea_orm::sea_query::Expr;
    record::Entity::update_many()
        .col_expr(
            record::Column::VerifiedAt,
            Expr::value(DateTime::<Utc>::UNIX_EPOCH),
        )
        .filter(record::Column::Registry.eq(registry))
        .filter(record::Column::Repository.eq(repository))
        .filter(record::Column::Tag.eq(tag))
        .exec(db)
        .await?;
    Ok(())
}

/// What `policy` recorded for `repository:tag`: the source registry and the digest.
pub async fn recorded(
    db: &DatabaseConnection,
    policy: &str,
    repository: &str,
    tag: &str,
) -> Result<Option<(String, String)>, DbErr> {
    Ok(record::Entity::find_by_id(id(policy, repository, tag))
        .one(db)
        .await?
        .map(|r| (r.registry, r.digest)))
}

/// Forgets what every policy recorded for `repository` (one tag, or all) of `registry`, except
/// for the records of `kept` policies (whose delete tasks still need them:
/// a record is the proof of what a policy put at the destination).
pub async fn forget_except(
    db: &DatabaseConnection,
    registry: &str,
    repository: &str,
    tag: Option<&str>,
    kept: &[String],
) -> Result<(), DbErr> {
    let mut q = record::Entity::delete_many()
        .filter(record::Column::Registry.eq(registry))
        .filter(record::Column::Repository.eq(repository));
    if !kept.is_empty() {
        q = q.filter(record::Column::Policy.is_not_in(kept.to_vec()));
    }
    if let Some(tag) = tag {
        q = q.filter(record::Column::Tag.eq(tag));
    }
    q.exec(db).await?;
    Ok(())
}

/// Forgets everything a policy recorded (it was deleted or now writes elsewhere).
pub async fn forget_policy(db: &DatabaseConnection, policy: &str) -> Result<(), DbErr> {
    record::Entity::delete_many()
        .filter(record::Column::Policy.eq(policy))
        .exec(db)
        .await?;
    Ok(())
}

/// Marks `registry` as notifying (from now, if it was not yet).
pub async fn notified(db: &DatabaseConnection, registry: &str) -> Result<(), DbErr> {
    let row = source::ActiveModel {
        registry: Set(registry.into()),
        notified_since: Set(Utc::now()),
    };
    source::Entity::insert(row)
        .on_conflict(
            OnConflict::column(source::Column::Registry)
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    Ok(())
}

/// Since when `registry` has sent notifications, if it has.
pub async fn notifying_since(
    db: &DatabaseConnection,
    registry: &str,
) -> Result<Option<DateTime<Utc>>, DbErr> {
    Ok(source::Entity::find_by_id(registry.to_string())
        .one(db)
        .await?
        .map(|s| s.notified_since))
}

/// Forgets what `policy` recorded for `repository:tag`.
pub async fn forget_tag(
    db: &DatabaseConnection,
    policy: &str,
    repository: &str,
    tag: &str,
) -> Result<(), DbErr> {
    record::Entity::delete_by_id(id(policy, repository, tag))
        .exec(db)
        .await?;
    Ok(())
}
