//! Doublestar patterns for repository and tag filters: `*` and `?` stay within a path segment,
//! `**` crosses segments.

/// Checks that `pattern` is usable: non-empty, at most 255 characters, no whitespace.
pub fn validate(pattern: &str) -> Result<(), String> {
    if pattern.is_empty() {
        return Err("must not be empty".into());
    }
    if pattern.len() > 255 || pattern.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("must be at most 255 characters without spaces".into());
    }
    if pattern.contains("***") {
        return Err("`***` is not a pattern; use `**`".into());
    }
    Ok(())
}

/// Whether `pattern` matches only itself.
pub fn is_literal(pattern: &str) -> bool {
    !pattern.contains(['*', '?'])
}

/// Whether `text` matches `pattern`.
pub fn matches(pattern: &str, text: &str) -> bool {
    fn go(p: &[u8], t: &[u8]) -> bool {
        match p.split_first() {
            None => t.is_empty(),
            Some((b'*', rest)) if rest.first() == Some(&b'*') => {
                let rest = &rest[1..];
                // `**/` also matches nothing at all.
                if rest.first() == Some(&b'/') && go(&rest[1..], t) {
                    return true;
                }
                (0..=t.len()).any(|i| go(rest, &t[i..]))
            }
            Some((b'*', rest)) => {
                let limit = t.iter().position(|&c| c == b'/').unwrap_or(t.len());
                (0..=limit).any(|i| go(rest, &t[i..]))
            }
            Some((b'?', rest)) => {
                matches!(t.split_first(), Some((&c, tr)) if c != b'/' && go(rest, tr))
            }
            Some((&c, rest)) => matches!(t.split_first(), Some((&d, tr)) if c == d && go(rest, tr)),
        }
    }
    go(pattern.as_bytes(), text.as_bytes())
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
        assert!(super::validate("").is_err());
        assert!(super::validate("a b").is_err());
        assert!(super::validate("team/**").is_ok());
    }
}
