#!/usr/bin/env bash
# make tools: install the pinned kind, k3d and kubectl into ./bin (the
# Makefile puts ./bin first on PATH), verifying each download against a
# sha256 checksum pinned in this file. Idempotent: a tool already in ./bin
# with the pinned checksum (or built from its pinned Go module, below), or
# found elsewhere on PATH at the pinned version or newer, is left alone.
# Prints what it does. Linux amd64 and arm64.
#
#   scripts/tools.sh [all | kind | k3d | existing]
# installs what that provider needs (`make e2e` passes E2E_PROVIDER), and
# says what and why in its first line:
#   kind      kind (creates the cluster) and kubectl
#   k3d       k3d (creates the cluster) and kubectl
#   existing  nothing: the harness reaches your cluster through the
#             Kubernetes API (the kube crate) with E2E_KUBECONFIG and runs
#             no kind or k3d; it loads no images into nodes and never
#             enters them, so it needs no Docker either
#   all       (the default, `make tools`) kind, k3d and kubectl
# kubectl: no step of a run calls it; it is installed for the commands
# printed for a kept cluster (preflight only warns when it is missing).
# scripts/test-tools.sh checks this offline (`make test` runs it).
#
# Where a download cannot be had (no route to the release sites), kind and
# kubectl are built instead from their pinned Go modules through the Go
# module proxy (scripts/gobuild.sh), saying so in one line: the go command
# checks those modules against go.sum and the checksum database, in place
# of the sha256 pinned here for the release binary. k3d is not built: a k3d
# cluster needs the rancher/k3s image from a registry anyway.
#
# Checksums: all six are PINNED below (none is fetched at install time).
# They are the sha256 of the release binaries as published next to them
# (kind: kind-linux-<arch>.sha256sum; k3d: the release's checksums.txt;
# kubectl: dl.k8s.io .../kubectl.sha256), copied from several independent
# public projects that pin the same values. To bump a version, take the new
# values from those publisher files and update the version and both sums.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN_DIR="${BIN_DIR:-$ROOT/bin}"
# shellcheck source=scripts/gobuild.sh
source "$ROOT/scripts/gobuild.sh"

# kind: must be the release kind-config/versions.toml names (its node
# images are built for it; a tier-0 test keeps the two equal).
KIND_VERSION=v0.33.0
# k3d: harness/src/cluster/k3d.rs MIN_K3D (tier-0 test keeps them equal).
K3D_VERSION=v5.9.0
# kubectl: within one minor of 1.35..1.37 (Kubernetes version skew policy).
KUBECTL_VERSION=v1.36.4

sha256_for() { # tool arch
  case "$1/$2" in
    kind/amd64) echo aee6151561422756b764a4ae28e7f44cda5af5a9eead3cc9985112b1de8d8e0d ;;
    kind/arm64) echo 20022bee6cfcd5086cb7234d218e3454e6090022f2a8f55d1fa7fcf42c3867a2 ;;
    k3d/amd64) echo 06d8f25bc3a971c4eb29e0ff08429b180402db0f4dec838c9eac427e296800a0 ;;
    k3d/arm64) echo 03cde5cf23e6e8e67de5a039ecf26e5b85aca82fba3e5d13dadf904cd218a250 ;;
    kubectl/amd64) echo 8b8f088da2dab964f853b38464033b1be15ede2839eca751482357c45abdd05a ;;
    kubectl/arm64) echo 0ecf44450ee6063bf19dd166a103ee6df4a9034455c2abce626e6eea657d73fb ;;
    *) return 1 ;;
  esac
}

url_for() { # tool arch
  case "$1" in
    kind) echo "https://kind.sigs.k8s.io/dl/${KIND_VERSION}/kind-linux-$2" ;;
    k3d) echo "https://github.com/k3d-io/k3d/releases/download/${K3D_VERSION}/k3d-linux-$2" ;;
    kubectl) echo "https://dl.k8s.io/release/${KUBECTL_VERSION}/bin/linux/$2/kubectl" ;;
  esac
}

pinned_version() { # tool -> version without the leading v
  case "$1" in
    kind) echo "${KIND_VERSION#v}" ;;
    k3d) echo "${K3D_VERSION#v}" ;;
    kubectl) echo "${KUBECTL_VERSION#v}" ;;
  esac
}

version_of() { # tool binary -> x.y.z, or nothing
  local out
  case "$1" in
    kind) out="$("$2" version 2>/dev/null | awk '$1 == "kind" {print $2; exit}')" ;;
    k3d) out="$("$2" version 2>/dev/null | awk '$1 == "k3d" && $2 == "version" {print $3; exit}')" ;;
    kubectl) out="$("$2" version --client 2>/dev/null | awk '/^Client Version:/ {print $3; exit}')" ;;
  esac || true
  out="${out#v}"
  echo "${out%%[-+]*}"
}

version_ge() { # a b: a >= b
  [ "$(printf '%s\n%s\n' "$1" "$2" | sort -V | head -n1)" = "$2" ]
}

sha256_of() { sha256sum "$1" | awk '{print $1}'; }

fail() { echo "tools: $*" >&2; exit 1; }

# What the provider needs, and why, in one line. An `existing` run stops
# here: nothing to install, so nothing to download or build, whatever the
# machine (no network, no Go, not Linux).
provider="${1:-all}"
case "$provider" in
  all)
    tools=(kind k3d kubectl)
    why="installing every provider's tools (make tools): kind ${KIND_VERSION}, k3d ${K3D_VERSION} and kubectl ${KUBECTL_VERSION}" ;;
  kind | k3d)
    tools=("$provider" kubectl)
    pin=$KIND_VERSION
    [ "$provider" = k3d ] && pin=$K3D_VERSION
    why="E2E_PROVIDER=$provider needs $provider $pin (creates and deletes the cluster) and kubectl ${KUBECTL_VERSION} (for the commands printed for a kept cluster)" ;;
  existing)
    echo "tools: E2E_PROVIDER=existing: installing nothing: the harness reaches your cluster through the Kubernetes API with E2E_KUBECONFIG and needs no kind, k3d or kubectl"
    exit 0 ;;
  *) fail "unknown provider '${provider}': expected kind, k3d, existing or all (E2E_PROVIDER)" ;;
esac
echo "tools: $why"

case "$(uname -s)/$(uname -m)" in
  Linux/x86_64) ARCH=amd64 ;;
  Linux/aarch64 | Linux/arm64) ARCH=arm64 ;;
  *) fail "no pinned binaries for $(uname -s)/$(uname -m); install kind ${KIND_VERSION}, k3d ${K3D_VERSION} and kubectl ${KUBECTL_VERSION} yourself" ;;
esac

TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT

# Marks a tool in ./bin that was built from its pinned Go module.
built_marker() { echo "$BIN_DIR/.$1.built-from-go-module"; }

# build_tool <tool> <why>: the offline path, from the pinned Go module.
build_tool() {
  local tool="$1" why="$2" want
  want="$(pinned_version "$tool")"
  case "$tool" in
    kind)
      echo "tools: building kind v$want from its Go module sigs.k8s.io/kind instead: $why"
      gobuild_install "$STORAGE_E2E_CACHE/bin/kind-v$want" "" "" "sigs.k8s.io/kind@v$want"
      install -m 0755 "$STORAGE_E2E_CACHE/bin/kind-v$want/kind" "$BIN_DIR/kind" ;;
    kubectl)
      echo "tools: building kubectl v$want from the Go module k8s.io/kubernetes instead (about 2 min the first time): $why"
      gobuild_kubernetes "v$want" "$STORAGE_E2E_CACHE/bin/kubernetes-v$want" kubectl
      install -m 0755 "$STORAGE_E2E_CACHE/bin/kubernetes-v$want/kubectl" "$BIN_DIR/kubectl" ;;
    *) fail "$why; $tool is not built offline: a $tool cluster needs its images from a registry anyway" ;;
  esac
  touch "$(built_marker "$tool")"
  echo "tools: built $tool v$want into $BIN_DIR/$tool"
}

install_tool() { # tool
  local tool="$1" want dest sum found have url got
  want="$(pinned_version "$tool")"
  dest="$BIN_DIR/$tool"
  sum="$(sha256_for "$tool" "$ARCH")" || fail "no pinned checksum for $tool on linux/$ARCH"
  mkdir -p "$BIN_DIR"
  if [ -x "$dest" ] && [ "$(sha256_of "$dest")" = "$sum" ]; then
    echo "tools: $tool v$want already in $dest (checksum ok)"
    return
  fi
  if [ -x "$dest" ] && [ -f "$(built_marker "$tool")" ] && [ "$(version_of "$tool" "$dest")" = "$want" ]; then
    echo "tools: $tool v$want already in $dest (built from its Go module)"
    return
  fi
  if found="$(command -v "$tool")" && [ "$found" != "$dest" ]; then
    have="$(version_of "$tool" "$found")"
    if [ -n "$have" ] && version_ge "$have" "$want"; then
      echo "tools: using $found ($tool v$have, pinned v$want); not installing"
      return
    fi
    local shown="of unknown version"
    [ -n "$have" ] && shown="v$have"
    echo "tools: $found is $tool $shown, older than the pinned v$want; installing v$want into $BIN_DIR"
  fi
  url="$(url_for "$tool" "$ARCH")"
  command -v curl >/dev/null || { build_tool "$tool" "curl is not installed to download $url"; return; }
  echo "tools: downloading $tool v$want from $url"
  if ! curl -fsSL --retry 2 --connect-timeout 10 -o "$TMP/$tool" "$url" 2>"$TMP/curl.err"; then
    build_tool "$tool" "the download failed ($(tail -n 1 "$TMP/curl.err"))"
    return
  fi
  got="$(sha256_of "$TMP/$tool")"
  [ "$got" = "$sum" ] || fail "checksum mismatch for $url: expected $sum, got $got; not installed"
  install -m 0755 "$TMP/$tool" "$dest"
  rm -f "$(built_marker "$tool")"
  echo "tools: installed $tool v$want into $dest (sha256 $sum)"
}

for tool in "${tools[@]}"; do
  install_tool "$tool"
done
