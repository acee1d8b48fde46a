//! The admin commands, one module per resource.

pub mod image;
pub mod overview;
pub mod registry;
pub mod repo;
pub mod sync;
pub mod tenancy;
pub mod token;

/// Percent-encodes one path segment.
pub fn segment(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
