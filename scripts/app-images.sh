#!/usr/bin/env bash
# The images of the Prometheus setups beside plain Prometheus, built here
# because no registry serves them (quay.io cannot be pulled):
#
#   scripts/app-images.sh --operator  prometheus-operator and its config reloader
#   scripts/app-images.sh --thanos    Thanos (the sidecar, store and query)
#   scripts/app-images.sh --s3        the S3-compatible object store (versitygw)
#   scripts/app-images.sh             all three; --tags prints every tag
#   scripts/app-images.sh --crds      the operator's CRDs, from its module,
#                                     into the cache; prints their folder
#
# Each is the upstream program built unmodified from its released Go
# module (scripts/gobuild.sh, gobuild_wrapped: a wrapper module carries the
# upstream replace directives), on debian:trixie-slim; images/<name>/
# holds its Dockerfile and README. The programs are cached under
# $STORAGE_E2E_CACHE/bin/<name>-<version>/; an image whose recipe did not
# change is reused in about a second. Prints the tags it built or reused.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=scripts/gobuild.sh
source "$root/scripts/gobuild.sh"
# shellcheck source=scripts/imagebuild.sh
source "$root/scripts/imagebuild.sh"

start=$(date +%s)
say() { printf '[app-images %4ss] %s\n' "$(( $(date +%s) - start ))" "$*" >&2; }
die() { echo "app-images: $*" >&2; exit 1; }
usage() { die "usage: scripts/app-images.sh [--operator | --thanos | --s3 | --tags | --crds]"; }

# ---- what is built (the project's version table for these setups) ----------
# prometheus-operator v0.85.0 is the only version the module proxy serves.
# Its version ldflags are what its Makefile sets: without them the operator
# names its config-reloader image with an empty tag.
OPERATOR_VERSION=v0.85.0
OPERATOR_MODULE=github.com/prometheus-operator/prometheus-operator
OPERATOR_LD="-X github.com/prometheus/common/version.Version=${OPERATOR_VERSION#v} -X github.com/prometheus/common/version.Revision=$OPERATOR_VERSION -X github.com/prometheus/common/version.Branch=release"
OPERATOR=("operator $OPERATOR_MODULE $OPERATOR_VERSION cmd/operator@$OPERATOR_LD")
RELOADER=("prometheus-config-reloader $OPERATOR_MODULE $OPERATOR_VERSION cmd/prometheus-config-reloader@$OPERATOR_LD")
# Thanos v0.42.5 declares go 1.26.10, newer than Debian's or this project's
# floor: the Go command fetches that toolchain from the module proxy.
THANOS_VERSION=v0.42.5
THANOS_GOTOOLCHAIN=go1.27.3
THANOS=("thanos github.com/thanos-io/thanos $THANOS_VERSION cmd/thanos@-X github.com/prometheus/common/version.Version=${THANOS_VERSION#v} -X github.com/prometheus/common/version.Revision=$THANOS_VERSION -X github.com/prometheus/common/version.Branch=release")
# versitygw (Apache-2.0): a real S3 gateway; its posix backend keeps
# objects as files in a directory, so a restarted store keeps what it held.
S3_VERSION=v1.8.0
S3=("versitygw github.com/versity/versitygw $S3_VERSION cmd/versitygw@-X main.Version=$S3_VERSION")

OPERATOR_TAG=local/storage-e2e-prometheus-operator:${OPERATOR_VERSION#v}
RELOADER_TAG=local/storage-e2e-prometheus-config-reloader:${OPERATOR_VERSION#v}
THANOS_TAG=local/storage-e2e-thanos:${THANOS_VERSION#v}
S3_TAG=local/storage-e2e-versitygw:${S3_VERSION#v}
LABEL=io.storage-e2e.app-image.recipe

mode=all
case "${1:-}" in
  "") ;;
  --operator) mode=operator ;;
  --thanos) mode=thanos ;;
  --s3) mode=s3 ;;
  --tags) mode=tags ;;
  --crds) mode=crds ;;
  *) usage ;;
esac
[[ $# -le 1 ]] || usage

if [[ $mode == tags ]]; then
  printf '%s\n' "$OPERATOR_TAG" "$RELOADER_TAG" "$THANOS_TAG" "$S3_TAG"
  exit 0
fi
# The operator's CRDs as its release generated them (the module's
# example/prometheus-operator-crd/), copied out of the Go module cache so
# the harness installs exactly those of the operator it runs.
operator_crds() {
  local dir="$STORAGE_E2E_CACHE/crds/prometheus-operator-$OPERATOR_VERSION"
  if [[ ! -f "$dir/.complete" ]]; then
    gobuild_require_go
    local src tmp
    src=$(GOFLAGS=-mod=mod go mod download -json "$OPERATOR_MODULE@$OPERATOR_VERSION" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p') || src=
    [[ -d "$src/example/prometheus-operator-crd" ]] || die "could not fetch $OPERATOR_MODULE@$OPERATOR_VERSION from the Go module proxy for its CRDs"
    mkdir -p "$(dirname "$dir")"
    tmp=$(mktemp -d "$dir.partial-XXXXXX")
    cp "$src"/example/prometheus-operator-crd/*.yaml "$tmp/"
    chmod u+w "$tmp"/*.yaml
    rm -rf "$dir"
    mv "$tmp" "$dir"
    touch "$dir/.complete"
    say "operator CRDs copied into $dir"
  fi
  echo "$dir"
}
if [[ $mode == crds ]]; then
  operator_crds
  exit 0
fi

imagebuild_require_docker

# The operator and its reloader: two images, as upstream ships them (the
# operator gives the reloader's image to its containers without a command,
# so each image's entrypoint is its program).
operator_images() {
  go_image "$OPERATOR_TAG" "$LABEL" "$root/images/prometheus-operator/Dockerfile.operator" "" "${OPERATOR[@]}"
  go_image "$RELOADER_TAG" "$LABEL" "$root/images/prometheus-operator/Dockerfile.reloader" "" "${RELOADER[@]}"
  echo "$OPERATOR_TAG"
  echo "$RELOADER_TAG"
}
thanos_image() {
  # For this function only (no subshell: the build folder's EXIT trap must
  # see the folder go_image makes).
  local -x GOTOOLCHAIN=$THANOS_GOTOOLCHAIN
  go_image "$THANOS_TAG" "$LABEL" "$root/images/thanos/Dockerfile" "$THANOS_GOTOOLCHAIN" "${THANOS[@]}"
  echo "$THANOS_TAG"
}
s3_image() {
  go_image "$S3_TAG" "$LABEL" "$root/images/s3-store/Dockerfile" "" "${S3[@]}"
  echo "$S3_TAG"
}

case $mode in
  operator) operator_images ;;
  thanos) thanos_image ;;
  s3) s3_image ;;
  all) operator_images; thanos_image; s3_image ;;
esac
