//! A space's scan policy: when its artifacts are scanned (on push, on a schedule) and what the
//! access rule asks of their reports (a severity gate, and what an unscanned artifact gets).
//! Stored with the space as JSON; the gate itself is decided by the scan service, which the
//! gateway asks when the space's part of the rule allows a pull ([`Tenancy::gate_of`]).

use berth_proto::v1::{Gate, ScanPolicy};
use serde::{Deserialize, Serialize};

use crate::entity::space;
use crate::error::{Result, SpaceError};
use crate::tenancy::Tenancy;

pub const GATES: [&str; 4] = ["critical", "high", "medium", "low"];

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct Stored {
    on_push: bool,
    #[serde(default)]
    cron: String,
    #[serde(default)]
    time_zone: String,
    #[serde(default)]
    gate: String,
    #[serde(default)]
    unscanned: String,
    #[serde(default)]
    attach_sbom: bool,
}

/// `p` checked and completed (`unscanned` defaults to `allow`), or what is wrong with it,
/// naming the field (`scan.gate`, `scan.cron`, …).
pub fn validated(p: &ScanPolicy) -> Result<ScanPolicy> {
    if !p.gate.is_empty() && !GATES.contains(&p.gate.as_str()) {
        return Err(SpaceError::invalid(
            "scan.gate",
            format!(
                "must be \"critical\", \"high\", \"medium\", \"low\" or null, not {:?}",
                p.gate
            ),
        ));
    }
    let unscanned = match p.unscanned.as_str() {
        "" | "allow" => "allow",
        "deny" => "deny",
        other => {
            return Err(SpaceError::invalid(
                "scan.unscanned",
                format!("must be \"allow\" or \"deny\", not {other:?}"),
            ))
        }
    };
    if !p.cron.is_empty() {
        berth_runtime::cron::parse(&p.cron).map_err(|m| SpaceError::invalid("scan.cron", m))?;
    }
    berth_runtime::cron::time_zone(&p.time_zone)
        .map_err(|m| SpaceError::invalid("scan.time_zone", m))?;
    Ok(ScanPolicy {
        unscanned: unscanned.into(),
        ..p.clone()
    })
}

/// The stored form of a policy.
pub fn to_json(p: &ScanPolicy) -> String {
    serde_json::to_string(&Stored {
        on_push: p.on_push,
        cron: p.cron.clone(),
        time_zone: p.time_zone.clone(),
        gate: p.gate.clone(),
        unscanned: p.unscanned.clone(),
        attach_sbom: p.attach_sbom,
    })
    .expect("a policy serializes")
}

/// The policy a space row holds, if any.
pub fn of(m: &space::Model) -> Option<ScanPolicy> {
    if m.scan_policy.is_empty() {
        return None;
    }
    let s: Stored = serde_json::from_str(&m.scan_policy).ok()?;
    Some(ScanPolicy {
        on_push: s.on_push,
        cron: s.cron,
        time_zone: s.time_zone,
        gate: s.gate,
        unscanned: s.unscanned,
        attach_sbom: s.attach_sbom,
    })
}

impl Tenancy {
    /// The gate a pull of `repository` (at `reference`) from `registry` must still pass: set
    /// when the repository's space has a scan policy with a severity gate.
    pub async fn gate_of(
        &self,
        registry: &str,
        repository: &str,
        reference: &str,
    ) -> Result<Option<Gate>> {
        let Some((space_name, _)) = repository.split_once('/') else {
            return Ok(None);
        };
        let space = match self.find_space(&self.db, registry, space_name).await {
            Ok(s) => s,
            Err(SpaceError::NotFound(_)) => return Ok(None),
            Err(e) => return Err(e),
        };
        // A severity gate, or a policy that denies unscanned artifacts (with no gate, that
        // rule alone applies).
        Ok(of(&space)
            .filter(|p| !p.gate.is_empty() || p.unscanned == "deny")
            .map(|policy| Gate {
                registry: registry.into(),
                repository: repository.into(),
                reference: reference.into(),
                space: space.name.clone(),
                policy: Some(policy),
            }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policies_are_checked_naming_the_field() {
        let ok = validated(&ScanPolicy {
            on_push: true,
            gate: "high".into(),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(ok.unscanned, "allow");
        let field = |p: ScanPolicy| match validated(&p).unwrap_err() {
            SpaceError::Invalid { field, .. } => field,
            e => panic!("{e}"),
        };
        let bad = |f: fn(&mut ScanPolicy)| {
            let mut p = ScanPolicy::default();
            f(&mut p);
            p
        };
        assert_eq!(field(bad(|p| p.gate = "severe".into())), "scan.gate");
        assert_eq!(
            field(bad(|p| p.unscanned = "maybe".into())),
            "scan.unscanned"
        );
        assert_eq!(field(bad(|p| p.cron = "every day".into())), "scan.cron");
        assert_eq!(
            field(bad(|p| p.time_zone = "Mars/Base".into())),
            "scan.time_zone"
        );
    }

    #[test]
    fn a_stored_policy_reads_back() {
        let p = validated(&ScanPolicy {
            on_push: true,
            cron: "0 3 * * *".into(),
            time_zone: "Europe/Paris".into(),
            gate: "critical".into(),
            unscanned: "deny".into(),
            attach_sbom: true,
        })
        .unwrap();
        let m = space::Model {
            id: "x".into(),
            registry: "r".into(),
            name: "s".into(),
            visibility: "private".into(),
            quota_bytes: 0,
            description: String::new(),
            created_at: chrono::Utc::now(),
            updated_at: chrono::Utc::now(),
            scan_policy: to_json(&p),
        };
        assert_eq!(of(&m), Some(p));
    }
}
