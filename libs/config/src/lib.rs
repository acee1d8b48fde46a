//! Berth's configuration, read once at start: a TOML file, then environment variables, then
//! command-line flags, each layer overriding the one before. Every binary shares [`Settings`] and
//! uses the parts it needs.
//!
//! Environment keys are declared in [`keys`]; they are read through [`EnvSource`] so tests feed a
//! map instead of mutating the process environment. A bad value is a [`ConfigError`] naming the
//! key, and binaries exit with [`EXIT_CONFIG`] on it.

pub mod keys;
mod settings;

pub use settings::{
    BackendUrls, LogFormat, RawSettings, ReplicationSettings, Settings, VulnDbMirror,
};

use std::collections::HashMap;

/// Exit code of a binary started with bad configuration (`EX_USAGE`).
pub const EXIT_CONFIG: i32 = 64;

/// A configuration value that could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid configuration {key}: {message}")]
pub struct ConfigError {
    pub key: String,
    pub message: String,
}

impl ConfigError {
    pub fn new(key: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            message: message.into(),
        }
    }
}

/// Where environment variables come from.
pub trait EnvSource {
    fn var(&self, key: &str) -> Option<String>;
}

/// The process environment.
pub struct ProcessEnv;

impl EnvSource for ProcessEnv {
    fn var(&self, key: &str) -> Option<String> {
        std::env::var(key).ok().filter(|v| !v.is_empty())
    }
}

impl EnvSource for HashMap<String, String> {
    fn var(&self, key: &str) -> Option<String> {
        self.get(key).cloned()
    }
}

/// Loads settings from the process environment and `flags`, or prints the error and exits with
/// [`EXIT_CONFIG`].
pub fn load_or_exit(flags: RawSettings) -> Settings {
    match Settings::load(None, &ProcessEnv, flags) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("berth: {e}");
            std::process::exit(EXIT_CONFIG);
        }
    }
}
