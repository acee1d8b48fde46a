//! Doublestar patterns for repository and tag filters: `*` and `?` stay within a path segment,
//! `**` crosses segments.

/// Checks that `pattern` can match a name of its `kind` (`repository` or `tag`): non-empty,
/// at most 255 characters, made of the characters such names have (the distribution grammar)
/// and the wildcards `*`, `**` and `?`.
pub fn validate(kind: &str, pattern: &str) -> Result<(), String> {
    if pattern.is_empty() {
        return Err("must not be empty".into());
    }
    if pattern.len() > 255 {
        return Err("must be at most 255 characters".into());
    }
    if pattern.contains("***") {
        return Err("`***` is not a pattern; use `**`".into());
    }
    let allowed = |c: char| match kind {
        "tag" => c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'),
        _ => c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-' | '/'),
    };
    if let Some(c) = pattern
        .chars()
        .find(|&c| !allowed(c) && c != '*' && c != '?')
    {
        return Err(format!(
            "{c:?} appears in no {kind} name; patterns take the name's own characters and `*`, `**`, `?`"
        ));
    }
    Ok(())
}

/// Whether `pattern` matches only itself.
pub fn is_literal(pattern: &str) -> bool {
    !pattern.contains(['*', '?'])
}

enum Token {
    Byte(u8),
    /// `?`: one byte other than `/`.
    One,
    /// `*`: any bytes other than `/`.
    Star,
    /// `**`: any bytes; `**/` (with `slash`) is nothing at all or anything ending in `/`.
    Globstar {
        slash: bool,
    },
}

fn tokens(pattern: &[u8]) -> Vec<Token> {
    let mut out = Vec::with_capacity(pattern.len());
    let mut i = 0;
    while i < pattern.len() {
        match pattern[i] {
            b'*' if pattern.get(i + 1) == Some(&b'*') => {
                while pattern.get(i) == Some(&b'*') {
                    i += 1;
                }
                let slash = pattern.get(i) == Some(&b'/');
                i += usize::from(slash);
                out.push(Token::Globstar { slash });
                continue;
            }
            b'*' => out.push(Token::Star),
            b'?' => out.push(Token::One),
            c => out.push(Token::Byte(c)),
        }
        i += 1;
    }
    out
}

/// Whether `text` matches `pattern`, in time proportional to the product of their lengths
/// (a pattern of many stars never backtracks).
pub fn matches(pattern: &str, text: &str) -> bool {
    let t = text.as_bytes();
    let n = t.len();
    // `next[j]`: whether the tokens after the current one match `t[j..]`.
    let mut next = vec![false; n + 1];
    next[n] = true;
    let mut cur = vec![false; n + 1];
    for token in tokens(pattern.as_bytes()).iter().rev() {
        // For `**/`: whether some `/` at or after j ends a match of the `**/`.
        let mut slash_ahead = false;
        for j in (0..=n).rev() {
            cur[j] = match token {
                Token::Byte(c) => j < n && t[j] == *c && next[j + 1],
                Token::One => j < n && t[j] != b'/' && next[j + 1],
                Token::Star => next[j] || (j < n && t[j] != b'/' && cur[j + 1]),
                Token::Globstar { slash: false } => next[j] || (j < n && cur[j + 1]),
                Token::Globstar { slash: true } => {
                    if j < n && t[j] == b'/' && next[j + 1] {
                        slash_ahead = true;
                    }
                    next[j] || slash_ahead
                }
            };
        }
        std::mem::swap(&mut next, &mut cur);
    }
    next[0]
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn stars_and_doublestars() {
        for (p, t, want) in [
            ("team/*", "team/app", true),
            ("team/*", "team/a/b", false),
            ("team/**", "team/a/b", true),
            ("**/app", "app", true),
            ("**/app", "x/y/app", true),
            ("v1.*", "v1.2", true),
            ("v1.*", "v2.0", false),
            ("v?", "v1", true),
            ("v?", "v10", false),
            ("latest", "latest", true),
            ("*", "a/b", false),
            ("**", "a/b", true),
        ] {
            assert_eq!(matches(p, t), want, "{p} vs {t}");
        }
        assert!(super::validate("repository", "").is_err());
        assert!(super::validate("repository", "a b").is_err());
        assert!(super::validate("repository", "team/**").is_ok());
        assert!(super::validate("repository", "Team/*").is_err());
        assert!(super::validate("tag", "v1.[0-9]").is_err());
        assert!(super::validate("tag", "a/b").is_err());
        assert!(super::validate("tag", "V1.*-rc?").is_ok());
    }

    #[test]
    fn doublestar_slash_edge_cases() {
        for (p, t, want) in [
            ("a/**/b", "a/b", true),
            ("a/**/b", "a/x/y/b", true),
            ("a/**/b", "a/xb", false),
            ("**/", "", true),
            ("**/", "x/", true),
            ("**/", "x", false),
            ("team/**/*-dev", "team/a/b/app-dev", true),
            ("team/**/*-dev", "team/app-dev", true),
            ("team/**/*-dev", "team/a/app", false),
            ("*/**", "a", false),
            ("*/**", "a/", true),
        ] {
            assert_eq!(matches(p, t), want, "{p} vs {t}");
        }
    }

    /// A hostile filter (many stars against a long name that almost matches) answers at once
    /// instead of backtracking through every way of splitting the name.
    #[test]
    fn many_stars_do_not_backtrack() {
        let pattern = format!("{}b", "**a".repeat(40));
        let text = "a".repeat(250);
        let started = std::time::Instant::now();
        assert!(!matches(&pattern, &text));
        let pattern = format!("{}b", "*a".repeat(60));
        assert!(!matches(&pattern, &"a".repeat(128)));
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
    }
}
