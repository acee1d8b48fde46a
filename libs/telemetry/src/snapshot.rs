//! Gauges rendered from a snapshot of current state instead of recorded: a series disappears
//! with its subject (a deleted registry leaves no `berth_registry_up` behind), which the
//! recorder, which never forgets a series, cannot do.

use std::fmt::Write;
use std::sync::{Arc, Mutex, OnceLock};

/// Labels and value of one series.
pub type Series = (Vec<(&'static str, String)>, f64);

/// A gauge family whose series are replaced as a whole.
pub struct SnapshotGauge {
    name: &'static str,
    help: &'static str,
    series: Mutex<Vec<Series>>,
}

static GAUGES: OnceLock<Mutex<Vec<Arc<SnapshotGauge>>>> = OnceLock::new();

impl SnapshotGauge {
    /// The process's gauge `name` (registered on first use).
    pub fn named(name: &'static str, help: &'static str) -> Arc<Self> {
        let mut all = GAUGES.get_or_init(Default::default).lock().unwrap();
        if let Some(g) = all.iter().find(|g| g.name == name) {
            return g.clone();
        }
        let g = Arc::new(Self {
            name,
            help,
            series: Mutex::new(Vec::new()),
        });
        all.push(g.clone());
        g
    }

    /// Replaces every series.
    pub fn replace(&self, series: Vec<Series>) {
        *self.series.lock().unwrap() = series;
    }
}

fn escape(v: &str) -> String {
    v.replace('\\', r"\\")
        .replace('"', "\\\"")
        .replace('\n', r"\n")
}

/// Every snapshot gauge with at least one series, in the text exposition format.
pub fn render() -> String {
    let mut out = String::new();
    let Some(all) = GAUGES.get() else {
        return out;
    };
    for g in all.lock().unwrap().iter() {
        let series = g.series.lock().unwrap();
        if series.is_empty() {
            continue;
        }
        let _ = writeln!(out, "# HELP {} {}\n# TYPE {} gauge", g.name, g.help, g.name);
        for (labels, value) in series.iter() {
            let labels: Vec<String> = labels
                .iter()
                .map(|(k, v)| format!("{k}=\"{}\"", escape(v)))
                .collect();
            let _ = writeln!(out, "{}{{{}}} {value}", g.name, labels.join(","));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_replaced_snapshot_forgets_the_series_it_no_longer_has() {
        let g = SnapshotGauge::named("berth_test_snapshot_up", "Test.");
        g.replace(vec![
            (vec![("registry", "a".into())], 1.0),
            (vec![("registry", "b\"q".into())], 0.0),
        ]);
        let text = render();
        assert!(
            text.contains("berth_test_snapshot_up{registry=\"a\"} 1"),
            "{text}"
        );
        assert!(
            text.contains(r#"berth_test_snapshot_up{registry="b\"q"} 0"#),
            "{text}"
        );
        g.replace(vec![(vec![("registry", "a".into())], 1.0)]);
        let text = render();
        assert!(!text.contains("registry=\"b"), "{text}");
        assert!(std::sync::Arc::ptr_eq(
            &g,
            &SnapshotGauge::named("berth_test_snapshot_up", "")
        ));
    }
}
