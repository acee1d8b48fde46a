//! Generated code for the `berth.v1` protobuf package: messages, gRPC clients and servers, and
//! the file descriptor set that every server registers for reflection.

pub mod v1 {
    #![allow(clippy::all, clippy::pedantic)]
    tonic::include_proto!("berth.v1");
}

/// Encoded `FileDescriptorSet` of `berth.v1`, for `tonic-reflection`.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/berth_descriptor.bin"));

/// What kind of server a registry is (`Registry.kind` on the wire).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RegistryKind {
    /// CNCF Distribution (`docker-registry`).
    Distribution,
    /// Harbor: projects and robots through its API.
    Harbor,
    /// Any other OCI distribution server.
    Oci,
}

impl RegistryKind {
    pub const ALL: [RegistryKind; 3] = [Self::Distribution, Self::Harbor, Self::Oci];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Distribution => "distribution",
            Self::Harbor => "harbor",
            Self::Oci => "oci",
        }
    }

    /// The kind a wire value names, if any.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// Whether a `kind` string names this kind.
    pub fn is(self, kind: &str) -> bool {
        kind == self.as_str()
    }

    /// Built on Distribution: a blob mount from the repository itself answers `201` when the
    /// repository holds the blob, so one request both checks and skips.
    pub fn mounts_from_itself(self) -> bool {
        matches!(self, Self::Distribution | Self::Harbor)
    }
}
