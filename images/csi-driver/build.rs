//! Generates the gRPC code for the two APIs the driver serves: the CSI spec
//! (`csi.proto`, package `csi.v1`) and the kubelet's plugin-registration API
//! (`api.proto`, package `pluginregistration`).
//!
//! The `.proto` files are not part of this repository (code read elsewhere
//! never goes into the project). They are read from the Go module cache,
//! where `go mod download -json <module>@<version>` puts each module and
//! reports the directory as `"Dir"`; the go command checks every module
//! against go.sum's checksum database, so the files are exactly the
//! published ones:
//! - `github.com/container-storage-interface/spec` [`CSI_SPEC_VERSION`]:
//!   the version `github.com/kubernetes-csi/csi-test/v5` v5.6.0 (our
//!   csi-sanity) requires in its go.mod, so the driver and its judge speak
//!   the same spec. `csi.proto` is at the module root.
//! - `k8s.io/kubelet` [`KUBELET_VERSION`] (the newest v0.35.x on the proxy
//!   when written): `pkg/apis/pluginregistration/v1/api.proto`.
//!
//! Imports: `csi.proto` imports only Google's well-known types
//! (`descriptor`, `timestamp`, `wrappers`), which `protox` bundles, and
//! `api.proto` imports nothing (older kubelet modules imported gogo.proto;
//! the v0.35 line no longer does). So no file is stripped or patched, no
//! third module is needed, and no system `protoc` is involved: `protox`
//! compiles the files in Rust. The well-known types map to `prost-types`
//! (prost's default extern path); `descriptor.proto` is needed only for
//! csi.proto's field options (`csi_secret`, `alpha_field`), which generate
//! no Rust code.
//!
//! `CSI_PROTO_DIR` (a directory holding `csi.proto`) and `KUBELET_PROTO_DIR`
//! (a directory holding `api.proto`) skip the go command, for machines
//! without Go or without the module proxy.

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

/// CSI spec module version: what csi-test v5.6.0's go.mod requires.
const CSI_SPEC_VERSION: &str = "v1.13.0";
const CSI_SPEC_MODULE: &str = "github.com/container-storage-interface/spec";
/// Kubelet module version holding the plugin-registration API.
const KUBELET_VERSION: &str = "v0.35.10";
const KUBELET_MODULE: &str = "k8s.io/kubelet";
const KUBELET_API_SUBDIR: &str = "pkg/apis/pluginregistration/v1";

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-env-changed=CSI_PROTO_DIR");
    println!("cargo::rerun-if-env-changed=KUBELET_PROTO_DIR");
    if let Err(message) = generate() {
        // One line, no panic backtrace: what is missing and the fix.
        println!("cargo::error={message}");
    }
}

fn generate() -> Result<(), String> {
    let csi_dir = proto_dir(
        "CSI_PROTO_DIR",
        CSI_SPEC_MODULE,
        CSI_SPEC_VERSION,
        "",
        "csi.proto",
    )?;
    let kubelet_dir = proto_dir(
        "KUBELET_PROTO_DIR",
        KUBELET_MODULE,
        KUBELET_VERSION,
        KUBELET_API_SUBDIR,
        "api.proto",
    )?;
    let csi = require_file(&csi_dir, "csi.proto", "CSI_PROTO_DIR")?;
    let api = require_file(&kubelet_dir, "api.proto", "KUBELET_PROTO_DIR")?;
    println!("cargo::rerun-if-changed={}", csi.display());
    println!("cargo::rerun-if-changed={}", api.display());
    println!("cargo::rustc-env=STORAGE_E2E_CSI_SPEC_VERSION={CSI_SPEC_VERSION}");
    println!("cargo::rustc-env=STORAGE_E2E_KUBELET_API_VERSION={KUBELET_VERSION}");

    let fds = protox::compile(["csi.proto", "api.proto"], [&csi_dir, &kubelet_dir])
        .map_err(|e| format!("compiling {} and {}: {e}", csi.display(), api.display()))?;
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        // RPCs the driver does not implement (volume groups, snapshot
        // metadata, health) answer UNIMPLEMENTED, as the spec asks.
        .generate_default_stubs(true)
        .compile_fds(fds)
        .map_err(|e| format!("generating Rust code from the .proto files: {e}"))
}

/// The directory holding a module's `.proto` file: `$env_var` if set, else
/// the module's directory in the Go module cache (downloaded if needed).
fn proto_dir(
    env_var: &str,
    module: &str,
    version: &str,
    subdir: &str,
    file: &str,
) -> Result<PathBuf, String> {
    if let Some(dir) = env::var_os(env_var).filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(dir));
    }
    let fix = format!(
        "install Go (https://go.dev/dl/ or Debian's golang-go) with access to a Go module proxy, \
         or set {env_var} to a directory holding {file} of {module}@{version} ({}{file} in the module)",
        if subdir.is_empty() {
            String::new()
        } else {
            format!("{subdir}/")
        }
    );
    let out_dir = env::var_os("OUT_DIR").map_or_else(env::temp_dir, PathBuf::from);
    let output = Command::new("go")
        .args(["mod", "download", "-json", &format!("{module}@{version}")])
        // Outside any module (OUT_DIR), and never touching a go.work.
        .current_dir(&out_dir)
        .env("GOFLAGS", "-mod=mod")
        .env("GOWORK", "off")
        .output()
        .map_err(|e| format!("cannot run `go` to fetch {module}@{version}: {e}; {fix}"))?;
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap_or_default();
    if !output.status.success() {
        let why = json
            .get("Error")
            .and_then(|e| e.as_str())
            .map(str::to_owned)
            .unwrap_or_else(|| {
                String::from_utf8_lossy(&output.stderr)
                    .trim()
                    .replace('\n', " ")
            });
        return Err(format!(
            "`go mod download -json {module}@{version}` failed ({}): {why}; {fix}",
            output.status
        ));
    }
    let dir = json.get("Dir").and_then(|d| d.as_str()).ok_or_else(|| {
        format!("`go mod download -json {module}@{version}` printed no \"Dir\"; {fix}")
    })?;
    Ok(Path::new(dir).join(subdir))
}

fn require_file(dir: &Path, name: &str, env_var: &str) -> Result<PathBuf, String> {
    let path = dir.join(name);
    if path.is_file() {
        Ok(path)
    } else {
        Err(format!(
            "{} does not exist; set {env_var} to the directory holding {name}, or unset it to fetch it with the go command",
            path.display()
        ))
    }
}
