//! Rust binaries built with `cargo auditable`: the ELF section `.dep-v0` holds the crates they
//! were built from, as zlib-compressed JSON (`{"packages": [{"name", "version", "source",
//! "kind", …}]}`). The section is found through the ELF section header table (32- or 64-bit,
//! either byte order), so the executable's bytes are needed whole: the caller holds those of an
//! executable up to [`MAX_EXECUTABLE`]. Runtime crates from a registry are reported, as for a
//! `Cargo.lock`; build-time dependencies are not in the binary, and path and git crates are
//! not a registry's.

use std::io::Read;

use super::Package;

/// The largest executable held whole to look for the section.
pub const MAX_EXECUTABLE: u64 = 64 << 20;
/// The most the section's JSON inflates to.
const MAX_JSON: u64 = 8 << 20;
const SECTION: &[u8] = b".dep-v0";

struct Elf<'a> {
    bytes: &'a [u8],
    wide: bool,
    little: bool,
}

impl Elf<'_> {
    fn uint(&self, at: usize, n: usize) -> Option<u64> {
        // `at` may come from the file: any sum is checked.
        let b = self.bytes.get(at..at.checked_add(n)?)?;
        Some(if self.little {
            b.iter().rev().fold(0, |v, x| (v << 8) | *x as u64)
        } else {
            b.iter().fold(0, |v, x| (v << 8) | *x as u64)
        })
    }

    /// The word of the class: 8 bytes in a 64-bit file, 4 in a 32-bit one.
    fn word(&self, at: usize) -> Option<u64> {
        self.uint(at, if self.wide { 8 } else { 4 })
    }

    /// The bytes of the section named `name`.
    fn section(&self, name: &[u8]) -> Option<&[u8]> {
        let (shoff, entsize, num, strndx) = if self.wide {
            (
                self.word(0x28)?,
                self.uint(0x3a, 2)?,
                self.uint(0x3c, 2)?,
                self.uint(0x3e, 2)?,
            )
        } else {
            (
                self.word(0x20)?,
                self.uint(0x2e, 2)?,
                self.uint(0x30, 2)?,
                self.uint(0x32, 2)?,
            )
        };
        // A section header is 64 bytes in a 64-bit file, 40 in a 32-bit one: a smaller entry
        // size is not an ELF file's.
        if entsize < if self.wide { 64 } else { 40 } {
            return None;
        }
        let header = |i: u64| -> Option<(u64, u64, u64)> {
            let at = usize::try_from(shoff.checked_add(i.checked_mul(entsize)?)?).ok()?;
            let field = |n: usize| at.checked_add(n);
            let (offset, size) = if self.wide {
                (self.word(field(24)?)?, self.word(field(32)?)?)
            } else {
                (self.word(field(16)?)?, self.word(field(20)?)?)
            };
            Some((self.uint(at, 4)?, offset, size))
        };
        let slice = |offset: u64, size: u64| -> Option<&[u8]> {
            let start = usize::try_from(offset).ok()?;
            self.bytes
                .get(start..start.checked_add(usize::try_from(size).ok()?)?)
        };
        let (_, str_offset, str_size) = header(strndx)?;
        let names = slice(str_offset, str_size)?;
        // The name and its NUL compared in place: no search through the name table.
        let mut wanted = name.to_vec();
        wanted.push(0);
        (0..num.min(1 << 16)).find_map(|i| {
            let (name_at, offset, size) = header(i)?;
            let start = usize::try_from(name_at).ok()?;
            (names.get(start..start.checked_add(wanted.len())?)? == wanted.as_slice())
                .then(|| slice(offset, size))
                .flatten()
        })
    }
}

/// The registry crates a `cargo auditable` binary lists; `None` when `bytes` is not an ELF
/// file with a readable `.dep-v0` section.
pub fn parse(bytes: &[u8], path: &str) -> Option<Vec<Package>> {
    if !bytes.starts_with(b"\x7fELF") || bytes.len() < 0x40 {
        return None;
    }
    let elf = Elf {
        bytes,
        wide: bytes[4] == 2,
        little: bytes[5] == 1,
    };
    let compressed = elf.section(SECTION)?;
    let mut json = Vec::new();
    flate2::read::ZlibDecoder::new(compressed)
        .take(MAX_JSON)
        .read_to_end(&mut json)
        .ok()?;
    #[derive(serde::Deserialize)]
    struct Info {
        packages: Vec<Entry>,
    }
    #[derive(serde::Deserialize)]
    struct Entry {
        name: String,
        version: String,
        #[serde(default)]
        source: String,
        #[serde(default)]
        kind: Option<String>,
    }
    let info: Info = serde_json::from_slice(&json).ok()?;
    Some(
        info.packages
            .into_iter()
            .filter(|e| matches!(e.source.as_str(), "crates.io" | "registry"))
            .filter(|e| e.kind.as_deref().is_none_or(|k| k == "runtime"))
            .map(|e| Package::language(&e.name, &e.version, path))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use berth_testkit::packages::auditable_binary as audited;

    #[test]
    fn runtime_registry_crates_of_the_section() {
        let bin = audited(
            r#"{"packages": [
                {"name": "app", "version": "0.1.0", "source": "local", "kind": "runtime", "root": true, "dependencies": [1, 2]},
                {"name": "smallvec", "version": "1.6.0", "source": "crates.io", "kind": "runtime"},
                {"name": "cc", "version": "1.0.0", "source": "crates.io", "kind": "build"},
                {"name": "private", "version": "2.0.0", "source": "registry"},
                {"name": "forked", "version": "0.3.0", "source": "git"}
            ]}"#,
        );
        let got: Vec<(String, String)> = parse(&bin, "usr/bin/app")
            .unwrap()
            .into_iter()
            .map(|p| (p.name, p.version))
            .collect();
        assert_eq!(
            got,
            vec![
                ("smallvec".to_string(), "1.6.0".to_string()),
                ("private".into(), "2.0.0".into())
            ]
        );
        // A binary without the section, and a section cut short, list nothing.
        assert_eq!(parse(&std::fs::read("/bin/true").unwrap(), "x"), None);
        assert_eq!(parse(&bin[..bin.len() / 2], "x"), None);
    }

    #[test]
    fn lying_section_tables_are_refused_at_once() {
        let mut bin = audited(r#"{"packages": []}"#);
        // Every header the same one (entry size 0), 65,535 of them, over a name table of no
        // NUL: refused by its entry size, not searched 65,535 times.
        bin[0x3a..0x3c].copy_from_slice(&0u16.to_le_bytes());
        bin[0x3c..0x3e].copy_from_slice(&u16::MAX.to_le_bytes());
        assert_eq!(parse(&bin, "x"), None);
        // A section table at the end of the address space.
        let mut far = audited(r#"{"packages": []}"#);
        far[0x28..0x30].copy_from_slice(&(u64::MAX - 8).to_le_bytes());
        assert_eq!(parse(&far, "x"), None);
    }
}
