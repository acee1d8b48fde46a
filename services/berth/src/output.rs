//! What a command prints: a table for people (times as ages, sizes in KiB/MiB/GiB), or the
//! server's answer as JSON or YAML for scripts (`-o json|yaml`, on every command).

use std::fmt::Write;

use serde_json::Value;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Columns for people.
    Table,
    /// The API's JSON answer.
    Json,
    /// The API's answer as YAML.
    Yaml,
}

/// Human bytes: `1.5 MiB`.
pub fn human_bytes(bytes: f64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut v = bytes;
    let mut u = 0;
    while v >= 1024.0 && u < units.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{v:.0} B")
    } else {
        format!("{v:.1} {}", units[u])
    }
}

/// A duration the way kubectl prints ages: `45s`, `12m`, `3h20m`, `5d`.
pub fn human_duration(secs: i64) -> String {
    let s = secs.unsigned_abs();
    match s {
        0..=119 => format!("{s}s"),
        120..=3599 => format!("{}m", s / 60),
        3600..=86_399 if s % 3600 >= 60 => format!("{}h{}m", s / 3600, s % 3600 / 60),
        3600..=86_399 => format!("{}h", s / 3600),
        _ => format!("{}d", s / 86_400),
    }
}

/// An RFC 3339 time relative to now: `5m ago`, `in 89d`.
fn human_time(t: &str, now: chrono::DateTime<chrono::Utc>) -> Option<String> {
    let at = chrono::DateTime::parse_from_rfc3339(t).ok()?;
    let secs = (now - at.with_timezone(&chrono::Utc)).num_seconds();
    Some(if secs >= 0 {
        format!("{} ago", human_duration(secs))
    } else {
        format!("in {}", human_duration(secs))
    })
}

/// Text of a JSON value for a table cell; the column's JSON pointer says what it holds (`…_at`
/// is a time, `…bytes` a size).
pub fn cell(pointer: &str, v: &Value) -> String {
    let now = chrono::Utc::now();
    match v {
        Value::String(s) if pointer.ends_with("_at") => human_time(s, now).unwrap_or(s.clone()),
        Value::Number(n) if pointer.ends_with("bytes") => match n.as_f64() {
            Some(0.0) if pointer.ends_with("quota_bytes") => "none".into(),
            Some(b) => human_bytes(b),
            None => n.to_string(),
        },
        Value::Null => "-".into(),
        Value::String(s) if s.is_empty() => "-".into(),
        // Control and invisible characters (a terminal's escape sequences, a forged line, a
        // reordering mark) are shown escaped.
        Value::String(s) => s
            .chars()
            .map(|c| {
                if c.is_control() || unsafe_for_yaml(c) || c.is_whitespace() && c != ' ' {
                    c.escape_default().to_string()
                } else {
                    c.to_string()
                }
            })
            .collect(),
        Value::Array(a) => a.iter().map(|v| cell("", v)).collect::<Vec<_>>().join(","),
        other => other.to_string(),
    }
}

/// Prints `rows` under `headers`, columns padded to their widest cell.
pub fn table(headers: &[&str], rows: Vec<Vec<String>>) {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.len()).collect();
    for row in &rows {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        println!("{}", padded.join("  ").trim_end());
    };
    line(headers.iter().map(|h| h.to_string()).collect());
    for row in rows {
        line(row);
    }
}

/// Prints `value` as JSON or YAML; `None` for a table (the caller prints its own).
pub fn structured(format: Format, value: &Value) -> Option<()> {
    match format {
        Format::Json => println!(
            "{}",
            serde_json::to_string_pretty(value).unwrap_or_default()
        ),
        Format::Yaml => print!("{}", yaml(value)),
        Format::Table => return None,
    }
    Some(())
}

/// Prints `value` as JSON or YAML, or as a table of `columns` (JSON pointer paths) for lists
/// and objects.
pub fn print(format: Format, value: &Value, columns: &[(&str, &str)]) {
    if structured(format, value).is_some() {
        return;
    }
    let items: Vec<&Value> = match value.get("items").and_then(Value::as_array) {
        Some(items) => items.iter().collect(),
        None => vec![value],
    };
    let headers: Vec<&str> = columns.iter().map(|(h, _)| *h).collect();
    let rows = items
        .iter()
        .map(|item| {
            columns
                .iter()
                .map(|(_, p)| cell(p, item.pointer(p).unwrap_or(&Value::Null)))
                .collect()
        })
        .collect();
    table(&headers, rows);
}

/// The answer of a command that changes something and gets nothing back: `message` for
/// people; `{"ok": true, "resource": PATH, "message": …}` for scripts, `resource` being the
/// API path of what changed.
pub fn done(format: Format, message: &str, resource: &str) {
    let resource = resource.split('?').next().unwrap_or(resource);
    let value = serde_json::json!({"ok": true, "resource": resource, "message": message});
    if structured(format, &value).is_none() {
        println!("{message}");
    }
}

/// `value` as a YAML document. Strings that could read as something else are written as JSON
/// strings, which YAML's double-quoted scalars accept as they are.
pub fn yaml(value: &Value) -> String {
    let mut out = String::new();
    match value {
        Value::Object(o) if !o.is_empty() => yaml_map(&mut out, o, 0),
        Value::Array(a) if !a.is_empty() => yaml_seq(&mut out, a, 0),
        scalar => {
            let _ = writeln!(out, "{}", yaml_scalar(scalar));
        }
    }
    out
}

fn yaml_scalar(v: &Value) -> String {
    match v {
        Value::String(s) => yaml_string(s),
        Value::Object(_) => "{}".into(),
        Value::Array(_) => "[]".into(),
        other => other.to_string(),
    }
}

/// Characters YAML may not hold raw, and that a table shows escaped too (with the
/// zero-width and bidirectional formatting ones).
fn unsafe_for_yaml(c: char) -> bool {
    matches!(
        c,
        '\u{2028}' | '\u{2029}' | '\u{feff}' | '\u{fffe}' | '\u{ffff}' | '\u{200b}'..='\u{200f}'
            | '\u{202a}'..='\u{202e}'
    )
}

fn yaml_string(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "_./@+-".contains(c))
        // YAML 1.1 readers take `0x10`, `1e3` or `2026-12-04` for numbers and dates.
        && !s.starts_with(|c: char| c.is_ascii_digit() || "-.@+".contains(c))
        && s.parse::<f64>().is_err()
        && !matches!(
            s.to_ascii_lowercase().as_str(),
            "true" | "false" | "yes" | "no" | "on" | "off" | "y" | "n" | "null" | "~"
        );
    if plain {
        return s.to_string();
    }
    // A double-quoted scalar; what YAML does not allow raw (C0 and C1 controls, DEL, NEL, the
    // line and paragraph separators, the byte-order mark, U+FFFE and U+FFFF) is escaped.
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() || unsafe_for_yaml(c) => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn is_nested(v: &Value) -> bool {
    matches!(v, Value::Object(o) if !o.is_empty()) || matches!(v, Value::Array(a) if !a.is_empty())
}

fn yaml_map(out: &mut String, map: &serde_json::Map<String, Value>, indent: usize) {
    for (k, v) in map {
        let _ = write!(out, "{:indent$}{}:", "", yaml_string(k));
        match v {
            Value::Object(o) if !o.is_empty() => {
                out.push('\n');
                yaml_map(out, o, indent + 2);
            }
            Value::Array(a) if !a.is_empty() => {
                out.push('\n');
                yaml_seq(out, a, indent);
            }
            scalar => {
                let _ = writeln!(out, " {}", yaml_scalar(scalar));
            }
        }
    }
}

fn yaml_seq(out: &mut String, items: &[Value], indent: usize) {
    for v in items {
        let _ = write!(out, "{:indent$}-", "");
        if is_nested(v) {
            // The first line of the nested block goes after the dash, the rest under it.
            let mut nested = String::new();
            match v {
                Value::Object(o) => yaml_map(&mut nested, o, indent + 2),
                Value::Array(a) => yaml_seq(&mut nested, a, indent + 2),
                _ => unreachable!("nested"),
            }
            let _ = write!(out, " {}", &nested[indent + 2..]);
        } else {
            let _ = writeln!(out, " {}", yaml_scalar(v));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn yaml_of_nested_values_with_strings_that_look_like_other_things() {
        let v = json!({
            "name": "app",
            "count": 3,
            "enabled": true,
            "none": null,
            "version": "1.0",
            "flag": "yes",
            "time": "2026-12-04T19:00:00Z",
            "note": "a: b # c",
            "empty": "",
            "list": [],
            "map": {},
            "tags": ["v1", "latest"],
            "filters": [{"kind": "tag", "pattern": "*-rc", "exclude": true}, {"kind": "repository"}],
            "nested": [[1, 2], []],
        });
        // Keys come in the map's (sorted) order.
        let expected = "\
count: 3
empty: \"\"
enabled: true
filters:
- exclude: true
  kind: tag
  pattern: \"*-rc\"
- kind: repository
flag: \"yes\"
list: []
map: {}
name: app
nested:
- - 1
  - 2
- []
none: null
note: \"a: b # c\"
tags:
- v1
- latest
time: \"2026-12-04T19:00:00Z\"
version: \"1.0\"
";
        assert_eq!(yaml(&v), expected);
    }

    #[test]
    fn yaml_escapes_what_yaml_may_not_hold_raw() {
        let v = json!({"d": "a\u{7f}b\u{90}c\u{85}d\u{ffff}e\u{2028}f\"g\\h\ni"});
        assert_eq!(
            yaml(&v),
            "d: \"a\\u007fb\\u0090c\\u0085d\\uffffe\\u2028f\\\"g\\\\h\\ni\"\n"
        );
    }

    #[test]
    fn table_cells_escape_control_characters() {
        assert_eq!(
            cell("/description", &json!("\u{1b}[2Jx\nfake")),
            "\\u{1b}[2Jx\\nfake"
        );
    }

    #[test]
    fn tables_show_ages_and_sizes() {
        let now = chrono::Utc::now();
        let five_min_ago = (now - chrono::Duration::seconds(300)).to_rfc3339();
        assert_eq!(cell("/created_at", &json!(five_min_ago)), "5m ago");
        let later = (now + chrono::Duration::days(89) + chrono::Duration::seconds(30)).to_rfc3339();
        assert_eq!(cell("/expires_at", &json!(later)), "in 89d");
        assert_eq!(cell("/storage_bytes", &json!(1_572_864)), "1.5 MiB");
        assert_eq!(cell("/bytes", &json!(512)), "512 B");
        assert_eq!(cell("/quota_bytes", &json!(0)), "none");
        assert_eq!(cell("/name", &json!("")), "-");
        assert_eq!(human_duration(3 * 3600 + 20 * 60), "3h20m");
        assert_eq!(human_duration(59), "59s");
    }
}
