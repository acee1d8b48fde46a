//! Version order per ecosystem, exactly as the package manager orders them: a finding is a
//! package whose installed version sorts before the version that fixed it.

use std::cmp::Ordering;

/// dpkg's order (Debian Policy 5.6.12): `[epoch:]upstream[-revision]`, compared epoch first
/// (a number), then upstream and revision each by alternating runs of non-digits (letters
/// before other characters, `~` before anything, even the end) and digits (as numbers).
pub fn dpkg(a: &str, b: &str) -> Ordering {
    let (ea, ua, ra) = split_dpkg(a);
    let (eb, ub, rb) = split_dpkg(b);
    ea.cmp(&eb)
        .then_with(|| dpkg_part(ua, ub))
        .then_with(|| dpkg_part(ra, rb))
}

fn split_dpkg(v: &str) -> (u64, &str, &str) {
    let (epoch, rest) = match v.split_once(':') {
        Some((e, r)) if e.chars().all(|c| c.is_ascii_digit()) && !e.is_empty() => {
            (e.parse().unwrap_or(0), r)
        }
        _ => (0, v),
    };
    match rest.rsplit_once('-') {
        Some((u, r)) => (epoch, u, r),
        None => (epoch, rest, ""),
    }
}

/// The weight of one character in dpkg's non-digit comparison.
fn dpkg_weight(c: Option<char>) -> i32 {
    match c {
        Some('~') => -1,
        None => 0,
        Some(c) if c.is_ascii_alphabetic() => c as i32,
        Some(c) => c as i32 + 256,
    }
}

fn dpkg_part(a: &str, b: &str) -> Ordering {
    let (mut a, mut b) = (a, b);
    while !a.is_empty() || !b.is_empty() {
        // Non-digit runs, character by character.
        let na = a.find(|c: char| c.is_ascii_digit()).unwrap_or(a.len());
        let nb = b.find(|c: char| c.is_ascii_digit()).unwrap_or(b.len());
        let (sa, sb) = (&a[..na], &b[..nb]);
        let (mut ca, mut cb) = (sa.chars(), sb.chars());
        loop {
            let (x, y) = (ca.next(), cb.next());
            if x.is_none() && y.is_none() {
                break;
            }
            match dpkg_weight(x).cmp(&dpkg_weight(y)) {
                Ordering::Equal => {}
                other => return other,
            }
        }
        a = &a[na..];
        b = &b[nb..];
        // Digit runs, as numbers (leading zeros do not count).
        let da = a.find(|c: char| !c.is_ascii_digit()).unwrap_or(a.len());
        let db = b.find(|c: char| !c.is_ascii_digit()).unwrap_or(b.len());
        match numeric(&a[..da]).cmp(&numeric(&b[..db])) {
            Ordering::Equal => {}
            other => return other,
        }
        a = &a[da..];
        b = &b[db..];
    }
    Ordering::Equal
}

/// A run of digits as a comparable number of any length.
fn numeric(run: &str) -> (usize, &str) {
    let trimmed = run.trim_start_matches('0');
    (trimmed.len(), trimmed)
}

/// apk's order (apk-tools): dot-separated numbers, an optional letter, suffixes
/// (`_alpha` < `_beta` < `_pre` < `_rc` < none < `_cvs` < `_svn` < `_git` < `_hg` < `_p`, each
/// with an optional number), then the `-rN` revision. `None` when `v` is not an apk version.
pub fn apk(a: &str, b: &str) -> Option<Ordering> {
    let (a, b) = (Apk::parse(a)?, Apk::parse(b)?);
    Some(a.cmp(&b))
}

#[derive(Debug, PartialEq, Eq)]
struct Apk {
    /// The dot-separated digit runs, as written (see [`apk_number`]).
    numbers: Vec<String>,
    letter: Option<char>,
    /// (rank, number) of each suffix; no suffix compares as rank 0. A suffix without a
    /// number is below the same suffix with one (`_p` < `_p0`).
    suffixes: Vec<(i8, Option<u64>)>,
    /// No revision is below `-r0`.
    revision: Option<u64>,
}

/// apk-tools' order of the `i`-th digit run: the first as a number; after a dot, a run that
/// starts with `0` is a decimal fraction (`1.08` < `1.1`), so either starting so compares as
/// text, and others as numbers.
fn apk_number(i: usize, a: &str, b: &str) -> Ordering {
    if i > 0 && (a.starts_with('0') || b.starts_with('0')) {
        return a.cmp(b);
    }
    numeric(a).cmp(&numeric(b))
}

impl Apk {
    fn parse(v: &str) -> Option<Self> {
        let (v, revision) = match v.rsplit_once("-r") {
            Some((v, r)) => (v, Some(r.parse().ok()?)),
            None => (v, None),
        };
        let mut parts = v.split('_');
        let head = parts.next()?;
        let digits_end = head
            .rfind(|c: char| c.is_ascii_digit())
            .map(|i| i + 1)
            .unwrap_or(0);
        let (numbers, letter) = head.split_at(digits_end);
        let numbers: Vec<String> = numbers
            .split('.')
            .map(|n| {
                (!n.is_empty() && n.chars().all(|c| c.is_ascii_digit())).then(|| n.to_string())
            })
            .collect::<Option<_>>()?;
        let letter = match letter.len() {
            0 => None,
            1 if letter.chars().all(|c| c.is_ascii_lowercase()) => letter.chars().next(),
            _ => return None,
        };
        let mut suffixes = Vec::new();
        for suffix in parts {
            let name_end = suffix
                .find(|c: char| c.is_ascii_digit())
                .unwrap_or(suffix.len());
            let rank = match &suffix[..name_end] {
                "alpha" => -4,
                "beta" => -3,
                "pre" => -2,
                "rc" => -1,
                "cvs" => 1,
                "svn" => 2,
                "git" => 3,
                "hg" => 4,
                "p" => 5,
                _ => return None,
            };
            let n = match &suffix[name_end..] {
                "" => None,
                digits => Some(digits.parse().ok()?),
            };
            suffixes.push((rank, n));
        }
        Some(Self {
            numbers,
            letter,
            suffixes,
            revision,
        })
    }
}

impl PartialOrd for Apk {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Apk {
    fn cmp(&self, other: &Self) -> Ordering {
        let numbers = self
            .numbers
            .iter()
            .zip(&other.numbers)
            .enumerate()
            .map(|(i, (a, b))| apk_number(i, a, b))
            .find(|o| *o != Ordering::Equal)
            .unwrap_or_else(|| self.numbers.len().cmp(&other.numbers.len()));
        numbers
            .then_with(|| self.letter.cmp(&other.letter))
            .then_with(|| {
                let len = self.suffixes.len().max(other.suffixes.len());
                let at = |s: &[(i8, Option<u64>)], i: usize| s.get(i).copied().unwrap_or((0, None));
                (0..len)
                    .map(|i| at(&self.suffixes, i).cmp(&at(&other.suffixes, i)))
                    .find(|o| *o != Ordering::Equal)
                    .unwrap_or(Ordering::Equal)
            })
            .then_with(|| self.revision.cmp(&other.revision))
    }
}

/// PEP 440's order (Python packages): `[N!]N(.N)*[{a|b|rc}N][.postN][.devN][+local]`,
/// with the spellings PEP 440 normalizes (`alpha`, `beta`, `c`, `pre`, `preview`, `rev`, `r`,
/// `-N` for a post-release, `_`/`-`/`.` separators, a leading `v`). `None` when `v` is none.
pub fn pep440(a: &str, b: &str) -> Option<Ordering> {
    Some(Pep440::parse(a)?.cmp(&Pep440::parse(b)?))
}

#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Local {
    Text(String),
    Number(u64),
}

#[derive(Debug, PartialEq, Eq)]
struct Pep440 {
    epoch: u64,
    release: Vec<u64>,
    /// (0 a, 1 b, 2 rc, n).
    pre: Option<(u8, u64)>,
    post: Option<u64>,
    dev: Option<u64>,
    local: Vec<Local>,
}

impl Pep440 {
    fn parse(v: &str) -> Option<Self> {
        let v = v.trim().to_ascii_lowercase();
        let v = v.strip_prefix('v').unwrap_or(&v);
        let (v, local) = match v.split_once('+') {
            Some((v, l)) => (v, l),
            None => (v, ""),
        };
        let local = if local.is_empty() {
            Vec::new()
        } else {
            local
                .split(['.', '-', '_'])
                .map(|p| match p.parse() {
                    Ok(n) => Some(Local::Number(n)),
                    Err(_) if !p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric()) => {
                        Some(Local::Text(p.to_string()))
                    }
                    Err(_) => None,
                })
                .collect::<Option<_>>()?
        };
        let (epoch, rest) = match v.split_once('!') {
            Some((e, r)) => (e.parse().ok()?, r),
            None => (0, v),
        };
        // The release: digits and dots, up to the first letter or separator before one.
        let end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let release_text = rest[..end].trim_end_matches('.');
        let release: Vec<u64> = release_text
            .split('.')
            .map(|n| n.parse().ok())
            .collect::<Option<_>>()?;
        let mut tail = &rest[release_text.len()..];
        let (mut pre, mut post, mut dev) = (None, None, None);
        while !tail.is_empty() {
            tail = tail.trim_start_matches(['.', '-', '_']);
            let word_end = tail
                .find(|c: char| !c.is_ascii_alphabetic())
                .unwrap_or(tail.len());
            let (word, after) = tail.split_at(word_end);
            let after = after.trim_start_matches(['.', '-', '_']);
            let digits_end = after
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(after.len());
            let number = if digits_end == 0 {
                0
            } else {
                after[..digits_end].parse().ok()?
            };
            match word {
                "a" | "alpha" if pre.is_none() => pre = Some((0, number)),
                "b" | "beta" if pre.is_none() => pre = Some((1, number)),
                "rc" | "c" | "pre" | "preview" if pre.is_none() => pre = Some((2, number)),
                "post" | "rev" | "r" if post.is_none() => post = Some(number),
                // `1.0-1`: an implicit post-release.
                "" if post.is_none() && digits_end > 0 => post = Some(number),
                "dev" if dev.is_none() => dev = Some(number),
                _ => return None,
            }
            tail = &after[digits_end..];
        }
        let mut release = release;
        while release.len() > 1 && release.last() == Some(&0) {
            release.pop();
        }
        Some(Self {
            epoch,
            release,
            pre,
            post,
            dev,
            local,
        })
    }

    /// The key PEP 440 orders by: a dev release of a final version sorts before its
    /// pre-releases; a final release after them; no post-release before any; no dev release
    /// after any; no local part before any.
    fn key(&self) -> (u64, &[u64], [(i8, u64); 3]) {
        let pre = match (self.pre, self.post, self.dev) {
            (Some((kind, n)), _, _) => (kind as i8, n),
            (None, None, Some(_)) => (-1, 0),
            (None, _, _) => (3, 0),
        };
        let post = self.post.map(|n| (1, n)).unwrap_or((0, 0));
        let dev = self.dev.map(|n| (0, n)).unwrap_or((1, 0));
        (self.epoch, &self.release, [pre, post, dev])
    }
}

impl PartialOrd for Pep440 {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Pep440 {
    fn cmp(&self, other: &Self) -> Ordering {
        self.key()
            .cmp(&other.key())
            .then_with(|| self.local.cmp(&other.local))
    }
}

/// rpm's order (`rpmvercmp` and `rpmverCmp`): `[epoch:]version[-release]`, epoch first (none
/// is 0), then version and release, each by runs of digits (as numbers, and above letters) or
/// letters (as bytes), other characters only separating; `~` sorts before everything, even the
/// end, and `^` after the end but before anything else. A missing release is below any.
pub fn rpm(a: &str, b: &str) -> Ordering {
    let (ea, va, ra) = split_rpm(a);
    let (eb, vb, rb) = split_rpm(b);
    rpmvercmp(ea, eb)
        .then_with(|| rpmvercmp(va, vb))
        .then_with(|| match (ra, rb) {
            (None, None) => Ordering::Equal,
            (Some(_), None) => Ordering::Greater,
            (None, Some(_)) => Ordering::Less,
            (Some(x), Some(y)) => rpmvercmp(x, y),
        })
}

/// `[epoch:]version[-release]`; the epoch as rpm compares it, a run of digits of any length
/// (no epoch is `0`).
fn split_rpm(v: &str) -> (&str, &str, Option<&str>) {
    let (epoch, rest) = match v.split_once(':') {
        Some((e, r)) if !e.is_empty() && e.bytes().all(|c| c.is_ascii_digit()) => (e, r),
        _ => ("0", v),
    };
    match rest.rsplit_once('-') {
        Some((v, r)) => (epoch, v, Some(r)),
        None => (epoch, rest, None),
    }
}

fn rpmvercmp(a: &str, b: &str) -> Ordering {
    if a == b {
        return Ordering::Equal;
    }
    let (mut a, mut b) = (a.as_bytes(), b.as_bytes());
    let separator = |c: &u8| !c.is_ascii_alphanumeric() && *c != b'~' && *c != b'^';
    loop {
        while a.first().is_some_and(separator) {
            a = &a[1..];
        }
        while b.first().is_some_and(separator) {
            b = &b[1..];
        }
        let (x, y) = (a.first().copied(), b.first().copied());
        if x == Some(b'~') || y == Some(b'~') {
            if x != Some(b'~') {
                return Ordering::Greater;
            }
            if y != Some(b'~') {
                return Ordering::Less;
            }
            (a, b) = (&a[1..], &b[1..]);
            continue;
        }
        if x == Some(b'^') || y == Some(b'^') {
            return match (x, y) {
                (None, _) => Ordering::Less,
                (_, None) => Ordering::Greater,
                (Some(b'^'), Some(b'^')) => {
                    (a, b) = (&a[1..], &b[1..]);
                    continue;
                }
                (Some(b'^'), _) => Ordering::Less,
                _ => Ordering::Greater,
            };
        }
        if x.is_none() || y.is_none() {
            break;
        }
        let numeric = a[0].is_ascii_digit();
        let run = |s: &[u8]| -> usize {
            s.iter()
                .position(|c| {
                    if numeric {
                        !c.is_ascii_digit()
                    } else {
                        !c.is_ascii_alphabetic()
                    }
                })
                .unwrap_or(s.len())
        };
        let (na, nb) = (run(a), run(b));
        if nb == 0 {
            // A number is newer than letters.
            return if numeric {
                Ordering::Greater
            } else {
                Ordering::Less
            };
        }
        let (sa, sb) = (&a[..na], &b[..nb]);
        let order = if numeric {
            let trim = |s: &'_ [u8]| -> usize { s.iter().take_while(|c| **c == b'0').count() };
            let (sa, sb) = (&sa[trim(sa)..], &sb[trim(sb)..]);
            sa.len().cmp(&sb.len()).then_with(|| sa.cmp(sb))
        } else {
            sa.cmp(sb)
        };
        if order != Ordering::Equal {
            return order;
        }
        (a, b) = (&a[na..], &b[nb..]);
    }
    match (a.is_empty(), b.is_empty()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Less,
        _ => Ordering::Greater,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cmp::Ordering::*;

    #[test]
    fn dpkg_order_as_dpkg_orders() {
        for (a, b, want) in [
            ("1.0", "1.0", Equal),
            ("1.0", "1.1", Less),
            ("1.0~rc1", "1.0", Less),
            ("1.0~~", "1.0~", Less),
            ("1.0", "1.0a", Less),
            ("1.0a", "1.0+", Less),
            ("1:1.0", "2.0", Greater),
            ("3.0.11-1~deb12u2", "3.0.11-1~deb12u2+b1", Less),
            ("3.0.11-1~deb12u2", "3.0.11-1", Less),
            ("2.36-9+deb12u4", "2.36-9+deb12u10", Less),
            ("1.2.3-0010", "1.2.3-10", Equal),
            ("7.88.1-10+deb12u5", "7.88.1-10+deb12u12", Less),
            ("1.0-1", "1.0", Greater),
            ("0:1.0", "1.0", Equal),
            ("1.18446744073709551616", "1.18446744073709551615", Greater),
        ] {
            assert_eq!(dpkg(a, b), want, "{a} vs {b}");
            assert_eq!(dpkg(b, a), want.reverse(), "{b} vs {a}");
        }
    }

    #[test]
    fn apk_order() {
        for (a, b, want) in [
            ("3.3.1-r5", "3.3.2-r0", Less),
            ("1.2.5-r0", "1.2.5-r1", Less),
            ("1.10", "1.9", Greater),
            ("1.0_rc1", "1.0", Less),
            ("1.0_alpha2", "1.0_beta1", Less),
            ("1.0", "1.0_p1", Less),
            ("1.2.3", "1.2.3a", Less),
            ("1.2.3a", "1.2.4", Less),
            ("2.0_rc1-r1", "2.0_rc2-r0", Less),
            ("1.36.1-r2", "1.36.1-r2", Equal),
            // apk-tools' own rules: a run after a dot starting with 0 is a fraction; a bare
            // suffix is below the same suffix numbered 0; no revision is below -r0.
            ("1.08", "1.1", Less),
            ("2.02-r0", "2.1-r0", Less),
            ("1.0.01", "1.0.1", Less),
            ("1.0_p", "1.0_p0", Less),
            ("1.2_rc", "1.2_rc0", Less),
            ("1.0", "1.0-r0", Less),
        ] {
            assert_eq!(apk(a, b), Some(want), "{a} vs {b}");
            assert_eq!(apk(b, a), Some(want.reverse()), "{b} vs {a}");
        }
        assert_eq!(apk("not.a version", "1.0"), None);
    }

    #[test]
    fn pep440_order() {
        for (a, b, want) in [
            ("2.19.1", "2.20.0", Less),
            ("1.0", "1.0.0", Equal),
            ("1.0.dev1", "1.0a1", Less),
            ("1.0a1", "1.0a2", Less),
            ("1.0a2", "1.0b1", Less),
            ("1.0b1", "1.0rc1", Less),
            ("1.0rc1", "1.0", Less),
            ("1.0", "1.0.post1", Less),
            ("1.0.post1.dev1", "1.0.post1", Less),
            ("1.0", "1.0+local.1", Less),
            ("1.0+abc", "1.0+5", Less),
            ("1!0.1", "2.0", Greater),
            ("1.0-1", "1.0.post1", Equal),
            ("1.0ALPHA1", "1.0a1", Equal),
            ("1.0c1", "1.0rc1", Equal),
            ("v1.10", "1.9", Greater),
            ("2.10", "2.9.9", Greater),
        ] {
            assert_eq!(pep440(a, b), Some(want), "{a} vs {b}");
            assert_eq!(pep440(b, a), Some(want.reverse()), "{b} vs {a}");
        }
        assert_eq!(pep440("not a version", "1.0"), None);
        assert_eq!(pep440("1.0foo", "1.0"), None);
    }

    /// The same pairs through dpkg itself, when the machine has it (every Debian machine).
    #[test]
    fn agrees_with_dpkg_compare_versions() {
        let pairs = [
            ("1.0~rc1", "1.0"),
            ("1:0.9", "2.0"),
            ("2.36-9+deb12u4", "2.36-9+deb12u10"),
            ("1.0a", "1.0+"),
            ("1.0-1", "1.0"),
            ("5.2.15-2+b2", "5.2.15-2"),
        ];
        for (a, b) in pairs {
            let less = std::process::Command::new("dpkg")
                .args(["--compare-versions", a, "lt", b])
                .status()
                .expect("dpkg runs")
                .success();
            assert_eq!(dpkg(a, b) == Less, less, "{a} vs {b}");
        }
    }

    #[test]
    fn rpm_orders_as_rpm_itself_does() {
        let pairs = [
            ("1.0", "1.0"),
            ("1.0", "2.0"),
            ("2.0.1", "2.0"),
            ("1.0a", "1.0"),
            ("1.0", "1.0.a"),
            ("1.0~rc1", "1.0"),
            ("1.0~rc1", "1.0~rc2"),
            ("1.0^git1", "1.0"),
            ("1.0^git1", "1.0.1"),
            ("1.0^", "1.0~"),
            ("1:1.0-1", "2.0-1"),
            ("0:1.0-1", "1.0-1"),
            ("1.0-1", "1.0"),
            ("3.0.7-27.el9", "3.0.7-27.el9_4.1"),
            ("3.0.7-27.el9", "1:3.0.7-24.el9"),
            ("010", "10"),
            ("1.01", "1.1"),
            ("a", "1"),
            ("1.0_1", "1.0.1"),
            ("5.2", "5.10"),
            ("fc4", "fc.4"),
            ("2.0.0+git", "2.0.0"),
            ("1.1.a", "1.1.1"),
            ("2_0", "2.0"),
            ("alpha", "beta"),
            ("1.el9", "1.el9_0"),
            ("99999999999999999999:1", "99999999999999999998:1"),
            ("18446744073709551616:1", "18446744073709551615:2"),
        ];
        // rpm's own comparison, one lua call per pair.
        let script: String = pairs
            .iter()
            .map(|(a, b)| format!("print(rpm.vercmp('{a}','{b}')) print(' ') "))
            .collect();
        let out = std::process::Command::new("rpm")
            .arg("--eval")
            .arg(format!("%{{lua: {script}}}"))
            .output()
            .expect("rpm (the test command installs it)");
        let text = String::from_utf8(out.stdout).unwrap();
        let theirs: Vec<i32> = text
            .split_whitespace()
            .map(|n| n.parse().unwrap())
            .collect();
        assert_eq!(theirs.len(), pairs.len(), "{text}");
        for ((a, b), want) in pairs.iter().zip(theirs) {
            let ours = match rpm(a, b) {
                Ordering::Less => -1,
                Ordering::Equal => 0,
                Ordering::Greater => 1,
            };
            assert_eq!(ours, want, "rpm order of {a} and {b}");
            assert_eq!(rpm(b, a), rpm(a, b).reverse(), "{a} {b}");
        }
    }
}
