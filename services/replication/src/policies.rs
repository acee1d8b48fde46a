//! Replication policies: validated, stored as JSON, read back as `berth.v1.Policy`.

use berth_error::ApiError;
use berth_proto::v1::{Endpoint, Filter, GetRegistryAccessRequest, Policy, Trigger};
use chrono::Utc;
use sea_orm::{ActiveModelTrait, EntityTrait, QueryOrder, Set};
use serde::{Deserialize, Serialize};

use crate::entity::policy;
use crate::error::{ReplicationError, Result};
use crate::pattern;
use crate::Replication;

/// A policy as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Spec {
    pub source_registry: String,
    pub source_space: String,
    pub destination_registry: String,
    pub destination_space: String,
    pub filters: Vec<(String, String, bool)>,
    pub trigger: String,
    pub cron: String,
    pub overwrite: bool,
}

impl Spec {
    fn from_proto(p: &Policy) -> Self {
        let source = p.source.clone().unwrap_or_default();
        let destination = p.destination.clone().unwrap_or_default();
        let trigger = p.trigger.clone().unwrap_or_default();
        Self {
            source_registry: source.registry,
            source_space: source.space,
            destination_registry: destination.registry,
            destination_space: destination.space,
            filters: p
                .filters
                .iter()
                .map(|f| (f.kind.clone(), f.pattern.clone(), f.exclude))
                .collect(),
            trigger: if trigger.kind.is_empty() {
                "manual".into()
            } else {
                trigger.kind
            },
            cron: trigger.cron,
            overwrite: p.r#override,
        }
    }

    pub fn to_proto(&self, name: &str, created_at: chrono::DateTime<Utc>) -> Policy {
        Policy {
            name: name.to_string(),
            source: Some(Endpoint {
                registry: self.source_registry.clone(),
                space: self.source_space.clone(),
            }),
            destination: Some(Endpoint {
                registry: self.destination_registry.clone(),
                space: self.destination_space.clone(),
            }),
            filters: self
                .filters
                .iter()
                .map(|(k, p, e)| Filter {
                    kind: k.clone(),
                    pattern: p.clone(),
                    exclude: *e,
                })
                .collect(),
            trigger: Some(Trigger {
                kind: self.trigger.clone(),
                cron: self.cron.clone(),
            }),
            r#override: self.overwrite,
            created_at: Some(prost_types::Timestamp {
                seconds: created_at.timestamp(),
                nanos: 0,
            }),
        }
    }

    /// Whether `value` (a repository or a tag) passes the filters of `kind`.
    pub fn admits(&self, kind: &str, value: &str) -> bool {
        let of_kind: Vec<&(String, String, bool)> =
            self.filters.iter().filter(|(k, _, _)| k == kind).collect();
        let includes: Vec<&&(String, String, bool)> =
            of_kind.iter().filter(|(_, _, e)| !e).collect();
        let included =
            includes.is_empty() || includes.iter().any(|(_, p, _)| pattern::matches(p, value));
        included
            && !of_kind
                .iter()
                .any(|(_, p, e)| *e && pattern::matches(p, value))
    }

    /// The destination repository of a source repository.
    pub fn destination_repository(&self, source: &str) -> String {
        match (
            self.source_space.is_empty(),
            self.destination_space.is_empty(),
        ) {
            (_, true) => source.to_string(),
            (true, false) => format!("{}/{source}", self.destination_space),
            (false, false) => {
                let rest = source.split_once('/').map_or(source, |(_, r)| r);
                format!("{}/{rest}", self.destination_space)
            }
        }
    }
}

fn check(
    field: &str,
    rule: fn(&str) -> std::result::Result<(), String>,
    value: &str,
) -> Result<()> {
    rule(value).map_err(|m| ReplicationError::invalid(field, m))
}

impl Replication {
    async fn registry_exists(&self, field: &str, name: &str) -> Result<()> {
        check(field, berth_error::validate::dns_label, name)?;
        match self
            .provisioning
            .clone()
            .get_registry_access(GetRegistryAccessRequest {
                registry: name.into(),
            })
            .await
        {
            Ok(_) => Ok(()),
            Err(s) if s.code() == tonic::Code::NotFound => Err(ReplicationError::invalid(
                field,
                format!("registry {name:?} is not integrated"),
            )),
            Err(s) => Err(ReplicationError::Upstream(ApiError::from_status(
                "registry service",
                &s,
            ))),
        }
    }

    pub async fn create_policy(&self, p: Policy) -> Result<Policy> {
        check("name", berth_error::validate::dns_label, &p.name)?;
        let spec = Spec::from_proto(&p);
        self.registry_exists("source.registry", &spec.source_registry)
            .await?;
        self.registry_exists("destination.registry", &spec.destination_registry)
            .await?;
        for (field, space) in [
            ("source.space", &spec.source_space),
            ("destination.space", &spec.destination_space),
        ] {
            if !space.is_empty() {
                check(field, berth_error::validate::path_component, space)?;
            }
        }
        if spec.source_registry == spec.destination_registry
            && spec.source_space == spec.destination_space
        {
            return Err(ReplicationError::invalid(
                "destination",
                "must differ from the source",
            ));
        }
        for (kind, pat, _) in &spec.filters {
            if kind != "repository" && kind != "tag" {
                return Err(ReplicationError::invalid(
                    "filters.kind",
                    format!("must be \"repository\" or \"tag\", not {kind:?}"),
                ));
            }
            check("filters.pattern", pattern::validate, pat)?;
        }
        match spec.trigger.as_str() {
            "manual" | "push" => {}
            "cron" => {
                crate::scheduler::parse(&spec.cron).map_err(|e| {
                    ReplicationError::invalid("trigger.cron", format!("not a cron schedule: {e}"))
                })?;
            }
            other => {
                return Err(ReplicationError::invalid(
                    "trigger.kind",
                    format!("must be manual, cron or push, not {other:?}"),
                ))
            }
        }
        if policy::Entity::find_by_id(p.name.clone())
            .one(&self.db)
            .await?
            .is_some()
        {
            return Err(ReplicationError::Conflict(format!(
                "a policy named {:?} already exists",
                p.name
            )));
        }
        let now = Utc::now();
        policy::ActiveModel {
            name: Set(p.name.clone()),
            spec: Set(serde_json::to_string(&spec).expect("spec serializes")),
            created_at: Set(now),
        }
        .insert(&self.db)
        .await?;
        Ok(spec.to_proto(&p.name, now))
    }

    /// The stored policy and its spec.
    pub(crate) async fn policy(&self, name: &str) -> Result<(policy::Model, Spec)> {
        let m = policy::Entity::find_by_id(name.to_string())
            .one(&self.db)
            .await?
            .ok_or_else(|| ReplicationError::NotFound(format!("policy {name:?} not found")))?;
        let spec: Spec = serde_json::from_str(&m.spec).map_err(|e| {
            ReplicationError::NotFound(format!("policy {name:?} is unreadable: {e}"))
        })?;
        Ok((m, spec))
    }

    pub async fn get_policy(&self, name: &str) -> Result<Policy> {
        let (m, spec) = self.policy(name).await?;
        Ok(spec.to_proto(&m.name, m.created_at))
    }

    pub async fn list_policies(&self) -> Result<Vec<Policy>> {
        let rows = policy::Entity::find()
            .order_by_asc(policy::Column::Name)
            .all(&self.db)
            .await?;
        Ok(rows
            .into_iter()
            .filter_map(|m| {
                serde_json::from_str::<Spec>(&m.spec)
                    .ok()
                    .map(|s| s.to_proto(&m.name, m.created_at))
            })
            .collect())
    }

    pub async fn delete_policy(&self, name: &str) -> Result<()> {
        let deleted = policy::Entity::delete_by_id(name.to_string())
            .exec(&self.db)
            .await?;
        if deleted.rows_affected == 0 {
            return Err(ReplicationError::NotFound(format!(
                "policy {name:?} not found"
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::Spec;

    fn spec(src: &str, dst: &str, filters: &[(&str, &str, bool)]) -> Spec {
        Spec {
            source_registry: "a".into(),
            source_space: src.into(),
            destination_registry: "b".into(),
            destination_space: dst.into(),
            filters: filters
                .iter()
                .map(|(k, p, e)| (k.to_string(), p.to_string(), *e))
                .collect(),
            trigger: "manual".into(),
            cron: String::new(),
            overwrite: false,
        }
    }

    #[test]
    fn naming_and_filters() {
        assert_eq!(
            spec("", "", &[]).destination_repository("team/app"),
            "team/app"
        );
        assert_eq!(
            spec("", "mirror", &[]).destination_repository("team/app"),
            "mirror/team/app"
        );
        assert_eq!(
            spec("team", "dr", &[]).destination_repository("team/app/x"),
            "dr/app/x"
        );
        let s = spec(
            "",
            "",
            &[
                ("repository", "team/**", false),
                ("repository", "team/secret", true),
                ("tag", "v*", false),
            ],
        );
        assert!(s.admits("repository", "team/app"));
        assert!(!s.admits("repository", "team/secret"));
        assert!(!s.admits("repository", "other/app"));
        assert!(s.admits("tag", "v1"));
        assert!(!s.admits("tag", "latest"));
    }
}
