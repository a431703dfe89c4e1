#!/usr/bin/env bash
# The images of the project's own CSI driver (manifests/addons/csi-loop/),
# built here because no registry serves them:
#
#   scripts/csi-images.sh            build (or reuse) both images
#   scripts/csi-images.sh --driver   only the driver image; prints its tag
#   scripts/csi-images.sh --sidecars only the sidecars image; prints its tag
#   scripts/csi-images.sh --sanity   only csi-sanity; prints its path
#   scripts/csi-images.sh --tags     prints both tags (driver, then sidecars);
#                                    builds nothing
#
# local/storage-e2e-csi-sidecars:0.1.0 holds the upstream Kubernetes CSI
# sidecars (csi-provisioner, csi-attacher, csi-resizer, csi-snapshotter,
# snapshot-controller), built unmodified from the Go module proxy at the
# versions below on debian:trixie-slim (images/csi-sidecars/README.md).
# local/storage-e2e-csi-driver:0.1.0 is the driver of images/csi-driver/:
# `cargo build --release --locked`, then its Dockerfile over a context that
# holds bin/storage-e2e-csi. csi-sanity (the CSI conformance checker,
# csi-test) is a program for the host, not an image.
#
# Cache: $STORAGE_E2E_CACHE (default ~/.cache/storage-e2e) keeps the Go
# programs per program and version (bin/<name>-<version>/) and cargo's
# target folder (cargo-target/csi-driver), so clones share them. Each image
# carries a label with a hash of what it is made from; a run with nothing
# changed reuses both in about a second.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=scripts/gobuild.sh
source "$root/scripts/gobuild.sh"
# shellcheck source=scripts/imagebuild.sh
source "$root/scripts/imagebuild.sh"

# ---- what is built --------------------------------------------------------
# The sidecar releases, each at the newest version the module proxy serves
# (`go list -m -versions <module>`): name, module, version, package, the
# ldflags the project's release-tools/build.make sets (-X main.version=
# $(git describe); a module zip has no git history, so the tag itself).
SIDECARS=(
  "csi-provisioner github.com/kubernetes-csi/external-provisioner/v6 v6.4.0 cmd/csi-provisioner"
  "csi-attacher github.com/kubernetes-csi/external-attacher/v4 v4.13.0 cmd/csi-attacher"
  "csi-resizer github.com/kubernetes-csi/external-resizer/v2 v2.3.0 cmd/csi-resizer"
  "csi-snapshotter github.com/kubernetes-csi/external-snapshotter/v8 v8.7.0 cmd/csi-snapshotter"
  "snapshot-controller github.com/kubernetes-csi/external-snapshotter/v8 v8.7.0 cmd/snapshot-controller"
)
# csi-sanity: cmd/csi-sanity/Makefile sets
# -X github.com/kubernetes-csi/csi-test/cmd/csi-sanity.VERSION, a path the
# linker ignores for a main package (the variable is main.VERSION); this
# sets the one `csi-sanity -version` prints.
SANITY="csi-sanity github.com/kubernetes-csi/csi-test/v5 v5.6.0 cmd/csi-sanity"

SIDECARS_TAG=local/storage-e2e-csi-sidecars:0.1.0
DRIVER_TAG=local/storage-e2e-csi-driver:0.1.0
SIDECARS_RECIPE_LABEL=io.storage-e2e.csi-sidecars.recipe
DRIVER_RECIPE_LABEL=io.storage-e2e.csi-driver.recipe
sidecars_dir="$root/images/csi-sidecars"
driver_dir="$root/images/csi-driver"
driver_bin=storage-e2e-csi
start=$(date +%s)

say() { printf '[csi-images %4ss] %s\n' "$(( $(date +%s) - start ))" "$*" >&2; }
die() { echo "csi-images: $*" >&2; exit 1; }
usage() { die "usage: scripts/csi-images.sh [--driver | --sidecars | --sanity | --tags]"; }

mode=all
case "${1:-}" in
  "") ;;
  --driver) mode=driver ;;
  --sidecars) mode=sidecars ;;
  --sanity) mode=sanity ;;
  --tags) mode=tags ;;
  *) usage ;;
esac
[[ $# -le 1 ]] || usage

if [[ $mode == tags ]]; then
  echo "$DRIVER_TAG"
  echo "$SIDECARS_TAG"
  exit 0
fi

if [[ $mode == sanity ]]; then
  read -r _ _ sanity_version _ <<<"$SANITY"
  build_program "$SANITY" "-X main.VERSION=$sanity_version"
  exit 0
fi

imagebuild_require_docker

# ---- the sidecars image -----------------------------------------------------
sidecars_image() {
  go_image "$SIDECARS_TAG" "$SIDECARS_RECIPE_LABEL" "$sidecars_dir/Dockerfile" "" "${SIDECARS[@]}"
}

# ---- the driver image ---------------------------------------------------------
driver_image() {
  [[ -f "$driver_dir/Cargo.toml" ]] || die "images/csi-driver/Cargo.toml not found: the driver's crate is missing from $driver_dir"
  [[ -f "$driver_dir/Dockerfile" ]] || die "images/csi-driver/Dockerfile not found: the driver image has no Dockerfile in $driver_dir"
  # The lock file cargo uses: the crate's own, else the workspace's above it.
  local dir=$driver_dir lock=""
  while :; do
    [[ -f "$dir/Cargo.lock" ]] && { lock="$dir/Cargo.lock"; break; }
    [[ $dir == "$root" || $dir == / ]] && break
    dir=$(dirname "$dir")
  done
  [[ -n "$lock" ]] || die "no Cargo.lock in images/csi-driver or above it: the driver builds with --locked, so commit one (cargo generate-lockfile --manifest-path images/csi-driver/Cargo.toml)"
  # What the image is made from: every file of the crate (sources, build
  # script, protos, Dockerfile; no docs, no build output), the lock file,
  # this script.
  local recipe
  recipe=$( {
    cat "${BASH_SOURCE[0]}" "$lock"
    (cd "$driver_dir" && find . -type f ! -path './target/*' ! -name '*.md' -print0 | LC_ALL=C sort -z | xargs -0 sha256sum)
  } | sha256sum | cut -c1-16)
  if [[ "$(image_recipe "$DRIVER_TAG" "$DRIVER_RECIPE_LABEL")" == "$recipe" ]]; then
    say "$DRIVER_TAG is up to date (recipe $recipe)"
    return 0
  fi
  command -v cargo >/dev/null 2>&1 || die "cargo not found on PATH: the driver is Rust; install it with rustup (https://rustup.rs)"
  # Its build script takes csi.proto and the kubelet's api.proto from the Go
  # module cache (go mod download) unless both folders are given.
  [[ -n "${CSI_PROTO_DIR:-}" && -n "${KUBELET_PROTO_DIR:-}" ]] || gobuild_require_go
  local manifest="$driver_dir/Cargo.toml"
  local target="$STORAGE_E2E_CACHE/cargo-target/csi-driver" log="$STORAGE_E2E_CACHE/logs/cargo-csi-driver.log"
  mkdir -p "$target" "$(dirname "$log")"
  say "cargo build --release of the driver (target dir $target)"
  CARGO_TARGET_DIR="$target" cargo build --release --locked --manifest-path "$manifest" >"$log" 2>&1 \
    || die "cargo build --release --locked --manifest-path $manifest failed; the end of $log:
$(tail -n 20 "$log")"
  [[ -x "$target/release/$driver_bin" ]] || die "cargo built no $driver_bin in $target/release: the crate must have a [[bin]] named $driver_bin"
  imagebuild_workdir
  local ctx="$imagebuild_work/driver"
  mkdir -p "$ctx/bin"
  cp "$target/release/$driver_bin" "$ctx/bin/"
  say "docker build $DRIVER_TAG"
  docker_build "$DRIVER_TAG" "$ctx" -f "$driver_dir/Dockerfile" --label "$DRIVER_RECIPE_LABEL=$recipe"
  say "built $DRIVER_TAG ($(image_size "$DRIVER_TAG"))"
}

case $mode in
  driver)
    driver_image
    echo "$DRIVER_TAG"
    ;;
  sidecars)
    sidecars_image
    echo "$SIDECARS_TAG"
    ;;
  all)
    sidecars_image
    driver_image
    ;;
esac
