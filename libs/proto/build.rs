//! Compiles `proto/berth/v1/*.proto` with protox (pure Rust), so no system `protoc` is needed.

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../proto");
    let dir = root.join("berth/v1");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "proto"))
        .collect();
    files.sort();
    println!("cargo:rerun-if-changed={}", dir.display());
    for f in &files {
        println!("cargo:rerun-if-changed={}", f.display());
    }
    let fds = protox::compile(&files, [&root])?;
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(
        out.join("berth_descriptor.bin"),
        prost::Message::encode_to_vec(&fds),
    )?;
    tonic_prost_build::configure()
        // Event payloads travel as JSON inside the bus envelope.
        .type_attribute(
            ".berth.v1.RegistryHealthChanged",
            "#[derive(serde::Serialize, serde::Deserialize)]",
        )
        .type_attribute(
            ".berth.v1.RegistryChanged",
            "#[derive(serde::Serialize, serde::Deserialize)]",
        )
        .type_attribute(
            ".berth.v1.SpaceChanged",
            "#[derive(serde::Serialize, serde::Deserialize)]",
        )
        .type_attribute(
            ".berth.v1.BindingChanged",
            "#[derive(serde::Serialize, serde::Deserialize)]",
        )
        .type_attribute(
            ".berth.v1.ArtifactPushed",
            // Fields added later read as empty from events published before them.
            "#[derive(serde::Serialize, serde::Deserialize)] #[serde(default)]",
        )
        .type_attribute(
            ".berth.v1.ArtifactPulled",
            // Fields added later read as empty from events published before them.
            "#[derive(serde::Serialize, serde::Deserialize)] #[serde(default)]",
        )
        .type_attribute(
            ".berth.v1.ArtifactDeleted",
            "#[derive(serde::Serialize, serde::Deserialize)]",
        )
        .type_attribute(
            ".berth.v1.ScanCompleted",
            "#[derive(serde::Serialize, serde::Deserialize)]",
        )
        .type_attribute(
            ".berth.v1.AllowlistChanged",
            "#[derive(serde::Serialize, serde::Deserialize)]",
        )
        .compile_fds(fds)?;
    Ok(())
}
