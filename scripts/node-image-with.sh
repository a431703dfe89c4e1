#!/usr/bin/env bash
# A kind node image that already holds a run's images, so a cluster of any
# size starts with them instead of `kind load` copying each into every
# node (152 s for 9 images into 7 nodes on a 2-core machine, against 41 s
# to build this image once and about 14 s more to create the nodes), and
# their layers compressed (each node holds a copy: disk, not time, is what
# seven nodes run out of on a small machine).
#
#   scripts/node-image-with.sh <node image> <image>...
#
# Prints the tag of an image that is <node image> plus <image>... in its
# containerd (namespace k8s.io, pinned, as kind's own node images hold
# theirs), built now or reused; progress goes to stderr. The harness calls
# it before creating a kind cluster (harness/src/cluster/start.rs) and
# still runs `kind load` after, which finds every image present on every
# node and so checks what the image claims.
#
# The image says what it holds: its labels name the node image it was made
# from and every image it adds, each with its Docker image ID, and
# /kind/storage-e2e-preloaded.txt in it lists the same. Its tag is a hash
# of those IDs and of this script, so a rebuilt image (a new ID) gives a
# new tag; the two newest per node image are kept, older ones removed.
set -euo pipefail

REPO=local/storage-e2e-kind-node-with
FROM_LABEL=io.storage-e2e.node-image.from
WITH_LABEL=io.storage-e2e.node-image.with
OWNER_LABEL=app.kubernetes.io/managed-by=storage-e2e
KEEP=2
start=$(date +%s)
say() { printf '[node-image-with %3ss] %s\n' "$(( $(date +%s) - start ))" "$*" >&2; }
die() { echo "node-image-with: $*" >&2; exit 1; }

[[ $# -ge 2 ]] || die "usage: scripts/node-image-with.sh <node image> <image>..."
node_image=$1
shift
id_of() { docker image inspect -f '{{.Id}}' "$1" 2>/dev/null || die "$1 is not in Docker: load or build it first"; }
from_id=$(id_of "$node_image")
with=()
for image in $(printf '%s\n' "$@" | sort -u); do
  with+=("$image@$(id_of "$image")")
done
key=$( (cat "${BASH_SOURCE[0]}"; echo "$from_id"; printf '%s\n' "${with[@]}") | sha256sum | cut -c1-16)
tag="$REPO:$key"

if docker image inspect "$tag" >/dev/null 2>&1; then
  say "reusing $tag: $node_image with ${#with[@]} images"
  echo "$tag"
  exit 0
fi

say "building $tag: $node_image with ${#with[@]} images in its containerd"
container="e2e-node-image-with-$$"
work=$(mktemp -d "${TMPDIR:-/tmp}/e2e-node-image-XXXXXX")
cleanup() { docker rm -f -v "$container" >/dev/null 2>&1 || true; rm -rf "$work"; }
trap cleanup EXIT
entrypoint=$(docker image inspect -f '{{json .Config.Entrypoint}}' "$node_image")
docker run -d --privileged --name "$container" --label "$OWNER_LABEL" \
  --entrypoint sleep "$node_image" infinity >/dev/null
in_node() { docker exec -i "$container" "$@"; }
in_node sh -c 'nohup containerd >/var/log/containerd-with.log 2>&1 &'
for _ in $(seq 1 60); do in_node ctr version >/dev/null 2>&1 && break; sleep 0.5; done
in_node ctr version >/dev/null 2>&1 \
  || die "containerd did not start in $container: $(in_node tail -n 5 /var/log/containerd-with.log)"
# As kind's node images hold theirs: content only (unpacked when a node
# first runs a container from it), pinned so the kubelet's image GC keeps
# it, and compressed (scripts/oci-gzip.py: every node holds a copy).
command -v python3 >/dev/null 2>&1 || die "python3 not found on PATH: it compresses the layers (scripts/oci-gzip.py)"
set -o pipefail
docker save "${@}" | TMPDIR="$work" python3 "$(dirname "${BASH_SOURCE[0]}")/oci-gzip.py" \
  | in_node ctr --namespace=k8s.io images import --label=io.cri-containerd.pinned=pinned \
      --all-platforms --no-unpack --digests - >"$work/import.log" 2>&1 \
  || die "importing the images into $container's containerd failed: $(tail -n 5 "$work/import.log")"
held=$(in_node ctr --namespace=k8s.io images list -q 2>/dev/null)
for image in "$@"; do
  # containerd names a Docker Hub short name in full (docker.io/library/...).
  grep -qxF -e "$image" -e "docker.io/$image" -e "docker.io/library/$image" <<<"$held" \
    || die "$image is missing from the node's containerd after the import; it has: $held"
done
for extra in $(grep '^import-' <<<"$held" || true); do
  in_node ctr --namespace=k8s.io images rm "$extra" >/dev/null 2>&1 || true
done
in_node pkill containerd || true
for _ in $(seq 1 40); do in_node pgrep -x containerd >/dev/null || break; sleep 0.25; done
in_node rm -f /var/log/containerd-with.log
{
  echo "kind node image $tag, made by storage-e2e scripts/node-image-with.sh"
  echo "from $node_image ($from_id), with these images in containerd (namespace k8s.io):"
  printf '  %s\n' "${with[@]}"
} >"$work/preloaded.txt"
docker cp "$work/preloaded.txt" "$container:/kind/storage-e2e-preloaded.txt"
docker commit \
  --change "ENTRYPOINT $entrypoint" \
  --change 'CMD []' \
  --change "LABEL $FROM_LABEL=$node_image@$from_id $WITH_LABEL=\"${with[*]}\"" \
  "$container" "$tag" >/dev/null
say "built $tag ($(docker image inspect -f '{{.Size}}' "$tag" | awk '{printf "%.0f MB", $1 / 1e6}'))"

# The newest $KEEP made from this node image stay; older ones go.
mapfile -t older < <(docker image ls "$REPO" --filter "label=$FROM_LABEL=$node_image@$from_id" \
  --format '{{.CreatedAt}}\t{{.Repository}}:{{.Tag}}' | sort -r | tail -n +$((KEEP + 1)) | cut -f2)
for old in "${older[@]}"; do
  docker image rm "$old" >/dev/null 2>&1 && say "removed the older $old" || true
done
echo "$tag"
