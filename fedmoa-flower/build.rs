//! Compiles the recovered Flower Fleet-API schemas in `proto/` with `protox` (no `protoc`).

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let files = [
        "proto/flwr/proto/fleet.proto",
        "proto/flwr/proto/message.proto",
        "proto/flwr/proto/recorddict.proto",
    ];
    for f in files {
        println!("cargo:rerun-if-changed={f}");
    }
    println!("cargo:rerun-if-changed=proto");
    let fds = protox::compile(files, ["proto"])?;
    prost_build::Config::new().compile_fds(fds)?;
    Ok(())
}
