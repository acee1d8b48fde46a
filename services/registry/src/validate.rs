//! Input validation: every rule names the field it guards.

use berth_proto::RegistryKind;

use crate::error::{RegistryError, Result};

const URL_MAX: usize = 2048;
const DESCRIPTION_MAX: usize = 1024;
const USERNAME_MAX: usize = 255;
const PASSWORD_MAX: usize = 4096;

/// A DNS-label-like name: 1–63 lowercase letters, digits and '-', starting and ending with a
/// letter or digit. Used for registries and workspaces.
pub fn name(field: &'static str, value: &str) -> Result<()> {
    berth_error::validate::dns_label(value).map_err(|m| RegistryError::invalid(field, m))
}

pub fn kind(value: &str) -> Result<()> {
    if value.is_empty() {
        return Err(RegistryError::invalid("kind", "must not be empty"));
    }
    if RegistryKind::parse(value).is_none() {
        let kinds: Vec<&str> = RegistryKind::ALL.iter().map(|k| k.as_str()).collect();
        return Err(RegistryError::invalid(
            "kind",
            format!("must be one of {}; got {value:?}", kinds.join(", ")),
        ));
    }
    Ok(())
}

/// An http(s) URL with a host and nothing after the path; answers it normalized (no trailing '/').
pub fn url(value: &str) -> Result<String> {
    if value.is_empty() {
        return Err(RegistryError::invalid("url", "must not be empty"));
    }
    if value.len() > URL_MAX {
        return Err(RegistryError::invalid(
            "url",
            format!("must be at most {URL_MAX} characters"),
        ));
    }
    let parsed = url::Url::parse(value)
        .map_err(|e| RegistryError::invalid("url", format!("is not a URL: {e}")))?;
    if parsed.scheme() != "http" && parsed.scheme() != "https" {
        return Err(RegistryError::invalid(
            "url",
            format!("scheme must be http or https, not {:?}", parsed.scheme()),
        ));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(RegistryError::invalid("url", "must name a host"));
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(RegistryError::invalid(
            "url",
            "must not have a query or fragment",
        ));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(RegistryError::invalid(
            "url",
            "must not carry credentials; use the credential field",
        ));
    }
    Ok(parsed.as_str().trim_end_matches('/').to_string())
}

pub fn description(value: &str) -> Result<()> {
    if value.chars().count() > DESCRIPTION_MAX {
        return Err(RegistryError::invalid(
            "description",
            format!("must be at most {DESCRIPTION_MAX} characters"),
        ));
    }
    if value
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        return Err(RegistryError::invalid(
            "description",
            "must not contain control characters",
        ));
    }
    Ok(())
}

pub fn credential(username: &str, password: &str) -> Result<()> {
    if username.is_empty() {
        return Err(RegistryError::invalid(
            "credential.username",
            "must not be empty",
        ));
    }
    if username.len() > USERNAME_MAX {
        return Err(RegistryError::invalid(
            "credential.username",
            format!("must be at most {USERNAME_MAX} characters"),
        ));
    }
    if username.contains(':') || username.chars().any(char::is_control) {
        return Err(RegistryError::invalid(
            "credential.username",
            "must not contain ':' or control characters",
        ));
    }
    if password.is_empty() {
        return Err(RegistryError::invalid(
            "credential.password",
            "must not be empty",
        ));
    }
    if password.len() > PASSWORD_MAX {
        return Err(RegistryError::invalid(
            "credential.password",
            format!("must be at most {PASSWORD_MAX} characters"),
        ));
    }
    Ok(())
}

pub fn token_service(value: &str, kind: &str) -> Result<()> {
    match value {
        "berth" if RegistryKind::Harbor.is(kind) => Err(RegistryError::invalid(
            "token_service",
            "Harbor runs its own token service: \"berth\" is for distribution and oci registries",
        )),
        "" | "berth" => Ok(()),
        other => Err(RegistryError::invalid(
            "token_service",
            format!("must be \"berth\" or empty, not {other:?}"),
        )),
    }
}

/// A hook secret someone chose: long enough not to be guessed, and sendable in a header.
pub fn hook_secret(value: &str) -> Result<()> {
    if value.len() < 32 || value.len() > 256 {
        return Err(RegistryError::invalid(
            "secret",
            "must be 32 to 256 characters (leave it out to have one generated)",
        ));
    }
    if !value.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(RegistryError::invalid(
            "secret",
            "must be printable ASCII without spaces",
        ));
    }
    Ok(())
}

/// A repository name by the distribution grammar ([`berth_oci::reference::valid_repository`]).
pub fn repository(value: &str) -> Result<()> {
    if berth_oci::reference::valid_repository(value) {
        Ok(())
    } else {
        Err(RegistryError::invalid(
            "repository",
            format!("{value:?} is not a repository path"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(r: Result<impl Sized>) -> &'static str {
        match r {
            Err(RegistryError::Invalid { field, .. }) => field,
            _ => "<ok>",
        }
    }

    #[test]
    fn names() {
        for good in ["a", "harbor-prod", "r2", &"x".repeat(63)] {
            assert!(name("name", good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "-a",
            "a-",
            "A",
            "a_b",
            "a.b",
            "a b",
            "ünï",
            &"x".repeat(64),
        ] {
            assert_eq!(field(name("name", bad)), "name", "{bad:?}");
        }
    }

    #[test]
    fn urls() {
        assert_eq!(
            url("http://127.0.0.1:5000/").unwrap(),
            "http://127.0.0.1:5000"
        );
        assert_eq!(
            url("https://r.example/sub/").unwrap(),
            "https://r.example/sub"
        );
        for bad in [
            "",
            "ftp://x",
            "127.0.0.1:5000",
            "http://",
            "http://u:p@x",
            "http://x/?a=1",
            "http://x/#f",
        ] {
            assert_eq!(field(url(bad)), "url", "{bad:?}");
        }
    }

    #[test]
    fn kinds_credentials_and_descriptions() {
        assert!(kind("harbor").is_ok());
        assert_eq!(field(kind("quay")), "kind");
        assert_eq!(field(kind("")), "kind");
        assert_eq!(field(credential("", "p")), "credential.username");
        assert_eq!(field(credential("u:x", "p")), "credential.username");
        assert_eq!(field(credential("u", "")), "credential.password");
        assert_eq!(field(description(&"d".repeat(1025))), "description");
        assert_eq!(field(description("bell\u{7}")), "description");
        assert_eq!(
            field(token_service("keycloak", "distribution")),
            "token_service"
        );
        assert!(repository("library/alpine").is_ok());
        assert_eq!(field(repository("Library/x")), "repository");
        assert_eq!(field(repository("a//b")), "repository");
    }
}
