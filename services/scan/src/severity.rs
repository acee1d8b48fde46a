//! Severity of a finding: scored from a CVSS v4.0 or v3.x vector (by the RustSec `cvss` crate,
//! the specifications' formulas), else the record's own rating, else `unknown`.

use std::str::FromStr;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Unknown,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    /// The band a CVSS score falls in (0 is no severity: `Unknown`).
    pub fn of_score(score: f64) -> Self {
        match score {
            s if s >= 9.0 => Self::Critical,
            s if s >= 7.0 => Self::High,
            s if s >= 4.0 => Self::Medium,
            s if s > 0.0 => Self::Low,
            _ => Self::Unknown,
        }
    }

    /// A rating as records write it (`HIGH`, `moderate`, `important`, …).
    pub fn of_rating(rating: &str) -> Self {
        match rating.to_ascii_lowercase().as_str() {
            "critical" => Self::Critical,
            "high" | "important" => Self::High,
            "medium" | "moderate" => Self::Medium,
            "low" | "negligible" => Self::Low,
            _ => Self::Unknown,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unknown => "unknown",
            Self::Low => "low",
            Self::Medium => "medium",
            Self::High => "high",
            Self::Critical => "critical",
        }
    }
}

/// The base score of a CVSS v3.0/v3.1 vector (`CVSS:3.1/AV:N/AC:L/…`), by the RustSec `cvss`
/// crate; `None` when a base metric is missing or unknown.
pub fn cvss3(vector: &str) -> Option<f64> {
    let base = cvss::v3::Base::from_str(vector).ok()?;
    Some(base.score().value())
}

/// The score of a CVSS v4.0 vector (`CVSS:4.0/AV:N/AC:L/AT:N/…`): the specification's
/// macro-vector lookup and interpolation, as the `cvss` crate implements it.
pub fn cvss4(vector: &str) -> Option<f64> {
    let v = cvss::v4::Vector::from_str(vector).ok()?;
    Some(v.score().value())
}

/// The severity and score of a record: its CVSS v4 vector scored, else its CVSS v3 one (the
/// newer scoring, where a record carries both, as GitHub's advisories show it), else a rating
/// it carries (`database_specific.severity`), else unknown.
pub fn of_record(record: &crate::osv::Record) -> (Severity, Option<f64>) {
    let scored = |kind: &str, score: fn(&str) -> Option<f64>| {
        record
            .severity
            .iter()
            .filter(|s| s.kind == kind)
            .find_map(|s| score(&s.score))
    };
    if let Some(score) = scored("CVSS_V4", cvss4).or_else(|| scored("CVSS_V3", cvss3)) {
        return (Severity::of_score(score), Some(score));
    }
    let rating = record
        .database_specific
        .as_ref()
        .and_then(|d| d.get("severity"))
        .and_then(|s| s.as_str());
    (
        rating.map(Severity::of_rating).unwrap_or(Severity::Unknown),
        None,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_scores_as_nvd_publishes_them() {
        for (vector, score) in [
            // CVE-2020-8203 (lodash)
            ("CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:N/I:H/A:H", 7.4),
            // CVE-2021-44228 (log4j)
            ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H", 10.0),
            // CVE-2018-18074 (requests)
            ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N", 7.5),
            ("CVSS:3.0/AV:N/AC:L/PR:N/UI:R/S:U/C:L/I:L/A:N", 5.4),
            ("CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H", 7.8),
            ("CVSS:3.1/AV:N/AC:L/PR:L/UI:R/S:C/C:L/I:L/A:N", 5.4),
            ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N", 0.0),
        ] {
            assert_eq!(cvss3(vector), Some(score), "{vector}");
        }
        assert_eq!(cvss3("CVSS:3.1/AV:X/AC:L"), None);
        assert_eq!(cvss3("AV:N/AC:L/Au:N/C:P/I:P/A:P"), None, "v2 is not v3");
    }

    #[test]
    fn v4_scores_as_first_publishes_them_and_win_over_v3() {
        for (vector, score) in [
            // FIRST's calculator: the highest, a typical network one, and a physical one.
            (
                "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:H/SI:H/SA:H",
                10.0,
            ),
            (
                "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N",
                9.3,
            ),
            (
                "CVSS:4.0/AV:P/AC:H/AT:P/PR:H/UI:A/VC:L/VI:N/VA:N/SC:N/SI:N/SA:N",
                1.0,
            ),
            (
                "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:N/VI:N/VA:N/SC:N/SI:N/SA:N",
                0.0,
            ),
        ] {
            assert_eq!(cvss4(vector), Some(score), "{vector}");
        }
        assert_eq!(cvss4("CVSS:4.0/AV:N/AC:L"), None);
        let record: crate::osv::Record = serde_json::from_str(
            r#"{"id": "GHSA-x", "severity": [
                {"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N"},
                {"type": "CVSS_V4", "score": "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N"}
            ]}"#,
        )
        .unwrap();
        assert_eq!(of_record(&record), (Severity::Critical, Some(9.3)));
    }

    #[test]
    fn bands_and_ratings() {
        assert_eq!(Severity::of_score(9.0), Severity::Critical);
        assert_eq!(Severity::of_score(8.9), Severity::High);
        assert_eq!(Severity::of_score(4.0), Severity::Medium);
        assert_eq!(Severity::of_score(0.1), Severity::Low);
        assert_eq!(Severity::of_rating("MODERATE"), Severity::Medium);
        assert_eq!(Severity::of_rating("whatever"), Severity::Unknown);
    }
}
