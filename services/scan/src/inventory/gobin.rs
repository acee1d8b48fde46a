//! Go binaries' embedded build information: the `\xff Go buildinf:` header Go 1.18 and later
//! write, followed by the Go version and the module information inline (`path`, `mod`, `dep`
//! lines, `=>` replacing the module before it). Found by streaming an executable's bytes once
//! (nothing is kept but what follows the header); the Go version is the `stdlib` package, as
//! the Go vulnerability database names it, and each module is one of the `Go` ecosystem.
//! Binaries of Go before 1.18 (pointers to the strings, not the strings) are not read.

use std::io::Read;

use super::Package;

const MAGIC: &[u8] = b"\xff Go buildinf:";
/// The most read after the header (the module list of a large binary is tens of kilobytes).
const MAX_INFO: u64 = 1 << 20;
/// Go 1.18+: the version and module strings follow the header inline.
const INLINE: u8 = 0x2;

/// The modules of the executable `entry` (its bytes, streamed) if it is a Go binary with
/// build information; `None` otherwise (what was read of it is not needed again).
pub fn read(mut entry: impl Read, path: &str) -> std::io::Result<Option<Vec<Package>>> {
    let mut head = [0u8; 4];
    let mut got = 0;
    while got < head.len() {
        match entry.read(&mut head[got..])? {
            0 => return Ok(None),
            n => got += n,
        }
    }
    if head != *b"\x7fELF" {
        return Ok(None);
    }
    let finder = memchr::memmem::Finder::new(MAGIC);
    let mut buf = vec![0u8; 256 << 10];
    let mut window: Vec<u8> = Vec::with_capacity(buf.len() + MAGIC.len());
    loop {
        let n = entry.read(&mut buf)?;
        if n == 0 {
            return Ok(None);
        }
        window.extend_from_slice(&buf[..n]);
        if let Some(at) = finder.find(&window) {
            let mut info = window.split_off(at);
            (&mut entry).take(MAX_INFO).read_to_end(&mut info)?;
            return Ok(parse(&info, path));
        }
        // A header cut by the chunk's end is found with the next one.
        let keep = window.len().saturating_sub(MAGIC.len() - 1);
        window.drain(..keep);
    }
}

/// The modules of an executable already held whole (`bytes`), as [`read`] finds them.
pub fn parse_bytes(bytes: &[u8], path: &str) -> Option<Vec<Package>> {
    if !bytes.starts_with(b"\x7fELF") {
        return None;
    }
    let at = memchr::memmem::find(bytes, MAGIC)?;
    let end = bytes.len().min(at.saturating_add(MAX_INFO as usize));
    parse(&bytes[at..end], path)
}

fn uvarint(b: &[u8], i: &mut usize) -> Option<u64> {
    let mut x = 0u64;
    for shift in (0..64).step_by(7) {
        let c = *b.get(*i)?;
        *i += 1;
        x |= u64::from(c & 0x7f) << shift;
        if c < 0x80 {
            return Some(x);
        }
    }
    None
}

fn string<'a>(b: &'a [u8], i: &mut usize) -> Option<&'a str> {
    let n = usize::try_from(uvarint(b, i)?).ok()?;
    let s = b.get(*i..i.checked_add(n)?)?;
    *i += n;
    std::str::from_utf8(s).ok()
}

/// The packages of the build information starting at `info` (the header first).
fn parse(info: &[u8], path: &str) -> Option<Vec<Package>> {
    if info.len() < 32 || info[15] & INLINE == 0 {
        return None;
    }
    let mut i = 32;
    let version = string(info, &mut i)?;
    let modinfo = string(info, &mut i).unwrap_or_default();
    let mut out = Vec::new();
    // `go1.21.5`, `go1.22.0 X:boringcrypto`: the standard library's version, `v1.21.5`.
    if let Some(v) = version
        .split_whitespace()
        .next()
        .and_then(|v| v.strip_prefix("go"))
    {
        out.push(Package::language("stdlib", &format!("v{v}"), path));
    }
    // The module information sits between two 16-byte sentinels.
    let text = if modinfo.len() >= 33 && modinfo.as_bytes()[modinfo.len() - 17] == b'\n' {
        modinfo.get(16..modinfo.len() - 16).unwrap_or(modinfo)
    } else {
        modinfo
    };
    let mut modules: Vec<(String, String)> = Vec::new();
    for line in text.lines() {
        let f: Vec<&str> = line.split('\t').collect();
        match f[..] {
            ["mod", module, version, ..] | ["dep", module, version, ..] => {
                modules.push((module.to_string(), version.to_string()))
            }
            ["=>", module, version, ..] => {
                if let Some(last) = modules.last_mut() {
                    *last = (module.to_string(), version.to_string());
                }
            }
            _ => {}
        }
    }
    // A module built from its own tree (`(devel)`) or replaced by a directory has no version.
    out.extend(
        modules
            .into_iter()
            .filter(|(_, v)| v.starts_with('v'))
            .map(|(m, v)| Package::language(&m, &v, path)),
    );
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Build information as Go 1.18+ writes it, in an ELF-looking file.
    pub fn binary(version: &str, modinfo: &str) -> Vec<u8> {
        let mut out = b"\x7fELF".to_vec();
        out.extend(std::iter::repeat_n(0u8, 300_000));
        let mut header = MAGIC.to_vec();
        header.extend([8, INLINE]);
        header.resize(32, 0);
        out.extend(header);
        for s in [
            version.to_string(),
            format!("{}{modinfo}{}", "0".repeat(16), "1".repeat(16)),
        ] {
            let mut n = s.len() as u64;
            loop {
                let byte = (n & 0x7f) as u8;
                n >>= 7;
                if n == 0 {
                    out.push(byte);
                    break;
                }
                out.push(byte | 0x80);
            }
            out.extend(s.as_bytes());
        }
        out.extend(std::iter::repeat_n(0u8, 1000));
        out
    }

    #[test]
    fn modules_replacements_and_the_standard_library() {
        let modinfo = "path\texample.com/app\nmod\texample.com/app\t(devel)\t\n\
            dep\tgithub.com/gorilla/mux\tv1.8.0\th1:abc=\n\
            dep\tgolang.org/x/net\tv0.0.0-20220722155237-a158d28d115b\th1:x=\n\
            dep\tgithub.com/old/thing\tv1.0.0\t\n=>\tgithub.com/new/thing\tv1.2.0\th1:y=\n\
            dep\texample.com/local\tv0.1.0\t\n=>\t../local\t\t\n\
            build\t-compiler=gc\n";
        let found = read(
            binary("go1.21.5 X:boringcrypto", modinfo).as_slice(),
            "usr/bin/app",
        )
        .unwrap()
        .unwrap();
        let got: Vec<(&str, &str)> = found
            .iter()
            .map(|p| (p.name.as_str(), p.version.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("stdlib", "v1.21.5"),
                ("github.com/gorilla/mux", "v1.8.0"),
                ("golang.org/x/net", "v0.0.0-20220722155237-a158d28d115b"),
                ("github.com/new/thing", "v1.2.0"),
            ]
        );
        assert!(read(&b"#!/bin/sh\necho hi\n"[..], "usr/bin/x")
            .unwrap()
            .is_none());
        assert!(read(&b"\x7fELF no build info here"[..], "usr/bin/x")
            .unwrap()
            .is_none());
        // A header split across the reader's chunks is found all the same.
        let split = binary("go1.20", "");
        let reader = std::io::Read::chain(&split[..262_140], &split[262_140..]);
        assert_eq!(read(reader, "p").unwrap().unwrap()[0].version, "v1.20");
    }

    #[test]
    fn real_go_binaries_of_this_machine() {
        // Debian's skopeo and docker-registry are Go 1.18+ binaries (built without modules:
        // the standard library is all they list).
        for bin in ["/usr/bin/skopeo", "/usr/bin/docker-registry"] {
            let file = std::fs::File::open(bin).expect(bin);
            let found = read(file, bin).unwrap().expect("build information");
            assert_eq!(found[0].name, "stdlib", "{bin}");
            assert!(found[0].version.starts_with("v1."), "{bin}: {:?}", found[0]);
        }
    }
}
