//! The HTTP API passes the ecosystem's own tools against a live `berth up`: the served OpenAPI
//! document validates, schemathesis finds nothing on any operation, and a client generated from
//! the document performs a call. The tools live in the venv `scripts/test.sh` installs
//! (`BERTH_TOOLS_VENV`, default `~/.cache/berth/py`); the run happens in a network namespace
//! of its own (see `tests/api/conformance.sh`).

use std::path::PathBuf;
use std::process::Command;

const BERTH: &str = env!("CARGO_BIN_EXE_berth");

fn tools() -> PathBuf {
    let venv = berth_testkit::tools_venv();
    for tool in [
        "schemathesis",
        "openapi-spec-validator",
        "openapi-python-client",
    ] {
        assert!(
            venv.join("bin").join(tool).exists(),
            "{tool} is missing from {}: scripts/test.sh installs it",
            venv.display()
        );
    }
    venv
}

#[test]
fn the_openapi_document_passes_the_validator_schemathesis_and_a_generated_client() {
    let venv = tools();
    let work = tempfile::tempdir().unwrap();
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/api/conformance.sh");
    let out = Command::new("unshare")
        .arg("--net")
        .arg("bash")
        .arg(&script)
        .arg(BERTH)
        .arg(&venv)
        .arg(work.path())
        .output()
        .expect("unshare runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let log = std::fs::read_to_string(work.path().join("stderr")).unwrap_or_default();
    let tail: String = log
        .lines()
        .rev()
        .take(40)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        out.status.success(),
        "conformance failed ({}):\n{stdout}\n{stderr}\n-- berth up's last log lines:\n{tail}",
        out.status
    );
    assert!(stdout.contains("all conformance checks passed"), "{stdout}");
}
