//! Human tables or JSON.

use serde_json::Value;

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum Format {
    Table,
    Json,
}

/// Text of a JSON value for a table cell.
pub fn cell(v: &Value) -> String {
    match v {
        Value::Null => "-".into(),
        Value::String(s) if s.is_empty() => "-".into(),
        Value::String(s) => s.clone(),
        Value::Array(a) => a.iter().map(cell).collect::<Vec<_>>().join(","),
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

/// Prints `value` as JSON, or as a table of `columns` (JSON pointer paths) for lists and objects.
pub fn print(format: Format, value: &Value, columns: &[(&str, &str)]) {
    match format {
        Format::Json => println!(
            "{}",
            serde_json::to_string_pretty(value).unwrap_or_default()
        ),
        Format::Table => {
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
                        .map(|(_, p)| cell(item.pointer(p).unwrap_or(&Value::Null)))
                        .collect()
                })
                .collect();
            table(&headers, rows);
        }
    }
}
