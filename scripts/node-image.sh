#!/usr/bin/env bash
# make node-image K8S=<minor>: build a kind node image for a minor of
# kind-config/versions.toml without any container registry, from Go modules
# and Debian packages, and cache it. `make e2e` calls this with --ensure.
#
#   scripts/node-image.sh 1.35            build (or reuse) the image for 1.35
#   scripts/node-image.sh --ensure 1.35   make sure kind has a node image for
#                                         1.35: the pinned kindest/node if it is
#                                         in Docker or can be pulled, else this build
#   scripts/node-image.sh --tag 1.35      print the tag the build produces
#
# The image, local/storage-e2e-kind-node:<kubernetes version>, holds the same
# Kubernetes release the version table pins (kindest/node:v1.35.8 ->
# v1.35.8), kind's own node files (entrypoint, systemd units, containerd
# config, from the kind module in the Go module cache), and every image a
# new cluster runs, preloaded: the control plane, etcd, CoreDNS and pause
# at the versions that release's kubeadm asks for, a pod network agent
# (images/kind-node/node-network.sh, in place of kindnetd) and
# local-path-provisioner as the default StorageClass `standard`. What went
# into it is written to /kind/storage-e2e-build.txt in the image and next
# to the cache. images/kind-node/README.md has the details and the cost.
#
# Cache: $STORAGE_E2E_CACHE (default ~/.cache/storage-e2e) keeps the built
# binaries per program and version; Docker keeps the images. A second run
# with nothing changed reuses the image in seconds; with the binaries
# cached but the image gone it takes a couple of minutes.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
here="$root/images/kind-node"
# shellcheck source=scripts/gobuild.sh
source "$root/scripts/gobuild.sh"
# shellcheck source=images/kind-node/components.env
source "$here/components.env"

REPO=local/storage-e2e-kind-node
RECIPE_LABEL=io.storage-e2e.node-image.recipe
OWNER_LABEL=app.kubernetes.io/managed-by=storage-e2e
PULL_TIMEOUT=${NODE_IMAGE_PULL_TIMEOUT:-120}
start=$(date +%s)

say() { printf '[node-image %4ss] %s\n' "$(( $(date +%s) - start ))" "$*" >&2; }
die() { echo "node-image: $*" >&2; exit 1; }
usage() { die "usage: scripts/node-image.sh [--ensure | --tag] <minor, e.g. 1.35>"; }

mode=build
case "${1:-}" in
  --ensure) mode=ensure; shift ;;
  --tag) mode=tag; shift ;;
esac
[[ $# -eq 1 ]] || usage
minor=${1#v}
minor=$(cut -d. -f1-2 <<<"$minor")

# ---- the version table row ----------------------------------------------
table="$root/kind-config/versions.toml"
default_minor=$(sed -n 's/^default = "\(.*\)"$/\1/p' "$table")
[[ -n "$minor" ]] || minor=$default_minor
pinned=$(awk -v m="$minor" '
  /^minor = / { gsub(/"/, "", $3); cur = $3 }
  /^kind_node_image = / && cur == m { gsub(/"/, "", $3); print $3 }' "$table")
if [[ -z "$pinned" ]]; then
  die "Kubernetes $minor is not in kind-config/versions.toml; pick one of: $(awk '/^minor = / {gsub(/"/, "", $3); printf "%s ", $3}' "$table")"
fi
k8s_version=$(sed -n 's/^kindest\/node:\(v[0-9.]*\)@.*$/\1/p' <<<"$pinned")
[[ -n "$k8s_version" ]] || die "cannot read the Kubernetes version from $pinned in $table"
tag="$REPO:$k8s_version"

if [[ $mode == tag ]]; then echo "$tag"; exit 0; fi

command -v docker >/dev/null 2>&1 || die "docker not found on PATH: install Docker Engine (https://docs.docker.com/engine/install/)"
docker info >/dev/null 2>&1 || die "the Docker daemon does not answer (docker info failed): start it"

# What the image is made from (docs excluded): a change rebuilds it.
recipe=$(cat "${BASH_SOURCE[0]}" "$root/scripts/gobuild.sh" "$here"/*.Dockerfile "$here"/*.yaml "$here"/*.sh "$here"/*.env <(echo "$k8s_version") | sha256sum | cut -c1-16)
have_recipe() { docker image inspect -f "{{index .Config.Labels \"$RECIPE_LABEL\"}}" "$tag" 2>/dev/null; }

if [[ $mode == ensure ]]; then
  if docker image inspect "$pinned" >/dev/null 2>&1; then
    say "kind node image $pinned is in Docker"
    exit 0
  fi
  if [[ "$(have_recipe)" == "$recipe" ]]; then
    say "using the offline-built $tag (the pinned $pinned is not in Docker)"
    exit 0
  fi
  say "pulling $pinned (at most ${PULL_TIMEOUT}s)"
  if pull_out=$(timeout "$PULL_TIMEOUT" docker pull "$pinned" 2>&1); then
    say "pulled $pinned"
    exit 0
  fi
  why=$(tail -n 1 <<<"$pull_out")
  say "building the node image from Go modules and Debian packages instead: $pinned cannot be pulled (${why:-timed out after ${PULL_TIMEOUT}s})"
fi

if [[ "$(have_recipe)" == "$recipe" ]]; then
  say "$tag is up to date (recipe $recipe); nothing to build"
  exit 0
fi
docker image inspect "$DEBIAN_BASE" >/dev/null 2>&1 \
  || docker pull "$DEBIAN_BASE" >/dev/null 2>&1 \
  || die "$DEBIAN_BASE is not in Docker and cannot be pulled; without a registry: mmdebstrap --variant=minbase --include=ca-certificates trixie - | docker import - $DEBIAN_BASE"
gobuild_require_go

say "building $tag: Kubernetes $k8s_version, containerd $CONTAINERD_VERSION, on $DEBIAN_BASE (cache $STORAGE_E2E_CACHE)"
bin="$STORAGE_E2E_CACHE/bin"
work=$(mktemp -d "${TMPDIR:-/tmp}/e2e-node-image-XXXXXX")
build_container=""
cleanup() {
  [[ -n "$build_container" ]] && docker rm -f -v "$build_container" >/dev/null 2>&1
  rm -rf "$work"
}
trap cleanup EXIT

# ---- 1. programs, from Go modules ---------------------------------------
kube_bin="$bin/kubernetes-$k8s_version"
say "Kubernetes $k8s_version: kubeadm kubelet kubectl kube-apiserver kube-controller-manager kube-scheduler kube-proxy (about 4 min the first time)"
gobuild_kubernetes "$k8s_version" "$kube_bin" kubeadm kubelet kubectl kube-apiserver kube-controller-manager kube-scheduler kube-proxy

# What this Kubernetes release's kubeadm deploys: its etcd, CoreDNS and pause.
mapfile -t required < <("$kube_bin/kubeadm" config images list --kubernetes-version "$k8s_version")
image_for() { printf '%s\n' "${required[@]}" | grep -m1 "/$1:" || die "kubeadm $k8s_version lists no $1 image: ${required[*]}"; }
etcd_image=$(image_for etcd)
coredns_image=$(image_for coredns)
pause_image=$(image_for pause)
etcd_version="v${etcd_image##*:}"
etcd_version=${etcd_version%-*}
coredns_version=${coredns_image##*:}
pause_version=${pause_image##*:}

say "etcd $etcd_version, CoreDNS $coredns_version (kubeadm $k8s_version's choices)"
gobuild_etcd "$etcd_version" "$bin/etcd-$etcd_version"
gobuild_install "$bin/coredns-$coredns_version" "" "" "github.com/coredns/coredns@$coredns_version"
say "containerd $CONTAINERD_VERSION, crictl $CRICTL_VERSION, local-path-provisioner $LOCAL_PATH_PROVISIONER_VERSION"
gobuild_install "$bin/containerd-$CONTAINERD_VERSION" \
  "-X github.com/containerd/containerd/v2/version.Version=$CONTAINERD_VERSION" \
  "no_aufs no_zfs no_btrfs no_devmapper" \
  "github.com/containerd/containerd/v2/cmd/containerd@$CONTAINERD_VERSION" \
  "github.com/containerd/containerd/v2/cmd/ctr@$CONTAINERD_VERSION" \
  "github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2@$CONTAINERD_VERSION"
gobuild_install "$bin/crictl-$CRICTL_VERSION" "" "" "sigs.k8s.io/cri-tools/cmd/crictl@$CRICTL_VERSION"
gobuild_install "$bin/local-path-provisioner-$LOCAL_PATH_PROVISIONER_VERSION" "" "" \
  "github.com/rancher/local-path-provisioner@$LOCAL_PATH_PROVISIONER_VERSION"

# Module folders in the Go module cache (downloaded by the builds above).
module_dir() { (cd "$STORAGE_E2E_CACHE" && GOFLAGS=-mod=mod go mod download -json "$1" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p'); }
kind_dir=$(module_dir "sigs.k8s.io/kind@$KIND_MODULE_VERSION")
kube_dir=$(module_dir "k8s.io/kubernetes@$k8s_version")
[[ -d "$kind_dir/images/base/files" ]] || die "sigs.k8s.io/kind@$KIND_MODULE_VERSION has no images/base/files in $kind_dir"

# ---- 2. the cluster's images --------------------------------------------
# Built under storage-e2e.local/ names (never the upstream names, so `docker
# images` does not pass them off as upstream's); renamed inside the node.
parts=storage-e2e.local
node_network_image="$parts/node-network:$k8s_version"
lpp_image="$parts/local-path-provisioner:$LOCAL_PATH_PROVISIONER_VERSION"
helper_image="$parts/local-path-helper:${DEBIAN_BASE##*:}"
declare -A rename=(
  ["$parts/kube-apiserver:$k8s_version"]="registry.k8s.io/kube-apiserver:$k8s_version"
  ["$parts/kube-controller-manager:$k8s_version"]="registry.k8s.io/kube-controller-manager:$k8s_version"
  ["$parts/kube-scheduler:$k8s_version"]="registry.k8s.io/kube-scheduler:$k8s_version"
  ["$parts/kube-proxy:$k8s_version"]="registry.k8s.io/kube-proxy:$k8s_version"
  ["$parts/etcd:${etcd_image##*:}"]="$etcd_image"
  ["$parts/coredns:$coredns_version"]="$coredns_image"
  ["$parts/pause:$pause_version"]="$pause_image"
)

# docker_build <image> <context> [docker build args...]: quiet unless it fails.
docker_build() {
  local image=$1 ctx=$2 out
  shift 2
  out=$(docker build --build-arg "BASE=$DEBIAN_BASE" --label "io.storage-e2e.node-image=$k8s_version" \
    "$@" -t "$image" "$ctx" 2>&1) \
    || die "docker build of $image failed; its last lines:
$(tail -n 15 <<<"$out")"
}

component() { # image dockerfile [build-arg...] -- files...
  local image=$1 dockerfile=$2 ctx
  shift 2
  local args=()
  while [[ $# -gt 0 && $1 != -- ]]; do args+=(--build-arg "$1"); shift; done
  shift
  ctx="$work/ctx-${image//[\/:]/-}"
  mkdir -p "$ctx/bin"
  [[ $# -eq 0 ]] || cp "$@" "$ctx/bin/"
  cp "$here/$dockerfile" "$ctx/Dockerfile"
  docker_build "$image" "$ctx" "${args[@]}"
}
say "building the cluster's images on $DEBIAN_BASE"
for c in kube-apiserver kube-controller-manager kube-scheduler; do
  component "$parts/$c:$k8s_version" component.Dockerfile -- "$kube_bin/$c"
done
component "$parts/kube-proxy:$k8s_version" component.Dockerfile "PACKAGES=iptables nftables conntrack ipset kmod" -- "$kube_bin/kube-proxy"
component "$parts/etcd:${etcd_image##*:}" component.Dockerfile -- "$bin/etcd-$etcd_version/etcd"
component "$parts/coredns:$coredns_version" coredns.Dockerfile -- "$bin/coredns-$coredns_version/coredns"
component "$lpp_image" component.Dockerfile -- "$bin/local-path-provisioner-$LOCAL_PATH_PROVISIONER_VERSION/local-path-provisioner"
component "$helper_image" component.Dockerfile --
component "$node_network_image" component.Dockerfile "PACKAGES=iproute2 iptables" -- "$here/node-network.sh" "$kube_bin/kubectl"
ctx="$work/ctx-pause"
mkdir -p "$ctx"
cp "$kube_dir/build/pause/linux/pause.c" "$ctx/pause.c"
cp "$here/pause.Dockerfile" "$ctx/Dockerfile"
docker_build "$parts/pause:$pause_version" "$ctx" --build-arg "VERSION=v$pause_version"
all_images=("${!rename[@]}" "$node_network_image" "$lpp_image" "$helper_image")
docker save -o "$work/images.tar" "${all_images[@]}"

# ---- 3. the node ---------------------------------------------------------
ctx="$work/ctx-node"
mkdir -p "$ctx/bin" "$ctx/kube"
cp -r "$kind_dir/images/base/files" "$ctx/kind-base"
chmod -R u+w,go-w "$ctx/kind-base"
chmod -R a+rX "$ctx/kind-base"
chmod 0755 "$ctx"/kind-base/usr/local/bin/* "$ctx"/kind-base/kind/bin/*
# Only for rootless Docker, and its snapshotter binary is not built here.
rm -f "$ctx/kind-base/etc/systemd/system/containerd-fuse-overlayfs.service"
# Pods ask for negative oom_score_adj values (-998 for sandboxes), which
# only CAP_SYS_RESOURCE may set. Where the host's capability bounding set
# lacks it (these build machines; runc then fails with "can't get final
# child's PID from pipe"), containerd must clamp them to its own value, as
# kind's entrypoint already does for rootless nodes. Where containerd runs
# at -999 (its systemd unit's OOMScoreAdjust) the clamp never bites.
sed -i 's/restrict_oom_score_adj = false/restrict_oom_score_adj = true/' "$ctx/kind-base/etc/containerd/config.toml"
grep -q 'restrict_oom_score_adj = true' "$ctx/kind-base/etc/containerd/config.toml" \
  || die "kind $KIND_MODULE_VERSION's containerd config has no restrict_oom_score_adj line to set"
# The sandbox image is the pause image kubeadm asks for.
sed -i "s|^\(\s*sandbox_image = \).*$|\1\"$pause_image\"|" "$ctx/kind-base/etc/containerd/config.toml"
grep -q "sandbox_image = \"$pause_image\"" "$ctx/kind-base/etc/containerd/config.toml" \
  || die "kind $KIND_MODULE_VERSION's containerd config has no sandbox_image line to set"
cp "$bin/containerd-$CONTAINERD_VERSION"/{containerd,ctr,containerd-shim-runc-v2} "$bin/crictl-$CRICTL_VERSION/crictl" "$ctx/bin/"
cp "$kube_bin"/{kubeadm,kubelet,kubectl} "$ctx/kube/"
mkdir -p "$ctx/kind-base/kind/manifests"
sed "s|\${NODE_NETWORK_IMAGE}|$node_network_image|" "$here/default-cni.yaml" >"$ctx/kind-base/kind/manifests/default-cni.yaml"
sed -e "s|\${LOCAL_PATH_PROVISIONER_IMAGE}|$lpp_image|" -e "s|\${LOCAL_PATH_HELPER_IMAGE}|$helper_image|" \
  "$here/default-storage.yaml" >"$ctx/kind-base/kind/manifests/default-storage.yaml"
echo "$k8s_version" >"$ctx/kind-base/kind/version"
cp "$here/node.Dockerfile" "$ctx/Dockerfile"
say "building the node system (Debian packages, kind's node files)"
base="$REPO-base:$k8s_version"
docker_build "$base" "$ctx"

say "preloading ${#all_images[@]} images into the node's containerd"
build_container="e2e-node-image-build-$$"
docker run -d --privileged --name "$build_container" --label "$OWNER_LABEL" \
  --entrypoint sleep "$base" infinity >/dev/null
in_node() { docker exec -i "$build_container" "$@"; }
in_node sh -c 'nohup containerd >/var/log/containerd-build.log 2>&1 &'
for _ in $(seq 1 60); do in_node ctr version >/dev/null 2>&1 && break; sleep 0.5; done
in_node ctr version >/dev/null 2>&1 || die "containerd did not start in the build container: $(in_node tail -n 5 /var/log/containerd-build.log)"
# As kind's own node-image build does: content only (unpacked when a node
# first runs a container), and pinned so the kubelet's image GC keeps them.
in_node ctr --namespace=k8s.io images import --label=io.cri-containerd.pinned=pinned \
  --all-platforms --no-unpack --digests - <"$work/images.tar" >"$work/import.log" 2>&1 \
  || die "importing the images into the build container's containerd failed: $(tail -n 5 "$work/import.log")"
ctr_quiet() { # ctr warns about cgroup v1 on every call here; show its output only on failure
  local out
  out=$(in_node ctr --namespace=k8s.io "$@" 2>&1) || die "ctr $* failed in the build container: $out"
}
for from in "${!rename[@]}"; do
  ctr_quiet images tag --force "$from" "${rename[$from]}"
  ctr_quiet images rm "$from"
done
# --digests also names the archive's index (import-<date>@sha256:...): not an image anyone runs.
for extra in $(in_node ctr --namespace=k8s.io images list -q 2>/dev/null | grep '^import-'); do
  ctr_quiet images rm "$extra"
done
imported=$(in_node ctr --namespace=k8s.io images list -q 2>/dev/null | grep -v '^sha256:' | sort)
for want in "${required[@]}" "$node_network_image" "$lpp_image" "$helper_image"; do
  grep -qx "$want" <<<"$imported" || die "$want is missing from the node's containerd after the import; it has: $imported"
done
in_node pkill containerd || true
for _ in $(seq 1 40); do in_node pgrep -x containerd >/dev/null || break; sleep 0.25; done
in_node rm -f /var/log/containerd-build.log

# ---- 4. the record, and the image ---------------------------------------
record="$work/storage-e2e-build.txt"
{
  echo "kind node image $tag, built offline by storage-e2e scripts/node-image.sh (recipe $recipe)"
  echo "built $(date -u +%Y-%m-%dT%H:%M:%SZ) with $(go version | cut -d' ' -f3-4); stands in for $pinned"
  echo
  echo "Go modules (from the Go module proxy, checked against go.sum):"
  echo "  k8s.io/kubernetes $k8s_version: kubeadm kubelet kubectl kube-apiserver kube-controller-manager kube-scheduler kube-proxy; build/pause/linux/pause.c"
  echo "  go.etcd.io/etcd/server/v3 $etcd_version: etcd"
  echo "  github.com/coredns/coredns $coredns_version: coredns"
  echo "  github.com/containerd/containerd/v2 $CONTAINERD_VERSION: containerd ctr containerd-shim-runc-v2"
  echo "  sigs.k8s.io/cri-tools $CRICTL_VERSION: crictl"
  echo "  github.com/rancher/local-path-provisioner $LOCAL_PATH_PROVISIONER_VERSION: local-path-provisioner"
  echo "  sigs.k8s.io/kind $KIND_MODULE_VERSION: images/base/files (entrypoint, systemd units, containerd config)"
  echo
  echo "Debian packages of the node ($DEBIAN_BASE):"
  # shellcheck disable=SC2016 # dpkg-query's own ${...} fields
  in_node dpkg-query -W -f '  ${Package} ${Version}\n' systemd runc containernetworking-plugins iptables \
    nftables iproute2 conntrack nfs-common util-linux mount libseccomp2 bash
  echo
  echo "Images in the node's containerd (namespace k8s.io), all built from the above on $DEBIAN_BASE:"
  sed 's/^/  /' <<<"$imported"
} >"$record"
docker cp "$record" "$build_container:/kind/storage-e2e-build.txt"
docker commit \
  --change 'ENTRYPOINT ["/usr/local/bin/entrypoint", "/sbin/init"]' \
  --change 'CMD []' \
  --change "LABEL $RECIPE_LABEL=$recipe io.storage-e2e.node-image=$k8s_version" \
  "$build_container" "$tag" >/dev/null
mkdir -p "$STORAGE_E2E_CACHE/node-image"
cp "$record" "$STORAGE_E2E_CACHE/node-image/$k8s_version.txt"
say "built $tag ($(docker image inspect -f '{{.Size}}' "$tag" | awk '{printf "%.0f MB", $1 / 1e6}')); record in $STORAGE_E2E_CACHE/node-image/$k8s_version.txt"
sed 's/^/  /' "$record" >&2
