//! Generated code for the `berth.v1` protobuf package: messages, gRPC clients and servers, and
//! the file descriptor set that every server registers for reflection.

pub mod v1 {
    #![allow(clippy::all, clippy::pedantic)]
    tonic::include_proto!("berth.v1");
}

/// Encoded `FileDescriptorSet` of `berth.v1`, for `tonic-reflection`.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/berth_descriptor.bin"));
