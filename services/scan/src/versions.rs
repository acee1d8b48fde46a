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
    numbers: Vec<u64>,
    letter: Option<char>,
    /// (rank, number) of each suffix; no suffix compares as rank 0.
    suffixes: Vec<(i8, u64)>,
    revision: u64,
}

impl Apk {
    fn parse(v: &str) -> Option<Self> {
        let (v, revision) = match v.rsplit_once("-r") {
            Some((v, r)) => (v, r.parse().ok()?),
            None => (v, 0),
        };
        let mut parts = v.split('_');
        let head = parts.next()?;
        let digits_end = head
            .rfind(|c: char| c.is_ascii_digit())
            .map(|i| i + 1)
            .unwrap_or(0);
        let (numbers, letter) = head.split_at(digits_end);
        let numbers: Vec<u64> = numbers
            .split('.')
            .map(|n| n.parse().ok())
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
                "" => 0,
                digits => digits.parse().ok()?,
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
        self.numbers
            .cmp(&other.numbers)
            .then_with(|| self.letter.cmp(&other.letter))
            .then_with(|| {
                let len = self.suffixes.len().max(other.suffixes.len());
                let at = |s: &[(i8, u64)], i: usize| s.get(i).copied().unwrap_or((0, 0));
                (0..len)
                    .map(|i| at(&self.suffixes, i).cmp(&at(&other.suffixes, i)))
                    .find(|o| *o != Ordering::Equal)
                    .unwrap_or(Ordering::Equal)
            })
            .then_with(|| self.revision.cmp(&other.revision))
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
        ] {
            assert_eq!(apk(a, b), Some(want), "{a} vs {b}");
            assert_eq!(apk(b, a), Some(want.reverse()), "{b} vs {a}");
        }
        assert_eq!(apk("not.a version", "1.0"), None);
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
}
