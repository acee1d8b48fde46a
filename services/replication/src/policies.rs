//! Replication policies: validated, stored as JSON, read back as `berth.v1.Policy`.

use berth_proto::v1::{Endpoint, Filter, GetRegistryAccessRequest, Policy, Trigger};
use chrono::Utc;
use sea_orm::{ActiveModelTrait, EntityTrait, IntoActiveModel, QueryOrder, Set};
use serde::{Deserialize, Serialize};

use crate::entity::policy;
use crate::error::{ReplicationError, Result};
use crate::pattern;
use crate::Replication;

/// A policy as stored. Fields added after the first release default, so older rows still read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Spec {
    pub source_registry: String,
    pub source_space: String,
    pub destination_registry: String,
    pub destination_space: String,
    #[serde(default)]
    pub replace_count: Option<i32>,
    pub filters: Vec<(String, String, bool)>,
    pub trigger: String,
    pub cron: String,
    #[serde(default)]
    pub time_zone: String,
    pub overwrite: bool,
    #[serde(default = "enabled")]
    pub enabled: bool,
    #[serde(default)]
    pub platforms: Vec<String>,
    #[serde(default)]
    pub copy_referrers: bool,
    #[serde(default)]
    pub bandwidth_limit: u64,
    #[serde(default)]
    pub concurrency: u32,
    #[serde(default)]
    pub delete_propagation: bool,
    #[serde(default)]
    pub allow_overlap: bool,
    #[serde(default)]
    pub scan_gate: String,
}

fn enabled() -> bool {
    true
}

/// The most artifacts a policy may copy at once per worker.
pub const MAX_CONCURRENCY: u32 = 64;

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
            replace_count: destination.replace_count,
            filters: p
                .filters
                .iter()
                .map(|f| (f.kind.clone(), f.pattern.clone(), f.exclude))
                .collect(),
            // A schedule belongs to a cron trigger only: another kind keeps none (so a PATCH
            // from cron to manual leaves no unused, unchecked schedule behind).
            cron: if trigger.kind == "cron" {
                trigger.cron
            } else {
                String::new()
            },
            trigger: if trigger.kind.is_empty() {
                "manual".into()
            } else {
                trigger.kind
            },
            time_zone: trigger.time_zone,
            overwrite: p.r#override,
            enabled: p.enabled.unwrap_or(true),
            platforms: p.platforms.clone(),
            copy_referrers: p.copy_referrers.unwrap_or(true),
            bandwidth_limit: p.bandwidth_limit,
            concurrency: p.concurrency,
            delete_propagation: p.delete_propagation,
            allow_overlap: p.allow_overlap,
            scan_gate: p.scan_gate.clone(),
        }
    }

    pub fn to_proto(&self, name: &str, created_at: chrono::DateTime<Utc>) -> Policy {
        Policy {
            name: name.to_string(),
            source: Some(Endpoint {
                registry: self.source_registry.clone(),
                space: self.source_space.clone(),
                replace_count: None,
            }),
            destination: Some(Endpoint {
                registry: self.destination_registry.clone(),
                space: self.destination_space.clone(),
                replace_count: self.replace_count,
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
                time_zone: self.time_zone.clone(),
            }),
            r#override: self.overwrite,
            created_at: Some(prost_types::Timestamp {
                seconds: created_at.timestamp(),
                nanos: 0,
            }),
            enabled: Some(self.enabled),
            platforms: self.platforms.clone(),
            copy_referrers: Some(self.copy_referrers),
            bandwidth_limit: self.bandwidth_limit,
            concurrency: self.concurrency,
            delete_propagation: self.delete_propagation,
            allow_overlap: self.allow_overlap,
            scan_gate: self.scan_gate.clone(),
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

    /// Whether a source repository lies in the policy's source space.
    pub fn in_source_space(&self, repository: &str) -> bool {
        self.source_space.is_empty()
            || repository
                .split_once('/')
                .is_some_and(|(s, _)| s == self.source_space)
    }

    /// The exact values the include filters of `kind` name, when every include filter is a
    /// literal: then nothing needs listing.
    pub fn exact(&self, kind: &str) -> Option<Vec<String>> {
        let includes: Vec<&String> = self
            .filters
            .iter()
            .filter(|(k, _, e)| k == kind && !e)
            .map(|(_, p, _)| p)
            .collect();
        if includes.is_empty() || includes.iter().any(|p| !pattern::is_literal(p)) {
            return None;
        }
        Some(includes.into_iter().cloned().collect())
    }

    /// Leading segments the destination space replaces.
    fn replace_count(&self) -> i32 {
        self.replace_count
            .unwrap_or(if self.source_space.is_empty() { 0 } else { 1 })
    }

    /// The destination repository of a source repository (Harbor's namespace replacement).
    pub fn destination_repository(&self, source: &str) -> std::result::Result<String, String> {
        if self.destination_space.is_empty() && self.replace_count.is_none() {
            return Ok(source.to_string());
        }
        let segments: Vec<&str> = source.split('/').collect();
        let count = self.replace_count();
        let rest = if count < 0 {
            segments[segments.len() - 1..].join("/")
        } else if (count as usize) < segments.len() {
            segments[count as usize..].join("/")
        } else {
            return Err(format!(
                "destination.replace_count {count} leaves nothing of repository {source:?}"
            ));
        };
        Ok(if self.destination_space.is_empty() {
            rest
        } else {
            format!("{}/{rest}", self.destination_space)
        })
    }
}

/// Parses `os/arch[/variant]`.
pub fn parse_platform(p: &str) -> std::result::Result<(String, String, String), String> {
    let parts: Vec<&str> = p.split('/').collect();
    let ok = (2..=3).contains(&parts.len()) && parts.iter().all(|s| !s.is_empty());
    if !ok {
        return Err(format!("{p:?} is not os/arch or os/arch/variant"));
    }
    Ok((
        parts[0].to_string(),
        parts[1].to_string(),
        parts.get(2).map(|v| v.to_string()).unwrap_or_default(),
    ))
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
            Err(s) => Err(crate::error::upstream(s)),
        }
    }

    /// Checks a policy; errors name the field.
    async fn validate(&self, name: &str, spec: &Spec) -> Result<()> {
        check("name", berth_error::validate::dns_label, name)?;
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
            && spec.replace_count.is_none()
        {
            return Err(ReplicationError::invalid(
                "destination",
                "must differ from the source",
            ));
        }
        if spec.source_registry == spec.destination_registry
            && spec.source_space.is_empty()
            && spec.exact("repository").is_none()
        {
            // Every run would copy the last run's copies again, one level deeper.
            return Err(ReplicationError::invalid(
                "source.space",
                "a policy within one registry names its source space (or the repositories \
                 exactly): the whole registry holds the destination too",
            ));
        }
        for (i, (kind, pat, _)) in spec.filters.iter().enumerate() {
            if kind != "repository" && kind != "tag" {
                return Err(ReplicationError::invalid(
                    format!("filters[{i}].kind"),
                    format!("must be \"repository\" or \"tag\", not {kind:?}"),
                ));
            }
            pattern::validate(kind, pat)
                .map_err(|m| ReplicationError::invalid(format!("filters[{i}].pattern"), m))?;
        }
        if let Some(count) = spec.replace_count {
            if count < -1 {
                return Err(ReplicationError::invalid(
                    "destination.replace_count",
                    "must be -1 (keep the last segment) or more",
                ));
            }
            // Repositories named exactly must keep at least one segment; with a source space
            // every repository has at least two.
            let shortest = spec
                .exact("repository")
                .map(|names| names.iter().map(|n| n.split('/').count()).min())
                .unwrap_or(None)
                .unwrap_or(if spec.source_space.is_empty() { 1 } else { 2 });
            if count >= shortest as i32 && spec.exact("repository").is_some() || count >= 16 {
                return Err(ReplicationError::invalid(
                    "destination.replace_count",
                    format!("{count} is beyond the repository path ({shortest} segments)"),
                ));
            }
        }
        match spec.trigger.as_str() {
            "manual" | "push" => {}
            "cron" => {
                berth_runtime::cron::parse(&spec.cron)
                    .map_err(|e| ReplicationError::invalid("trigger.cron", e))?;
            }
            other => {
                return Err(ReplicationError::invalid(
                    "trigger.kind",
                    format!("must be manual, cron or push, not {other:?}"),
                ))
            }
        }
        berth_runtime::cron::time_zone(&spec.time_zone)
            .map_err(|e| ReplicationError::invalid("trigger.time_zone", e))?;
        for p in &spec.platforms {
            parse_platform(p).map_err(|e| ReplicationError::invalid("platforms", e))?;
        }
        if !matches!(
            spec.scan_gate.as_str(),
            "" | "critical" | "high" | "medium" | "low"
        ) {
            return Err(ReplicationError::invalid(
                "scan_gate",
                format!(
                    "must be \"critical\", \"high\", \"medium\", \"low\" or null, not {:?}",
                    spec.scan_gate
                ),
            ));
        }
        if spec.concurrency > MAX_CONCURRENCY {
            return Err(ReplicationError::invalid(
                "concurrency",
                format!("at most {MAX_CONCURRENCY}"),
            ));
        }
        Ok(())
    }

    pub async fn create_policy(&self, p: Policy) -> Result<Policy> {
        let spec = Spec::from_proto(&p);
        self.validate(&p.name, &spec).await?;
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

    /// Changes the fields of policy `change.name` that `mask` names (an empty mask replaces
    /// it whole); see [`masked`].
    pub async fn patch_policy(&self, change: Policy, mask: &[String]) -> Result<Policy> {
        if mask.is_empty() {
            return self.update_policy(change).await;
        }
        let stored = self.get_policy(&change.name).await?;
        self.update_policy(masked(stored, change, mask)?).await
    }

    /// Replaces a policy; its name and creation time stay.
    pub async fn update_policy(&self, p: Policy) -> Result<Policy> {
        let (row, old) = self.policy(&p.name).await?;
        let spec = Spec::from_proto(&p);
        self.validate(&p.name, &spec).await?;
        let created_at = row.created_at;
        let mut m = row.into_active_model();
        m.spec = Set(serde_json::to_string(&spec).expect("spec serializes"));
        m.update(&self.db).await?;
        if old.source_registry != spec.source_registry
            || old.destination_registry != spec.destination_registry
            || old.destination_space != spec.destination_space
            || old.replace_count != spec.replace_count
            || old.platforms != spec.platforms
        {
            // What the records say no longer describes the destination.
            crate::records::forget_policy(&self.db, &p.name).await?;
        }
        Ok(spec.to_proto(&p.name, created_at))
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

    /// Every readable policy: its stored row and spec.
    pub(crate) async fn specs(&self) -> Result<Vec<(policy::Model, Spec)>> {
        let rows = policy::Entity::find()
            .order_by_asc(policy::Column::Name)
            .all(&self.db)
            .await?;
        Ok(rows
            .into_iter()
            .filter_map(|m| serde_json::from_str::<Spec>(&m.spec).ok().map(|s| (m, s)))
            .collect())
    }

    pub async fn get_policy(&self, name: &str) -> Result<Policy> {
        let (m, spec) = self.policy(name).await?;
        Ok(spec.to_proto(&m.name, m.created_at))
    }

    pub async fn list_policies(&self) -> Result<Vec<Policy>> {
        Ok(self
            .specs()
            .await?
            .into_iter()
            .map(|(m, s)| s.to_proto(&m.name, m.created_at))
            .collect())
    }

    pub async fn delete_policy(&self, name: &str) -> Result<()> {
        crate::records::forget_policy(&self.db, name).await?;
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
            replace_count: None,
            filters: filters
                .iter()
                .map(|(k, p, e)| (k.to_string(), p.to_string(), *e))
                .collect(),
            trigger: "manual".into(),
            cron: String::new(),
            time_zone: String::new(),
            overwrite: false,
            enabled: true,
            platforms: vec![],
            copy_referrers: false,
            bandwidth_limit: 0,
            concurrency: 0,
            delete_propagation: false,
            allow_overlap: false,
            scan_gate: String::new(),
        }
    }

    #[test]
    fn naming_keeps_prefixes_or_replaces_leading_segments() {
        let dst = |s: &Spec, r: &str| s.destination_repository(r);
        assert_eq!(dst(&spec("", "", &[]), "team/app").unwrap(), "team/app");
        assert_eq!(
            dst(&spec("", "mirror", &[]), "team/app").unwrap(),
            "mirror/team/app"
        );
        assert_eq!(
            dst(&spec("team", "dr", &[]), "team/app/x").unwrap(),
            "dr/app/x"
        );
        let replace = |n| Spec {
            replace_count: Some(n),
            ..spec("", "dr", &[])
        };
        assert_eq!(dst(&replace(0), "a/b/c").unwrap(), "dr/a/b/c");
        assert_eq!(dst(&replace(2), "a/b/c").unwrap(), "dr/c");
        assert_eq!(dst(&replace(-1), "a/b/c").unwrap(), "dr/c");
        let err = dst(&replace(3), "a/b/c").unwrap_err();
        assert!(err.contains("replace_count"), "{err}");
    }

    #[test]
    fn filters_include_then_exclude() {
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
        assert_eq!(s.exact("repository"), None, "a wildcard needs the catalog");
        let exact = spec(
            "",
            "",
            &[("repository", "team/app", false), ("tag", "v1", false)],
        );
        assert_eq!(
            exact.exact("repository"),
            Some(vec!["team/app".to_string()])
        );
        assert_eq!(exact.exact("tag"), Some(vec!["v1".to_string()]));
    }

    #[test]
    fn platforms_parse() {
        assert!(super::parse_platform("linux/amd64").is_ok());
        assert_eq!(
            super::parse_platform("linux/arm64/v8").unwrap().2,
            "v8".to_string()
        );
        assert!(super::parse_platform("linux").is_err());
        assert!(super::parse_platform("linux//x").is_err());
    }
}

/// `stored` with the fields `mask` names taken from `change` (proto field names; `source.x`,
/// `destination.x` and `trigger.x` name one field of those). A named field `change` leaves
/// unset is reset to its default, as a JSON merge patch's `null` does.
pub fn masked(mut stored: Policy, change: Policy, mask: &[String]) -> Result<Policy> {
    fn part<T: Default + Clone>(from: &Option<T>) -> T {
        from.clone().unwrap_or_default()
    }
    fn into<T: Default>(to: &mut Option<T>) -> &mut T {
        to.get_or_insert_with(T::default)
    }
    for path in mask {
        let (field, sub) = match path.split_once('.') {
            Some((f, s)) => (f, Some(s)),
            None => (path.as_str(), None),
        };
        let (src, dst, trig) = (&change.source, &change.destination, &change.trigger);
        match (field, sub) {
            ("source", None) => stored.source = change.source.clone(),
            ("destination", None) => stored.destination = change.destination.clone(),
            ("trigger", None) => stored.trigger = change.trigger.clone(),
            ("source" | "destination", Some(sub)) => {
                let (from, to): (Endpoint, &mut Endpoint) = if field == "source" {
                    (part(src), into(&mut stored.source))
                } else {
                    (part(dst), into(&mut stored.destination))
                };
                match sub {
                    "registry" => to.registry = from.registry,
                    "space" => to.space = from.space,
                    "replace_count" => to.replace_count = from.replace_count,
                    _ => return Err(not_a_field(path)),
                }
            }
            ("trigger", Some(sub)) => {
                let (from, to): (Trigger, &mut Trigger) = (part(trig), into(&mut stored.trigger));
                match sub {
                    "kind" => to.kind = from.kind,
                    "cron" => to.cron = from.cron,
                    "time_zone" => to.time_zone = from.time_zone,
                    _ => return Err(not_a_field(path)),
                }
            }
            ("filters", None) => stored.filters = change.filters.clone(),
            ("override", None) => stored.r#override = change.r#override,
            ("enabled", None) => stored.enabled = change.enabled,
            ("platforms", None) => stored.platforms = change.platforms.clone(),
            ("copy_referrers", None) => stored.copy_referrers = change.copy_referrers,
            ("bandwidth_limit", None) => stored.bandwidth_limit = change.bandwidth_limit,
            ("concurrency", None) => stored.concurrency = change.concurrency,
            ("delete_propagation", None) => stored.delete_propagation = change.delete_propagation,
            ("allow_overlap", None) => stored.allow_overlap = change.allow_overlap,
            ("scan_gate", None) => stored.scan_gate = change.scan_gate.clone(),
            _ => return Err(not_a_field(path)),
        }
    }
    Ok(stored)
}

fn not_a_field(path: &str) -> ReplicationError {
    ReplicationError::invalid(
        "update_mask",
        format!("{path:?} is not a field of a policy that can change"),
    )
}

#[cfg(test)]
mod mask_tests {
    use super::*;

    fn stored() -> Policy {
        Policy {
            name: "p".into(),
            source: Some(Endpoint {
                registry: "src".into(),
                space: "apps".into(),
                replace_count: None,
            }),
            destination: Some(Endpoint {
                registry: "dst".into(),
                space: "mirror".into(),
                replace_count: Some(1),
            }),
            trigger: Some(Trigger {
                kind: "cron".into(),
                cron: "0 * * * * *".into(),
                time_zone: "UTC".into(),
            }),
            concurrency: 4,
            enabled: Some(true),
            ..Default::default()
        }
    }

    #[test]
    fn only_the_named_fields_change() {
        let change = Policy {
            name: "p".into(),
            source: Some(Endpoint {
                registry: "ignored".into(),
                space: "other".into(),
                replace_count: None,
            }),
            concurrency: 9,
            enabled: Some(false),
            delete_propagation: true,
            ..Default::default()
        };
        let mask = ["source.space", "enabled", "trigger.cron"].map(String::from);
        let p = masked(stored(), change, &mask).unwrap();
        let src = p.source.clone().unwrap();
        assert_eq!(
            (src.registry.as_str(), src.space.as_str()),
            ("src", "other")
        );
        assert_eq!(p.enabled, Some(false));
        assert_eq!(p.concurrency, 4, "not in the mask");
        assert!(!p.delete_propagation, "not in the mask");
        let t = p.trigger.unwrap();
        assert_eq!(
            (t.kind.as_str(), t.cron.as_str()),
            ("cron", ""),
            "reset: named, unset"
        );
    }

    #[test]
    fn an_unknown_path_names_the_mask() {
        for bad in ["name", "created_at", "source.nope", "nope", "filters.kind"] {
            let err = masked(stored(), Policy::default(), &[bad.to_string()]).unwrap_err();
            assert!(
                matches!(&err, ReplicationError::Invalid { field, .. } if field == "update_mask"),
                "{bad}: {err:?}"
            );
        }
    }
}
