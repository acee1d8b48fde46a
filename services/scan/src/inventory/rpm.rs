//! rpm's database: `rpmdb.sqlite` (rpm 4.16 and later: Fedora 33+, RHEL/Rocky/Alma 9,
//! openSUSE), whose `Packages` table holds each installed package's header as a blob. A header
//! is an index of (tag, type, offset, count) entries over a data store; the name, version,
//! release, epoch, architecture and source rpm are read from it. The BerkeleyDB `Packages`
//! and NDB `Packages.db` formats are reported as unsupported, by name.

use super::sqlite::{Database, Value};
use super::Package;

/// Where rpm keeps an sqlite database.
pub const DATABASES: &[&str] = &[
    "var/lib/rpm/rpmdb.sqlite",
    "usr/lib/sysimage/rpm/rpmdb.sqlite",
];

/// rpm databases in formats not read, by the path each lives at.
pub const UNSUPPORTED: &[&str] = &[
    "var/lib/rpm/Packages",
    "var/lib/rpm/Packages.db",
    "usr/lib/sysimage/rpm/Packages",
    "usr/lib/sysimage/rpm/Packages.db",
];

const NAME: u32 = 1000;
const VERSION: u32 = 1001;
const RELEASE: u32 = 1002;
const EPOCH: u32 = 1003;
const ARCH: u32 = 1022;
const SOURCE_RPM: u32 = 1044;

const INT32: u32 = 4;
/// The longest string of a header read.
const MAX_STRING: usize = 4096;
const STRING: u32 = 6;

/// One header's tags of interest.
#[derive(Debug, Default, PartialEq)]
pub struct Header {
    pub name: String,
    pub version: String,
    pub release: String,
    pub epoch: Option<u32>,
    pub arch: String,
    pub source_rpm: String,
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// A header blob as rpmdb stores it: entry count, data length, the entries, the data.
pub fn header(blob: &[u8]) -> Option<Header> {
    let entries = be32(blob, 0)? as usize;
    let data_len = be32(blob, 4)? as usize;
    let data_at = 8usize.checked_add(entries.checked_mul(16)?)?;
    let data = blob.get(data_at..data_at.checked_add(data_len)?)?;
    let mut h = Header::default();
    for i in 0..entries {
        let e = 8 + 16 * i;
        let (tag, kind, offset) = (be32(blob, e)?, be32(blob, e + 4)?, be32(blob, e + 8)?);
        let offset = offset as usize;
        // A string ends within a few KiB (a NUL not found there is not a string), so a header
        // of many entries over one long run costs no more than its size.
        let string = || -> Option<String> {
            let rest = data.get(offset..)?;
            let rest = &rest[..rest.len().min(MAX_STRING)];
            let end = rest.iter().position(|b| *b == 0)?;
            Some(String::from_utf8_lossy(&rest[..end]).into_owned())
        };
        // Each tag's first entry counts; a repeated one is not read again.
        let unset = |field: &str| field.is_empty();
        match (tag, kind) {
            (NAME, STRING) if unset(&h.name) => h.name = string()?,
            (VERSION, STRING) if unset(&h.version) => h.version = string()?,
            (RELEASE, STRING) if unset(&h.release) => h.release = string()?,
            (ARCH, STRING) if unset(&h.arch) => h.arch = string()?,
            (SOURCE_RPM, STRING) if unset(&h.source_rpm) => h.source_rpm = string()?,
            (EPOCH, INT32) if h.epoch.is_none() => h.epoch = Some(be32(data, offset)?),
            _ => {}
        }
    }
    (!h.name.is_empty() && !h.version.is_empty()).then_some(h)
}

/// `[epoch:]version-release`, the form OSV's rpm ecosystems write (no epoch when it is unset).
pub fn evr(epoch: Option<u32>, version: &str, release: &str) -> String {
    let vr = if release.is_empty() {
        version.to_string()
    } else {
        format!("{version}-{release}")
    };
    match epoch {
        Some(e) if e > 0 => format!("{e}:{vr}"),
        _ => vr,
    }
}

/// `openssl-3.0.7-27.el9.src.rpm` as its name and `version-release`.
fn source_of(rpm: &str) -> Option<(String, String)> {
    let stem = rpm.strip_suffix(".rpm")?;
    let stem = stem.rsplit_once('.')?.0; // the architecture (`src`, `nosrc`)
    let (rest, release) = stem.rsplit_once('-')?;
    let (name, version) = rest.rsplit_once('-')?;
    Some((name.to_string(), format!("{version}-{release}")))
}

/// The packages an `rpmdb.sqlite` lists; `Err` names what is wrong with a damaged file.
pub fn parse(path: &str, bytes: &[u8]) -> Result<Vec<Package>, String> {
    let db = Database::new(bytes).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    db.each_row("Packages", &mut |row| {
        let Some(Value::Blob(blob)) = row.into_iter().find(|v| matches!(v, Value::Blob(_))) else {
            return Ok(());
        };
        let Some(h) = header(&blob) else {
            return Ok(());
        };
        // The public keys rpm imports are pseudo-packages, not software.
        if h.name == "gpg-pubkey" {
            return Ok(());
        }
        let version = evr(h.epoch, &h.version, &h.release);
        let (source, source_version) = match source_of(&h.source_rpm) {
            Some((name, vr)) => {
                let vr = evr(h.epoch, &vr, "");
                (name, if vr == version { String::new() } else { vr })
            }
            None => (h.name.clone(), String::new()),
        };
        out.push(Package {
            name: h.name,
            version,
            source,
            source_version,
            arch: h.arch,
            path: path.to_string(),
        });
        Ok(())
    })
    .map_err(|e| e.to_string())?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A header blob of `(tag, type, bytes)` entries.
    fn blob(entries: &[(u32, u32, Vec<u8>)]) -> Vec<u8> {
        let mut index = Vec::new();
        let mut data: Vec<u8> = Vec::new();
        for (tag, kind, bytes) in entries {
            index.extend(tag.to_be_bytes());
            index.extend(kind.to_be_bytes());
            index.extend((data.len() as u32).to_be_bytes());
            index.extend(1u32.to_be_bytes());
            data.extend(bytes);
        }
        let mut out = (entries.len() as u32).to_be_bytes().to_vec();
        out.extend((data.len() as u32).to_be_bytes());
        out.extend(index);
        out.extend(data);
        out
    }

    fn s(text: &str) -> Vec<u8> {
        let mut v = text.as_bytes().to_vec();
        v.push(0);
        v
    }

    #[test]
    fn a_header_names_the_package_and_its_source() {
        let b = blob(&[
            (NAME, STRING, s("openssl-libs")),
            (VERSION, STRING, s("3.0.7")),
            (RELEASE, STRING, s("27.el9")),
            (EPOCH, INT32, 1u32.to_be_bytes().to_vec()),
            (ARCH, STRING, s("x86_64")),
            (SOURCE_RPM, STRING, s("openssl-3.0.7-27.el9.src.rpm")),
        ]);
        let h = header(&b).unwrap();
        assert_eq!(evr(h.epoch, &h.version, &h.release), "1:3.0.7-27.el9");
        assert_eq!(
            source_of(&h.source_rpm),
            Some(("openssl".into(), "3.0.7-27.el9".into()))
        );
        // Truncated or lying headers are refused, not read past their end.
        assert!(header(&b[..b.len() - 3]).is_none());
        let mut lying = b.clone();
        lying[0..4].copy_from_slice(&u32::MAX.to_be_bytes());
        assert!(header(&lying).is_none());
        let mut offset = b.clone();
        offset[16..20].copy_from_slice(&9999u32.to_be_bytes());
        assert!(header(&offset).is_none());
        // A repeated tag is read once: its first entry counts.
        let repeated = blob(&[
            (NAME, STRING, s("first")),
            (NAME, STRING, s("second")),
            (VERSION, STRING, s("1")),
        ]);
        assert_eq!(header(&repeated).unwrap().name, "first");
        // A string with no NUL within 4 KiB is not one.
        let long = blob(&[
            (NAME, STRING, vec![b'a'; MAX_STRING + 10]),
            (VERSION, STRING, s("1")),
        ]);
        assert!(header(&long).is_none());
    }
}
