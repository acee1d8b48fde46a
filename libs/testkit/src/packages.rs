//! Package databases and binaries made by the tools that really make them, for the scanner's
//! tests: an rpm database written by `rpmbuild` and `rpm --justdb`, a Spring Boot-style jar
//! packed by the JDK's `jar` from this machine's real jars, and a `cargo auditable`-style
//! binary (a real ELF with a `.dep-v0` section added by binutils' `objcopy`).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

fn run(command: &mut Command) -> String {
    let out = command
        .output()
        .unwrap_or_else(|e| panic!("{command:?}: {e} (the test command installs it)"));
    assert!(out.status.success(), "{command:?}: {out:?}");
    String::from_utf8(out.stdout).unwrap()
}

/// One package to build: `epoch` `None` writes no `Epoch:`; `parts` more subpackages of the
/// same version (`NAME-partN`).
pub struct Rpm<'a> {
    pub name: &'a str,
    pub epoch: Option<u32>,
    pub version: &'a str,
    pub release: &'a str,
    pub parts: usize,
}

fn spec(p: &Rpm) -> String {
    let mut s = format!(
        "Name: {}\nVersion: {}\nRelease: {}\nSummary: s\nLicense: MIT\nBuildArch: noarch\n",
        p.name, p.version, p.release
    );
    if let Some(e) = p.epoch {
        s.push_str(&format!("Epoch: {e}\n"));
    }
    // A description of ~16 KiB: this header does not fit a 4 KiB page.
    s.push_str("%description\n%{lua: print(string.rep('a long description ', 850))}\n%files\n");
    for i in 0..p.parts {
        let n = format!("{}-part{i}", p.name);
        s.push_str(&format!(
            "%package -n {n}\nSummary: p\n%description -n {n}\np\n%files -n {n}\n"
        ));
    }
    s
}

/// An rpm root under `dir` holding `packages`, built and installed by rpm's own tools; its
/// database is `ROOT/var/lib/rpm/rpmdb.sqlite`.
pub fn rpm_root(dir: &Path, packages: &[Rpm]) -> PathBuf {
    let top = dir.join("top");
    for (i, p) in packages.iter().enumerate() {
        let file = dir.join(format!("p{i}.spec"));
        std::fs::write(&file, spec(p)).unwrap();
        run(Command::new("rpmbuild")
            .args(["-bb", "--quiet", "--define"])
            .arg(format!("_topdir {}", top.display()))
            .arg(&file));
    }
    let root = dir.join("root");
    std::fs::create_dir_all(&root).unwrap();
    let rpms: Vec<_> = std::fs::read_dir(top.join("RPMS/noarch"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    let rpm = |args: &[&str]| {
        let mut c = Command::new("rpm");
        c.arg("--root")
            .arg(&root)
            .args(["--dbpath", "/var/lib/rpm"])
            .args(args);
        c
    };
    run(&mut rpm(&["--initdb"]));
    run(rpm(&["-i", "--nodeps", "--justdb", "--noscripts"]).args(&rpms));
    root
}

/// What `rpm -qa` says of the database in `root`: (name, `[epoch:]version-release` with no
/// epoch when it is unset or 0, arch, source package name).
pub fn rpm_query(root: &Path) -> Vec<(String, String, String, String)> {
    let listed = run(Command::new("rpm")
        .arg("--root")
        .arg(root)
        .args(["--dbpath", "/var/lib/rpm", "-qa", "--qf"])
        .arg("%{NAME}|%{EPOCH}|%{VERSION}-%{RELEASE}|%{ARCH}|%{SOURCERPM}\\n"));
    listed
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split('|').collect();
            let version = match f[1] {
                "(none)" | "0" => f[2].to_string(),
                e => format!("{e}:{}", f[2]),
            };
            // `name-version-release.src.rpm`: the name is all but the last two fields.
            let fields: Vec<&str> = f[4].split('-').collect();
            let source = fields[..fields.len().saturating_sub(2)].join("-");
            (f[0].to_string(), version, f[3].to_string(), source)
        })
        .collect()
}

/// A jar packed by the JDK's `jar` tool: `pom.properties` of `group:artifact:version` and
/// `libs` (paths of real jars) under `BOOT-INF/lib/`.
pub fn fat_jar(dir: &Path, own: (&str, &str, &str), libs: &[PathBuf]) -> Vec<u8> {
    let app = dir.join("fat-jar");
    let lib = app.join("BOOT-INF/lib");
    std::fs::create_dir_all(&lib).unwrap();
    let (group, artifact, version) = own;
    let pom = app.join(format!("META-INF/maven/{group}/{artifact}"));
    std::fs::create_dir_all(&pom).unwrap();
    std::fs::write(
        pom.join("pom.properties"),
        format!("groupId={group}\nartifactId={artifact}\nversion={version}\n"),
    )
    .unwrap();
    for real in libs {
        std::fs::copy(real, lib.join(real.file_name().unwrap())).unwrap();
    }
    let out = dir.join("fat.jar");
    run(Command::new("jar")
        .arg("cf")
        .arg(&out)
        .arg("-C")
        .arg(&app)
        .arg("."));
    std::fs::read(out).unwrap()
}

/// `/bin/true` with a `.dep-v0` section of the zlib-compressed `json`, as `cargo auditable`
/// leaves its crate list in a binary.
pub fn auditable_binary(json: &str) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    z.write_all(json.as_bytes()).unwrap();
    let section = dir.path().join("dep");
    std::fs::write(&section, z.finish().unwrap()).unwrap();
    let out = dir.path().join("bin");
    run(Command::new("objcopy")
        .arg("--add-section")
        .arg(format!(".dep-v0={}", section.display()))
        .arg("/bin/true")
        .arg(&out));
    std::fs::read(out).unwrap()
}
