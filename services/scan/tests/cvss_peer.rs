//! Severity scores against a peer: a thousand CVSS v4.0 vectors (threat metric included) and a
//! thousand v3.1 ones, drawn across the whole metric space, are scored by Berth and by Red
//! Hat's `cvss` Python library (PyPI, in the test command's tool venv); the scores are equal.

use std::fmt::Write;

/// A small deterministic generator, so a failure names vectors that can be tried again.
struct Lcg(u64);

impl Lcg {
    fn pick<'a>(&mut self, values: &[&'a str]) -> &'a str {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        values[((self.0 >> 33) % values.len() as u64) as usize]
    }
}

fn vectors() -> Vec<String> {
    let mut rng = Lcg(0x5eed);
    let hln = ["H", "L", "N"];
    let mut out = Vec::new();
    for _ in 0..1000 {
        let mut v = String::from("CVSS:4.0");
        for (metric, values) in [
            ("AV", &["N", "A", "L", "P"][..]),
            ("AC", &["L", "H"]),
            ("AT", &["N", "P"]),
            ("PR", &["N", "L", "H"]),
            ("UI", &["N", "P", "A"]),
            ("VC", &hln),
            ("VI", &hln),
            ("VA", &hln),
            ("SC", &hln),
            ("SI", &hln),
            ("SA", &hln),
        ] {
            write!(v, "/{metric}:{}", rng.pick(values)).unwrap();
        }
        let threat = rng.pick(&["", "A", "P", "U"]);
        if !threat.is_empty() {
            write!(v, "/E:{threat}").unwrap();
        }
        out.push(v);
    }
    for _ in 0..1000 {
        let mut v = String::from("CVSS:3.1");
        for (metric, values) in [
            ("AV", &["N", "A", "L", "P"][..]),
            ("AC", &["L", "H"]),
            ("PR", &["N", "L", "H"]),
            ("UI", &["N", "R"]),
            ("S", &["U", "C"]),
            ("C", &hln),
            ("I", &hln),
            ("A", &hln),
        ] {
            write!(v, "/{metric}:{}", rng.pick(values)).unwrap();
        }
        out.push(v);
    }
    out
}

#[test]
fn scores_equal_red_hats_cvss_library() {
    let venv = std::env::var("BERTH_TOOLS_VENV")
        .unwrap_or_else(|_| format!("{}/.cache/berth/py", std::env::var("HOME").unwrap()));
    let vectors = vectors();
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("vectors");
    std::fs::write(&input, vectors.join("\n")).unwrap();
    let script = "import sys\nfrom cvss import CVSS3, CVSS4\n\
        for v in open(sys.argv[1]).read().split():\n\
        \x20   print(CVSS4(v).base_score if v.startswith('CVSS:4') else CVSS3(v).scores()[0])\n";
    let out = std::process::Command::new(format!("{venv}/bin/python"))
        .arg("-c")
        .arg(script)
        .arg(&input)
        .output()
        .expect("the tool venv (the test command makes it)");
    assert!(out.status.success(), "{out:?}");
    let theirs: Vec<f64> = String::from_utf8(out.stdout)
        .unwrap()
        .split_whitespace()
        .map(|s| s.parse().unwrap())
        .collect();
    assert_eq!(theirs.len(), vectors.len());
    let mut differ = Vec::new();
    for (v, want) in vectors.iter().zip(theirs) {
        let ours = if v.starts_with("CVSS:4") {
            berth_scan::severity::cvss4(v)
        } else {
            berth_scan::severity::cvss3(v)
        };
        if ours.is_none_or(|s| (s - want).abs() > 1e-9) {
            differ.push(format!("{v}: ours {ours:?}, theirs {want}"));
        }
    }
    assert!(
        differ.is_empty(),
        "{} differ: {:#?}",
        differ.len(),
        &differ[..differ.len().min(10)]
    );
}
