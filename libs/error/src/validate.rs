//! Name rules shared by every service. Each answers the problem in words, without the field:
//! callers wrap it into their own error naming the field.

/// A DNS label (RFC 1123): 1–63 lowercase letters, digits and '-', starting and ending with a
/// letter or digit. Registry, workspace and Kubernetes namespace names.
pub fn dns_label(value: &str) -> Result<(), String> {
    if value.is_empty() {
        return Err("must not be empty".into());
    }
    if value.len() > 63 {
        return Err("must be at most 63 characters".into());
    }
    if !value
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        return Err("may contain only lowercase letters, digits and '-'".into());
    }
    if value.starts_with('-') || value.ends_with('-') {
        return Err("must start and end with a letter or digit".into());
    }
    Ok(())
}

/// Whether no name may hold `c`: control characters, white space, and what a reader cannot
/// see or that reorders what they see (zero-width and bidirectional formatting characters, the
/// byte-order mark, tags, noncharacters).
pub fn unfit_char(c: char) -> bool {
    c.is_control()
        || c.is_whitespace()
        || matches!(c,
            '\u{00ad}' | '\u{061c}' | '\u{180e}'
            | '\u{200b}'..='\u{200f}'
            | '\u{202a}'..='\u{202e}'
            | '\u{2060}'..='\u{206f}'
            | '\u{feff}'
            | '\u{fff0}'..='\u{ffff}'
            | '\u{e0000}'..='\u{e007f}')
}

/// A principal (user, group or service account name): 1–255 characters, none of them
/// [`unfit_char`].
pub fn principal(value: &str) -> Result<(), String> {
    if value.is_empty() {
        return Err("must not be empty".into());
    }
    if value.chars().count() > 255 || value.chars().any(unfit_char) {
        return Err("must be at most 255 characters without spaces or control characters".into());
    }
    Ok(())
}

/// One component of a repository path: `[a-z0-9]+([._-][a-z0-9]+)*`, at most 255 characters.
pub fn path_component(value: &str) -> Result<(), String> {
    if value.is_empty() {
        return Err("must not be empty".into());
    }
    let ok = value.len() <= 255
        && value.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'_' || b == b'-'
        })
        && value.as_bytes()[0].is_ascii_alphanumeric()
        && value.as_bytes()[value.len() - 1].is_ascii_alphanumeric();
    if ok {
        Ok(())
    } else {
        Err("must be lowercase letters and digits, separated by '.', '_' or '-'".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_principals_and_components() {
        assert!(dns_label("team-a").is_ok());
        for bad in ["", "-a", "a-", "A", "a.b", &"x".repeat(64)] {
            assert!(dns_label(bad).is_err(), "{bad:?}");
        }
        assert!(principal("alice@example.com").is_ok());
        assert!(principal("has space").is_err());
        assert!(path_component("team_a.v2").is_ok());
        for bad in ["", "Team", "_a", "a/b"] {
            assert!(path_component(bad).is_err(), "{bad:?}");
        }
    }
}
