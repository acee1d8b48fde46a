//! Cron schedules, read one way everywhere (replication policies, scan policies, reclaim
//! rules): 5 fields, or 6 with seconds first, in an IANA time zone (UTC when none is set), with
//! what is wrong with a bad one said in Berth's words, naming the field at fault.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use croner::Cron;

/// Parses a schedule, or says what is wrong with it, naming the field at fault.
pub fn parse(expression: &str) -> Result<Cron, String> {
    if let Some(problem) = explain(expression) {
        return Err(problem);
    }
    let cron = Cron::new(expression)
        .with_seconds_optional()
        .parse()
        .map_err(|e| format!("{expression:?} is not a schedule Berth can read ({e})"))?;
    // A schedule such as "0 0 31 2 *" (February 31st) reads well and never falls due.
    if cron
        .find_next_occurrence(&Utc::now().with_timezone(&Tz::UTC), false)
        .is_err()
    {
        return Err(format!(
            "{expression:?} never falls due (no such day in any month it names)"
        ));
    }
    Ok(cron)
}

/// The fields of a schedule: name, lowest and highest value, and the names it may use.
const FIELDS: [(&str, u32, u32, &[&str]); 6] = [
    ("second", 0, 59, &[]),
    ("minute", 0, 59, &[]),
    ("hour", 0, 23, &[]),
    ("day of month", 1, 31, &[]),
    (
        "month",
        1,
        12,
        &[
            "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
        ],
    ),
    (
        "day of week",
        0,
        7,
        &["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"],
    ),
];

/// The first thing wrong with a schedule, in Berth's words: the field count, or the field and
/// value out of range. `None` when the fields look right.
fn explain(expression: &str) -> Option<String> {
    let fields: Vec<&str> = expression.split_whitespace().collect();
    let named = match fields.len() {
        5 => &FIELDS[1..],
        6 => &FIELDS[..],
        n => {
            return Some(format!(
                "{expression:?} has {n} field{}: a schedule has 5 (minute hour day-of-month month \
                 day-of-week, e.g. \"0 3 * * *\" for 03:00 every day) or 6 (seconds first)",
                if n == 1 { "" } else { "s" }
            ))
        }
    };
    for (value, (name, low, high, names)) in fields.iter().zip(named) {
        for item in value.split(',') {
            let (range, step) = match item.split_once('/') {
                Some((r, s)) => (r, Some(s)),
                None => (item, None),
            };
            if let Some(step) = step {
                if !step.parse::<u32>().is_ok_and(|s| s >= 1 && s <= *high) {
                    return Some(format!(
                        "the {name} field {value:?}: the step after '/' must be a number from 1 to {high}"
                    ));
                }
            }
            if matches!(range, "*" | "?") {
                continue;
            }
            // `5#3`: the third Friday; `L`, `5L`, `15W`: the last day, the last Friday, the
            // weekday nearest the 15th.
            let range = match range.split_once('#') {
                Some((day, nth)) if *name == "day of week" => {
                    if !nth.parse::<u32>().is_ok_and(|n| (1..=5).contains(&n)) {
                        return Some(format!(
                            "the {name} field {value:?}: the week after '#' must be from 1 to 5"
                        ));
                    }
                    day
                }
                Some(_) => {
                    return Some(format!(
                        "the {name} field {value:?}: only the day of week takes '#'"
                    ))
                }
                None => range,
            };
            let range = match *name {
                // `L`, `LW`, `L-3`: the last day, its nearest weekday, three days before it.
                "day of month" if range.starts_with('L') => continue,
                "day of month" => range.strip_suffix('W').unwrap_or(range),
                "day of week" => range.strip_suffix('L').unwrap_or(range),
                _ => range,
            };
            if range.split('-').count() > 2 {
                return Some(format!(
                    "the {name} field {value:?}: a range is FROM-TO, with one '-'"
                ));
            }
            let mut bounds = Vec::new();
            for bound in range.split('-') {
                let n = match bound.parse::<u32>() {
                    Ok(n) if (*low..=*high).contains(&n) => Some(n),
                    Ok(_) => None,
                    Err(_) => names
                        .iter()
                        .position(|n| *n == bound.to_ascii_uppercase())
                        .map(|i| i as u32 + *low),
                };
                let Some(n) = n else {
                    let words = if names.is_empty() {
                        String::new()
                    } else {
                        format!(" or {}-{}", names[0], names[names.len() - 1])
                    };
                    return Some(format!(
                        "the {name} field {value:?}: {bound:?} is not from {low} to {high}{words}"
                    ));
                };
                bounds.push(n);
            }
            if let [from, to] = bounds[..] {
                if from > to {
                    return Some(format!(
                        "the {name} field {value:?}: a range runs from low to high ({to}-{from})"
                    ));
                }
            }
        }
    }
    None
}

/// Parses an IANA time zone name; empty is UTC.
pub fn time_zone(name: &str) -> Result<Tz, String> {
    if name.is_empty() {
        return Ok(Tz::UTC);
    }
    name.parse::<Tz>()
        .map_err(|_| format!("{name:?} is not an IANA time zone (such as Europe/Paris)"))
}

/// The first tick of `schedule`, read in `tz`, after `after` and no later than `now`, if any.
pub fn due(
    schedule: &Cron,
    tz: Tz,
    after: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    schedule
        .find_next_occurrence(&after.with_timezone(&tz), false)
        .ok()
        .map(|t| t.with_timezone(&Utc))
        .filter(|t| *t <= now)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn schedules_parse_and_fall_due() {
        assert!(parse("*/5 * * * *").is_ok());
        assert!(parse("*/2 * * * * *").is_ok(), "seconds");
        assert!(parse("every day").is_err());
        assert!(parse("61 * * * *").is_err());
        let s = parse("0 * * * *").unwrap();
        let at = |h, m| Utc.with_ymd_and_hms(2026, 1, 1, h, m, 0).unwrap();
        assert_eq!(due(&s, Tz::UTC, at(9, 59), at(10, 0)), Some(at(10, 0)));
        assert_eq!(due(&s, Tz::UTC, at(10, 0), at(10, 30)), None);
        // 02:30 every day in Kolkata (UTC+05:30) is 21:00 UTC the day before.
        let daily = parse("30 2 * * *").unwrap();
        let kolkata = time_zone("Asia/Kolkata").unwrap();
        assert_eq!(due(&daily, kolkata, at(20, 59), at(21, 0)), Some(at(21, 0)));
        assert_eq!(due(&daily, Tz::UTC, at(20, 59), at(21, 0)), None);
        assert!(time_zone("Mars/Olympus").is_err());
    }

    #[test]
    fn bad_schedules_are_explained_naming_the_field() {
        let e = parse("every day").unwrap_err();
        assert!(e.contains("has 2 fields: a schedule has 5"), "{e}");
        let e = parse("61 * * * *").unwrap_err();
        assert_eq!(e, "the minute field \"61\": \"61\" is not from 0 to 59");
        let e = parse("0 25 * * *").unwrap_err();
        assert!(e.starts_with("the hour field"), "{e}");
        let e = parse("0 0 * FOO *").unwrap_err();
        assert!(e.contains("JAN-DEC"), "{e}");
        let e = parse("*/0 * * * *").unwrap_err();
        assert!(e.contains("step"), "{e}");
        let e = parse("0 0 0 * *").unwrap_err();
        assert!(e.starts_with("the day of month field"), "{e}");
        let e = parse("1-2-3 * * * *").unwrap_err();
        assert!(e.contains("a range is FROM-TO"), "{e}");
        let e = parse("1-0 * * * *").unwrap_err();
        assert!(e.contains("a range runs from low to high"), "{e}");
        let e = parse("0 0 * * 5#6").unwrap_err();
        assert!(e.contains("the week after '#' must be from 1 to 5"), "{e}");
        let e = parse("0 0 31 2 *").unwrap_err();
        assert!(e.contains("never falls due"), "{e}");
        for good in [
            "0 3 * * MON-FRI",
            "*/15 * * * *",
            "0 0 1,15 * *",
            "30 */2 * * * *",
            "0 0 * * 7",
            "0 0 * * 5#3",
            "0 0 L * *",
            "0 0 15W * *",
            "0 0 * * 5L",
        ] {
            assert!(parse(good).is_ok(), "{good}");
        }
        assert_eq!(time_zone("").unwrap(), Tz::UTC);
    }
}
