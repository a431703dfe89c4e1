# shellcheck shell=bash
# Sourced by scripts/csi-images.sh and scripts/app-images.sh: images of Go
# programs built from the Go module proxy (scripts/gobuild.sh) on the
# offline Debian base, for machines with no container registry.
#
# The caller sets `say` and `die` (its own prefix) and sources
# scripts/gobuild.sh first. Each image carries a label with a hash of what
# it is made from (its recipe); a run with nothing changed reuses it in
# about a second.

DEBIAN_BASE=${DEBIAN_BASE:-debian:trixie-slim}
imagebuild_scripts=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

imagebuild_require_docker() {
  command -v docker >/dev/null 2>&1 || die "docker not found on PATH: install Docker Engine (https://docs.docker.com/engine/install/)"
  docker info >/dev/null 2>&1 || die "the Docker daemon does not answer (docker info failed): start it"
}

image_recipe() { docker image inspect -f "{{index .Config.Labels \"$2\"}}" "$1" 2>/dev/null || true; }
image_size() { docker image inspect -f '{{.Size}}' "$1" | awk '{printf "%.0f MB", $1 / 1e6}'; }

imagebuild_work=""
imagebuild_cleanup() { [[ -z "$imagebuild_work" ]] || rm -rf "$imagebuild_work"; }
trap imagebuild_cleanup EXIT
# Build contexts go to $TMPDIR/e2e-image-*: `make clean` removes what a
# killed run leaves there (harness/src/cluster/sweep.rs TEMP_DIR_PREFIXES).
# Sets $imagebuild_work; call it directly, never in $(...), whose subshell
# would make a folder the EXIT trap never learns of.
imagebuild_workdir() {
  [[ -n "$imagebuild_work" ]] || imagebuild_work=$(mktemp -d "${TMPDIR:-/tmp}/e2e-image-XXXXXX")
}

# docker_build <tag> <context> [docker build args...]: quiet unless it fails.
docker_build() {
  local tag=$1 ctx=$2 out
  shift 2
  out=$(docker build "$@" -t "$tag" "$ctx" 2>&1) \
    || die "docker build of $tag failed; its last lines:
$(tail -n 15 <<<"$out")"
}

imagebuild_require_base() {
  docker image inspect "$DEBIAN_BASE" >/dev/null 2>&1 \
    || docker pull "$DEBIAN_BASE" >/dev/null 2>&1 \
    || die "$DEBIAN_BASE is not in Docker and cannot be pulled; without a registry: mmdebstrap --variant=minbase --include=ca-certificates trixie - | docker import - $DEBIAN_BASE"
}

# build_program "<name> <module> <version> <package>" [ldflags]: one Go
# program into $STORAGE_E2E_CACHE/bin/<name>-<version>/; prints its path.
# GOTOOLCHAIN from the caller's environment picks a newer Go where a module
# needs one (the Go command fetches it from the module proxy).
build_program() {
  local name module version pkg ldflags
  read -r name module version pkg <<<"$1"
  ldflags=${2:--X main.version=$version}
  local out="$STORAGE_E2E_CACHE/bin/$name-$version"
  if [[ ! -f "$out/.complete" ]]; then
    say "$name: $module $version $pkg (minutes the first time)"
    gobuild_wrapped "$module" "$version" "$out" "$ldflags" "$pkg"
  fi
  [[ -x "$out/$name" ]] || die "$out/.complete exists but $out/$name does not: remove $out and run again"
  echo "$out/$name"
}

# go_image <tag> <recipe label> <dockerfile> <recipe extra> <entry|entry@ldflags>...:
# build (or reuse) an image of the Go programs <entry> ("<name> <module>
# <version> <package>", optionally "@<ldflags>"), each in the context's
# bin/, with the Dockerfile given. <recipe extra> is hashed into the recipe
# with the scripts and the Dockerfile (the callers' own tables).
go_image() {
  local tag=$1 label=$2 dockerfile=$3 extra=$4
  shift 4
  [[ -f "$dockerfile" ]] || die "$dockerfile not found: restore it (git checkout $(dirname "$dockerfile"))"
  local recipe
  recipe=$(cat "$0" "$imagebuild_scripts/gobuild.sh" "$imagebuild_scripts/imagebuild.sh" "$dockerfile" \
    <(printf '%s\n' "$DEBIAN_BASE" "$extra" "$@") | sha256sum | cut -c1-16)
  if [[ "$(image_recipe "$tag" "$label")" == "$recipe" ]]; then
    say "$tag is up to date (recipe $recipe)"
    return 0
  fi
  gobuild_require_go
  imagebuild_require_base
  say "building $tag on $DEBIAN_BASE (cache $STORAGE_E2E_CACHE)"
  local ctx entry spec ld path name version contents=()
  imagebuild_workdir
  ctx="$imagebuild_work/$(tr -c 'a-z0-9\n' '-' <<<"${tag##*/}")"
  mkdir -p "$ctx/bin"
  for entry in "$@"; do
    spec=${entry%%@*}
    ld=""
    [[ $entry == *@* ]] && ld=${entry#*@}
    path=$(build_program "$spec" "$ld")
    cp "$path" "$ctx/bin/"
    read -r name _ version _ <<<"$spec"
    contents+=("$name=$version")
  done
  cp "$dockerfile" "$ctx/Dockerfile"
  say "docker build $tag"
  docker_build "$tag" "$ctx" --build-arg "BASE=$DEBIAN_BASE" \
    --label "$label=$recipe" --label "$label.contents=${contents[*]}"
  say "built $tag ($(image_size "$tag")): ${contents[*]}"
}
