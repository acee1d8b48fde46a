//! The layered settings and their validation.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::{keys, ConfigError, EnvSource};

/// One layer of settings, every value optional. The file layer is deserialized from TOML and
/// rejects unknown keys; the environment and flag layers are built field by field.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSettings {
    pub data_dir: Option<PathBuf>,
    pub listen: Option<String>,
    pub database_url: Option<String>,
    pub bus_url: Option<String>,
    pub cache_url: Option<String>,
    pub namespace: Option<String>,
    pub admin_token: Option<String>,
    pub internal_token: Option<String>,
    pub admission_token: Option<String>,
    pub secret_key: Option<String>,
    pub health_interval_secs: Option<String>,
    pub registry_addr: Option<String>,
    pub space_addr: Option<String>,
    pub replication_addr: Option<String>,
    pub scan_addr: Option<String>,
    pub token_issuer: Option<String>,
    pub token_signing_key_file: Option<PathBuf>,
    pub platform_admins: Option<String>,
    pub log_format: Option<String>,
    pub replication_workers: Option<String>,
    pub replication_task_attempts: Option<String>,
    pub replication_task_timeout_secs: Option<String>,
    pub replication_verify_secs: Option<String>,
    pub vulndb_mirror: Option<String>,
    pub vulndb_ecosystems: Option<String>,
    pub vulndb_sync_secs: Option<String>,
}

impl RawSettings {
    /// Reads the environment layer.
    pub fn from_env(env: &dyn EnvSource) -> Self {
        Self {
            data_dir: env.var(keys::DATA_DIR).map(PathBuf::from),
            listen: env.var(keys::LISTEN),
            database_url: env.var(keys::DATABASE_URL),
            bus_url: env.var(keys::BUS_URL),
            cache_url: env.var(keys::CACHE_URL),
            namespace: env.var(keys::NAMESPACE),
            admin_token: env.var(keys::ADMIN_TOKEN),
            internal_token: env.var(keys::INTERNAL_TOKEN),
            admission_token: env.var(keys::ADMISSION_TOKEN),
            secret_key: env.var(keys::SECRET_KEY),
            health_interval_secs: env.var(keys::HEALTH_INTERVAL_SECS),
            registry_addr: env.var(keys::REGISTRY_ADDR),
            space_addr: env.var(keys::SPACE_ADDR),
            replication_addr: env.var(keys::REPLICATION_ADDR),
            scan_addr: env.var(keys::SCAN_ADDR),
            token_issuer: env.var(keys::TOKEN_ISSUER),
            token_signing_key_file: env.var(keys::TOKEN_SIGNING_KEY_FILE).map(PathBuf::from),
            platform_admins: env.var(keys::PLATFORM_ADMINS),
            log_format: env.var(keys::LOG_FORMAT),
            replication_workers: env.var(keys::REPLICATION_WORKERS),
            replication_task_attempts: env.var(keys::REPLICATION_TASK_ATTEMPTS),
            replication_task_timeout_secs: env.var(keys::REPLICATION_TASK_TIMEOUT_SECS),
            replication_verify_secs: env.var(keys::REPLICATION_VERIFY_SECS),
            vulndb_mirror: env.var(keys::VULNDB_MIRROR),
            vulndb_ecosystems: env.var(keys::VULNDB_ECOSYSTEMS),
            vulndb_sync_secs: env.var(keys::VULNDB_SYNC_SECS),
        }
    }

    /// Reads a TOML file layer.
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError::new(keys::CONFIG_FILE, format!("{}: {e}", path.display())))?;
        toml::from_str(&text)
            .map_err(|e| ConfigError::new(keys::CONFIG_FILE, format!("{}: {e}", path.display())))
    }

    /// Returns `self` with every value that `over` sets replaced.
    pub fn overlay(self, over: RawSettings) -> Self {
        Self {
            data_dir: over.data_dir.or(self.data_dir),
            listen: over.listen.or(self.listen),
            database_url: over.database_url.or(self.database_url),
            bus_url: over.bus_url.or(self.bus_url),
            cache_url: over.cache_url.or(self.cache_url),
            namespace: over.namespace.or(self.namespace),
            admin_token: over.admin_token.or(self.admin_token),
            internal_token: over.internal_token.or(self.internal_token),
            admission_token: over.admission_token.or(self.admission_token),
            secret_key: over.secret_key.or(self.secret_key),
            health_interval_secs: over.health_interval_secs.or(self.health_interval_secs),
            registry_addr: over.registry_addr.or(self.registry_addr),
            space_addr: over.space_addr.or(self.space_addr),
            replication_addr: over.replication_addr.or(self.replication_addr),
            scan_addr: over.scan_addr.or(self.scan_addr),
            token_issuer: over.token_issuer.or(self.token_issuer),
            token_signing_key_file: over.token_signing_key_file.or(self.token_signing_key_file),
            platform_admins: over.platform_admins.or(self.platform_admins),
            log_format: over.log_format.or(self.log_format),
            replication_workers: over.replication_workers.or(self.replication_workers),
            replication_task_attempts: over
                .replication_task_attempts
                .or(self.replication_task_attempts),
            replication_task_timeout_secs: over
                .replication_task_timeout_secs
                .or(self.replication_task_timeout_secs),
            replication_verify_secs: over
                .replication_verify_secs
                .or(self.replication_verify_secs),
            vulndb_mirror: over.vulndb_mirror.or(self.vulndb_mirror),
            vulndb_ecosystems: over.vulndb_ecosystems.or(self.vulndb_ecosystems),
            vulndb_sync_secs: over.vulndb_sync_secs.or(self.vulndb_sync_secs),
        }
    }
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Json,
    Plain,
}

/// URLs of the external backends; `None` selects the embedded implementation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BackendUrls {
    pub database: Option<String>,
    pub bus: Option<String>,
    pub cache: Option<String>,
}

/// Validated settings.
#[derive(Debug, Clone)]
pub struct Settings {
    pub data_dir: PathBuf,
    pub listen: SocketAddr,
    pub backends: BackendUrls,
    pub namespace: String,
    pub admin_token: Option<String>,
    pub internal_token: Option<String>,
    pub admission_token: Option<String>,
    pub secret_key: Option<String>,
    pub health_interval: Duration,
    pub registry_addr: Option<String>,
    pub space_addr: Option<String>,
    pub replication_addr: Option<String>,
    pub scan_addr: Option<String>,
    pub token_issuer: String,
    pub token_signing_key_file: Option<PathBuf>,
    pub platform_admins: Vec<String>,
    pub log_format: LogFormat,
    pub replication: ReplicationSettings,
    /// Where the scan service fetches OSV exports (`{mirror}/{ecosystem}/all.zip`), if set.
    pub vulndb: Option<VulnDbMirror>,
}

/// An OSV mirror: a web server laid out as osv.dev's bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VulnDbMirror {
    pub url: String,
    pub ecosystems: Vec<String>,
    pub every: Duration,
}

/// How replication executions run in this process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplicationSettings {
    pub workers: u16,
    pub task_attempts: u32,
    pub task_timeout: Duration,
    pub verify_interval: Duration,
}

/// Parses a whole number in `range`, or says which key is wrong.
fn number(
    key: &str,
    value: Option<String>,
    default: u64,
    range: std::ops::RangeInclusive<u64>,
) -> Result<u64, ConfigError> {
    match value {
        None => Ok(default),
        Some(v) => match v.parse::<u64>() {
            Ok(n) if range.contains(&n) => Ok(n),
            _ => Err(ConfigError::new(
                key,
                format!(
                    "{v:?} is not a whole number from {} to {}",
                    range.start(),
                    range.end()
                ),
            )),
        },
    }
}

impl Settings {
    /// Loads file (from `BERTH_CONFIG` or `file`), then environment, then `flags`.
    pub fn load(
        file: Option<&Path>,
        env: &dyn EnvSource,
        flags: RawSettings,
    ) -> Result<Self, ConfigError> {
        let file = file
            .map(Path::to_path_buf)
            .or_else(|| env.var(keys::CONFIG_FILE).map(PathBuf::from));
        let base = match file {
            Some(path) => RawSettings::from_file(&path)?,
            None => RawSettings::default(),
        };
        Self::validate(base.overlay(RawSettings::from_env(env)).overlay(flags))
    }

    /// Checks every value and fills in defaults.
    pub fn validate(raw: RawSettings) -> Result<Self, ConfigError> {
        let listen = raw.listen.as_deref().unwrap_or("127.0.0.1:8080");
        let listen: SocketAddr = listen.parse().map_err(|_| {
            ConfigError::new(
                keys::LISTEN,
                format!("{listen:?} is not a host:port address"),
            )
        })?;
        let database = check_url(
            keys::DATABASE_URL,
            raw.database_url,
            &["postgres", "postgresql", "sqlite"],
        )?;
        let bus = check_url(keys::BUS_URL, raw.bus_url, &["amqp", "amqps"])?;
        let cache = check_url(keys::CACHE_URL, raw.cache_url, &["redis", "rediss"])?;
        let namespace = raw.namespace.unwrap_or_else(|| "berth".into());
        if namespace.is_empty()
            || !namespace
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
        {
            return Err(ConfigError::new(
                keys::NAMESPACE,
                "must be letters, digits, '-', '_' or '.'",
            ));
        }
        let health_interval = match raw.health_interval_secs {
            None => Duration::from_secs(30),
            Some(v) => match v.parse::<u64>() {
                Ok(n) if (1..=86_400).contains(&n) => Duration::from_secs(n),
                _ => {
                    return Err(ConfigError::new(
                        keys::HEALTH_INTERVAL_SECS,
                        format!("{v:?} is not a number of seconds from 1 to 86400"),
                    ))
                }
            },
        };
        // Unset (or `auto`): lines for a person when stderr is a terminal, JSON for a
        // collector otherwise.
        let log_format = match raw.log_format.as_deref() {
            None | Some("auto") if std::io::IsTerminal::is_terminal(&std::io::stderr()) => {
                LogFormat::Plain
            }
            None | Some("auto") | Some("json") => LogFormat::Json,
            Some("plain") | Some("text") => LogFormat::Plain,
            Some(other) => {
                return Err(ConfigError::new(
                    keys::LOG_FORMAT,
                    format!("{other:?} is none of \"auto\", \"json\" and \"plain\""),
                ))
            }
        };
        for (key, token) in [
            (keys::ADMIN_TOKEN, &raw.admin_token),
            (keys::INTERNAL_TOKEN, &raw.internal_token),
            (keys::ADMISSION_TOKEN, &raw.admission_token),
        ] {
            if let Some(t) = token {
                if t.len() < 16 {
                    return Err(ConfigError::new(key, "must be at least 16 characters"));
                }
            }
        }
        let registry_addr = check_url_list(keys::REGISTRY_ADDR, raw.registry_addr)?;
        let space_addr = check_url_list(keys::SPACE_ADDR, raw.space_addr)?;
        let replication_addr = check_url_list(keys::REPLICATION_ADDR, raw.replication_addr)?;
        let scan_addr = check_url_list(keys::SCAN_ADDR, raw.scan_addr)?;
        let platform_admins = raw
            .platform_admins
            .map(|s| {
                s.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(String::from)
                    .collect()
            })
            .unwrap_or_default();
        let replication = ReplicationSettings {
            workers: number(
                keys::REPLICATION_WORKERS,
                raw.replication_workers,
                8,
                0..=256,
            )? as u16,
            task_attempts: number(
                keys::REPLICATION_TASK_ATTEMPTS,
                raw.replication_task_attempts,
                5,
                1..=100,
            )? as u32,
            task_timeout: Duration::from_secs(number(
                keys::REPLICATION_TASK_TIMEOUT_SECS,
                raw.replication_task_timeout_secs,
                3600,
                1..=7 * 86_400,
            )?),
            verify_interval: Duration::from_secs(number(
                keys::REPLICATION_VERIFY_SECS,
                raw.replication_verify_secs,
                86_400,
                0..=365 * 86_400,
            )?),
        };
        let vulndb = match raw.vulndb_mirror.filter(|m| !m.trim().is_empty()) {
            None => None,
            Some(url) => {
                let url = url.trim().trim_end_matches('/').to_string();
                if !(url.starts_with("http://") || url.starts_with("https://")) {
                    return Err(ConfigError::new(
                        keys::VULNDB_MIRROR,
                        "must be an http:// or https:// URL",
                    ));
                }
                let ecosystems: Vec<String> = raw
                    .vulndb_ecosystems
                    .unwrap_or_default()
                    .split(',')
                    .map(str::trim)
                    .filter(|e| !e.is_empty())
                    .map(String::from)
                    .collect();
                if ecosystems.is_empty() {
                    return Err(ConfigError::new(
                        keys::VULNDB_ECOSYSTEMS,
                        "is required with BERTH_VULNDB_MIRROR (the ecosystems to fetch, \
                         comma-separated: PyPI,npm,Debian)",
                    ));
                }
                if let Some(bad) = ecosystems
                    .iter()
                    .find(|e| e.contains(['/', '?', '#']) || e.contains(".."))
                {
                    return Err(ConfigError::new(
                        keys::VULNDB_ECOSYSTEMS,
                        format!("{bad:?} is not an ecosystem name"),
                    ));
                }
                Some(VulnDbMirror {
                    url,
                    ecosystems,
                    every: Duration::from_secs(number(
                        keys::VULNDB_SYNC_SECS,
                        raw.vulndb_sync_secs,
                        86_400,
                        1..=30 * 86_400,
                    )?),
                })
            }
        };
        Ok(Self {
            data_dir: raw.data_dir.unwrap_or_else(|| PathBuf::from("berth-data")),
            listen,
            backends: BackendUrls {
                database,
                bus,
                cache,
            },
            namespace,
            admin_token: raw.admin_token,
            internal_token: raw.internal_token,
            admission_token: raw.admission_token,
            secret_key: raw.secret_key,
            health_interval,
            registry_addr,
            space_addr,
            replication_addr,
            scan_addr,
            token_issuer: raw.token_issuer.unwrap_or_else(|| "berth".into()),
            token_signing_key_file: raw.token_signing_key_file,
            platform_admins,
            log_format,
            replication,
            vulndb,
        })
    }
}

/// A service address: one `http://host:port` or a comma-separated list of them (replicas).
fn check_url_list(key: &str, value: Option<String>) -> Result<Option<String>, ConfigError> {
    let Some(value) = value else { return Ok(None) };
    let urls: Vec<&str> = value
        .split(',')
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .collect();
    if urls.is_empty() {
        return Err(ConfigError::new(key, "names no address"));
    }
    for url in urls {
        check_url(key, Some(url.to_string()), &["http", "https"])?;
    }
    Ok(Some(value))
}

fn check_url(
    key: &str,
    value: Option<String>,
    schemes: &[&str],
) -> Result<Option<String>, ConfigError> {
    let Some(value) = value else { return Ok(None) };
    let url =
        url::Url::parse(&value).map_err(|e| ConfigError::new(key, format!("not a URL: {e}")))?;
    if !schemes.contains(&url.scheme()) {
        return Err(ConfigError::new(
            key,
            format!(
                "scheme {:?} is not one of {}",
                url.scheme(),
                schemes.join(", ")
            ),
        ));
    }
    Ok(Some(value))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_select_the_embedded_backends() {
        let s = Settings::load(None, &env(&[]), RawSettings::default()).unwrap();
        assert_eq!(s.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(s.backends, BackendUrls::default());
        assert_eq!(s.health_interval, Duration::from_secs(30));
        assert_eq!(s.namespace, "berth");
        assert_eq!(s.replication.workers, 8);
        assert_eq!(s.replication.task_attempts, 5);
        let s = Settings::load(
            None,
            &env(&[
                (keys::REPLICATION_WORKERS, "0"),
                (keys::REPLICATION_VERIFY_SECS, "60"),
            ]),
            RawSettings::default(),
        )
        .unwrap();
        assert_eq!(
            (s.replication.workers, s.replication.verify_interval),
            (0, Duration::from_secs(60))
        );
    }

    #[test]
    fn flags_override_env_which_overrides_the_file() {
        let dir = tempfile_dir();
        let path = dir.join("berth.toml");
        std::fs::write(
            &path,
            "listen = \"127.0.0.1:1\"\nnamespace = \"file\"\nhealth_interval_secs = \"5\"\n",
        )
        .unwrap();
        let e = env(&[(keys::LISTEN, "127.0.0.1:2"), (keys::NAMESPACE, "env")]);
        let flags = RawSettings {
            listen: Some("127.0.0.1:3".into()),
            ..Default::default()
        };
        let s = Settings::load(Some(&path), &e, flags).unwrap();
        assert_eq!(s.listen.port(), 3);
        assert_eq!(s.namespace, "env");
        assert_eq!(s.health_interval, Duration::from_secs(5));
    }

    #[test]
    fn service_addresses_take_lists_of_replicas() {
        let list = "http://127.0.0.1:9000, http://registry-1:9000";
        let s = Settings::load(
            None,
            &env(&[(keys::REGISTRY_ADDR, list)]),
            RawSettings::default(),
        )
        .unwrap();
        assert_eq!(s.registry_addr.as_deref(), Some(list));
        for bad in ["http://a:1,ftp://b:2", " , ", "http://a:1,http://b:x"] {
            let e = Settings::load(
                None,
                &env(&[(keys::SPACE_ADDR, bad)]),
                RawSettings::default(),
            )
            .unwrap_err();
            assert_eq!(e.key, keys::SPACE_ADDR, "{bad}");
        }
    }

    #[test]
    fn bad_values_name_their_key() {
        for (key, value) in [
            (keys::LISTEN, "nowhere"),
            (keys::DATABASE_URL, "mysql://x/y"),
            (keys::BUS_URL, "not a url"),
            (keys::CACHE_URL, "http://x"),
            (keys::HEALTH_INTERVAL_SECS, "0"),
            (keys::LOG_FORMAT, "xml"),
            (keys::ADMIN_TOKEN, "short"),
            (keys::NAMESPACE, "a b"),
            (keys::REPLICATION_WORKERS, "many"),
            (keys::REPLICATION_TASK_ATTEMPTS, "0"),
            (keys::REPLICATION_TASK_TIMEOUT_SECS, "-5"),
            (keys::REPLICATION_VERIFY_SECS, "1.5"),
        ] {
            let err =
                Settings::load(None, &env(&[(key, value)]), RawSettings::default()).expect_err(key);
            assert_eq!(err.key, key, "{err}");
        }
    }

    #[test]
    fn unknown_file_keys_are_rejected() {
        let dir = tempfile_dir();
        let path = dir.join("bad.toml");
        std::fs::write(&path, "lisen = \"127.0.0.1:1\"\n").unwrap();
        let err = Settings::load(Some(&path), &env(&[]), RawSettings::default()).unwrap_err();
        assert_eq!(err.key, keys::CONFIG_FILE);
        assert!(err.message.contains("lisen"), "{err}");
    }

    fn tempfile_dir() -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "berth-config-test-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }
}
