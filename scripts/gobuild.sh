# shellcheck shell=bash
# Sourced by scripts/tools.sh and scripts/node-image.sh: build pinned Go
# programs from the Go module proxy, for machines that reach it but no
# container registry or download site. Nothing here is fetched from
# anywhere else, and every module is checked against go.sum / the checksum
# database by the go command itself.
#
# Results are cached under $STORAGE_E2E_CACHE (default
# ${XDG_CACHE_HOME:-~/.cache}/storage-e2e), one folder per program and
# version, so the next run reuses them; Go's own module and build caches
# (GOMODCACHE, GOCACHE) make a rebuild of something else cheap too.

STORAGE_E2E_CACHE=${STORAGE_E2E_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/storage-e2e}
# Go programs are built static, so they run in any node or image.
export CGO_ENABLED=0

gobuild_die() { echo "storage-e2e build: $*" >&2; exit 1; }

# gobuild_run <what> <command>...: run a go command with its chatter
# ("go: downloading ...") in $STORAGE_E2E_CACHE/logs/<what>.log; on failure
# show the log's end and stop.
gobuild_run() {
  local what=$1 log
  shift
  log="$STORAGE_E2E_CACHE/logs/$what.log"
  mkdir -p "$(dirname "$log")"
  "$@" >"$log" 2>&1 || gobuild_die "$what failed: \`$*\` (in $PWD); the end of $log:
$(tail -n 20 "$log")"
}

# The Go version the builds need at least (crictl v1.37 and containerd v2.3
# declare go 1.26 in their go.mod). An older go fetches a newer toolchain
# from the module proxy by itself (GOTOOLCHAIN=auto), so this only checks
# that a go command exists.
gobuild_require_go() {
  command -v go >/dev/null 2>&1 || gobuild_die "go not found on PATH: building offline needs Go (https://go.dev/dl/, or Debian's golang-go; an older go fetches the needed toolchain from the module proxy); online, the pinned downloads need no Go"
}

# gobuild_lock <name> / gobuild_unlock: an exclusive lock on <name>, so two
# runs never build into one folder at once (the second waits, then finds the
# programs built). Released by gobuild_unlock or when the shell exits.
gobuild_lock() {
  mkdir -p "$STORAGE_E2E_CACHE/locks"
  exec {gobuild_lock_fd}>"$STORAGE_E2E_CACHE/locks/$1.lock"
  flock "$gobuild_lock_fd"
}
gobuild_unlock() { exec {gobuild_lock_fd}>&-; }

# gobuild_into <outdir> <build command with -o DIR>...: build into a fresh
# folder next to <outdir>, then move each program into place, so an
# interrupted build never leaves a half-written program that a later run
# would take as built. The command's "@OUT@" argument is that folder.
gobuild_into() {
  local out=$1 tmp f
  shift
  tmp=$(mktemp -d "$out.partial-XXXXXX")
  local args=() a
  for a in "$@"; do args+=("${a//@OUT@/$tmp}"); done
  "${args[@]}" || { rm -rf "$tmp"; return 1; }
  for f in "$tmp"/*; do mv -f "$f" "$out/"; done
  rm -rf "$tmp"
}

# gobuild_install <outdir> <ldflags> <tags> <pkg@version>...: `go install`
# of module packages without replace directives into <outdir>, unless a
# previous run completed it (<outdir>/.complete).
gobuild_install() {
  local out=$1 ldflags=$2 tags=$3
  shift 3
  [[ -f "$out/.complete" ]] && return 0
  gobuild_require_go
  mkdir -p "$out"
  gobuild_lock "$(basename "$out")"
  if [[ ! -f "$out/.complete" ]]; then
    GOFLAGS="${GOFLAGS:-} -trimpath" gobuild_into "$out" gobuild_run "install-$(basename "$out")" \
      env GOBIN=@OUT@ go install -tags "$tags" -ldflags "-s -w $ldflags" "$@"
    touch "$out/.complete"
  fi
  gobuild_unlock
}

# gobuild_tools_go <file> <import path>...: the tools.go of a wrapper
# module, importing the commands it builds so that `go mod tidy` keeps
# everything they need.
gobuild_tools_go() {
  local file=$1 path
  shift
  {
    echo "//go:build tools"
    echo
    echo "// Package tools names the commands this module builds, for go mod tidy."
    echo "package tools"
    echo
    echo "import ("
    for path in "$@"; do echo "	_ \"$path\""; done
    echo ")"
  } >"$file"
}

# gobuild_kubernetes <version> <outdir> <cmd>...: build k8s.io/kubernetes
# commands (kubeadm, kubelet, ...) at <version> (v1.35.8) into <outdir>.
#
# `go install k8s.io/kubernetes/cmd/X@v` is refused because that module
# replaces its staging modules (k8s.io/api, k8s.io/client-go, ...) with
# folders of its own repository. The known recipe (kubernetes#79384): a
# module of our own that requires k8s.io/kubernetes and replaces each
# staging module with its published twin v0.<minor>.<patch>. The version
# ldflags are what `make` in the Kubernetes repository sets; without them
# the binaries report v0.0.0 and kubeadm refuses to work with them.
gobuild_kubernetes() {
  local version=$1 out=$2
  shift 2
  local cmd missing=()
  for cmd in "$@"; do [[ -x "$out/$cmd" ]] || missing+=("$cmd"); done
  [[ ${#missing[@]} -eq 0 ]] && return 0
  gobuild_require_go
  gobuild_lock "kubernetes-$version"
  missing=()
  for cmd in "$@"; do [[ -x "$out/$cmd" ]] || missing+=("$cmd"); done
  [[ ${#missing[@]} -eq 0 ]] && { gobuild_unlock; return 0; }
  local mod="$STORAGE_E2E_CACHE/go/kubernetes-$version"
  local twin="v0.${version#v1.}"
  mkdir -p "$mod" "$out"
  if [[ ! -f "$mod/go.sum" ]]; then
    local upstream
    # A failed download must reach the message below, not end the script
    # silently through set -e on this assignment.
    upstream=$(cd "$mod" && GOFLAGS=-mod=mod go mod download -json "k8s.io/kubernetes@$version" | sed -n 's/^\t"GoMod": "\(.*\)",$/\1/p') || upstream=
    [[ -f "$upstream" ]] || gobuild_die "could not download k8s.io/kubernetes@$version from the Go module proxy"
    {
      echo "// Generated by storage-e2e (scripts/gobuild.sh): builds k8s.io/kubernetes $version commands."
      echo "module storage-e2e.local/kubernetes-build"
      echo
      echo "go $(sed -n 's/^go \([0-9.]*\)$/\1/p' "$upstream")"
      echo
      echo "require k8s.io/kubernetes $version"
      echo
      echo "replace ("
      sed -n '/^replace (/,/^)/s/^\t\(k8s\.io\/[a-z0-9-]*\) => \.\/staging\/.*$/\t\1 => \1 '"$twin"'/p' "$upstream"
      echo ")"
    } >"$mod/go.mod"
    local cmd imports=()
    for cmd in kubeadm kubelet kubectl kube-apiserver kube-controller-manager kube-scheduler kube-proxy; do
      imports+=("k8s.io/kubernetes/cmd/$cmd")
    done
    gobuild_tools_go "$mod/tools.go" "${imports[@]}"
    (cd "$mod" && gobuild_run "tidy-kubernetes-$version" go mod tidy) || { rm -f "$mod/go.sum"; exit 1; }
  fi
  local minor=${version#v1.}
  minor=${minor%%.*}
  local date
  date=$(cd "$mod" && go list -m -f '{{.Time}}' k8s.io/kubernetes 2>/dev/null | awk '{print $1 "T" $2 "Z"}')
  local ld="" pkg
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ld+=" -X $pkg.gitVersion=$version -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
    ld+=" -X $pkg.gitTreeState=archive -X $pkg.buildDate=${date:-1970-01-01T00:00:00Z}"
  done
  local pkgs=()
  for cmd in "${missing[@]}"; do pkgs+=("k8s.io/kubernetes/cmd/$cmd"); done
  (cd "$mod" && gobuild_into "$out" gobuild_run "build-kubernetes-$version" \
    go build -trimpath -ldflags "-s -w$ld" -o @OUT@/ "${pkgs[@]}") || exit 1
  gobuild_unlock
}

# gobuild_etcd <version> <outdir>: the etcd server (3.6.6) into <outdir>.
# Its main package lives in the root module go.etcd.io/etcd/v3, which
# replaces its sibling modules with folders, like Kubernetes; the server
# module go.etcd.io/etcd/server/v3 has none, and its etcdmain.Main is the
# whole of etcd's main(), so a one-line main of our own builds the same
# server.
gobuild_etcd() {
  local version=$1 out=$2
  [[ -x "$out/etcd" ]] && return 0
  gobuild_require_go
  gobuild_lock "etcd-$version"
  [[ -x "$out/etcd" ]] && { gobuild_unlock; return 0; }
  local mod="$STORAGE_E2E_CACHE/go/etcd-$version"
  mkdir -p "$mod" "$out"
  if [[ ! -f "$mod/go.sum" ]]; then
    printf '%s\n' "// Generated by storage-e2e (scripts/gobuild.sh): builds the etcd $version server." \
      "module storage-e2e.local/etcd-build" "" "go 1.24" >"$mod/go.mod"
    printf '%s\n' "// Command etcd is etcd's own main: etcdmain.Main(os.Args)." "package main" "" \
      'import (' '	"os"' '' '	"go.etcd.io/etcd/server/v3/etcdmain"' ')' '' \
      'func main() { etcdmain.Main(os.Args) }' >"$mod/main.go"
    (cd "$mod" && gobuild_run "get-etcd-$version" go get "go.etcd.io/etcd/server/v3@$version" \
      && gobuild_run "tidy-etcd-$version" go mod tidy) || { rm -f "$mod/go.sum"; exit 1; }
  fi
  (cd "$mod" && gobuild_into "$out" gobuild_run "build-etcd-$version" \
    go build -trimpath -ldflags "-s -w" -o @OUT@/etcd .) || exit 1
  gobuild_unlock
}

# gobuild_wrapped <module> <version> <outdir> <ldflags> <pkg>...: build the
# main packages <pkg> (paths inside <module>, e.g. cmd/csi-attacher) of
# <module>@<version> into <outdir>, unless a previous run completed it
# (<outdir>/.complete).
#
# For modules whose go.mod has replace directives (the Kubernetes CSI
# sidecars pin every k8s.io/* module that way), which `go install
# <pkg>@<version>` refuses: as gobuild_kubernetes does, a module of our own
# requires <module> at <version> and carries the same replace lines, so the
# build list is the one upstream's own build gets. A replace by a folder of
# the same repository (external-snapshotter's `client/v8 => ./client`)
# becomes that module's published twin at <version>: the module zip holds
# no nested modules. The wrapper module lives in
# $STORAGE_E2E_CACHE/go/<name>-<version>; its tools.go imports the packages
# so that `go mod tidy` keeps what they need.
gobuild_wrapped() {
  local module=$1 version=$2 out=$3 ldflags=$4
  shift 4
  [[ -f "$out/.complete" ]] && return 0
  gobuild_require_go
  # The module path without its major-version suffix: the repository, and
  # the name of the wrapper module's folder.
  local repo=$module
  [[ $repo =~ /v[0-9]+$ ]] && repo=${repo%/*}
  local name
  name="$(basename "$repo")-$version"
  # One lock per wrapper module: two programs of one module share it.
  gobuild_lock "go-$name"
  [[ -f "$out/.complete" ]] && { gobuild_unlock; return 0; }
  local mod="$STORAGE_E2E_CACHE/go/$name"
  mkdir -p "$mod" "$out"
  if [[ ! -f "$mod/go.sum" ]]; then
    local upstream
    upstream=$(cd "$mod" && GOFLAGS=-mod=mod go mod download -json "$module@$version" | sed -n 's/^\t"GoMod": "\(.*\)",$/\1/p') || upstream=
    [[ -f "$upstream" ]] || gobuild_die "could not download $module@$version from the Go module proxy (\`go list -m -versions $module\` lists the versions it serves)"
    local replaces
    # Every replace, from single lines and from blocks, as "old => new".
    replaces=$(awk '
      /^replace \($/ { block = 1; next }
      block && /^\)$/ { block = 0; next }
      block { sub(/^[ \t]+/, ""); if ($0 != "" && $0 !~ /^\/\//) print; next }
      /^replace / { sub(/^replace[ \t]+/, ""); print }' "$upstream")
    {
      echo "// Generated by storage-e2e (scripts/gobuild.sh): builds commands of"
      echo "// $module $version with the replace directives of its own go.mod."
      echo "module storage-e2e.local/$name-build"
      echo
      echo "go $(sed -n 's/^go \([0-9.]*\)$/\1/p' "$upstream")"
      echo
      echo "require $module $version"
      if [[ -n "$replaces" ]]; then
        echo
        echo "replace ("
        local line old new
        while IFS= read -r line; do
          old=${line%%=>*}
          old=${old%"${old##*[![:space:]]}"}
          new=${line#*=>}
          new=${new#"${new%%[![:space:]]*}"}
          case $new in
            ./* | ../*)
              [[ $old == "$repo"/* ]] \
                || gobuild_die "$module@$version replaces $old with the folder $new, which is not a module of its own repository; cannot build it from the module proxy"
              echo "	$old => $old $version" ;;
            /*) gobuild_die "$module@$version replaces $old with the absolute folder $new; cannot build it from the module proxy" ;;
            *) echo "	$old => $new" ;;
          esac
        done <<<"$replaces"
        echo ")"
      fi
    } >"$mod/go.mod"
    local pkg imports=()
    for pkg in "$@"; do imports+=("$module/$pkg"); done
    gobuild_tools_go "$mod/tools.go" "${imports[@]}"
    (cd "$mod" && gobuild_run "tidy-$name" go mod tidy) || { rm -f "$mod/go.sum"; exit 1; }
  fi
  local pkgs=() pkg
  for pkg in "$@"; do
    # A package the wrapper's tools.go does not import (a later call for
    # another program of the module) is added, and the module tidied again.
    grep -qF "\"$module/$pkg\"" "$mod/tools.go" || {
      sed -i "s|^)$|	_ \"$module/$pkg\"\n)|" "$mod/tools.go"
      (cd "$mod" && gobuild_run "tidy-$name" go mod tidy) || exit 1
    }
    pkgs+=("$module/$pkg")
  done
  (cd "$mod" && gobuild_into "$out" gobuild_run "build-$(basename "$out")" \
    go build -trimpath -ldflags "-s -w $ldflags" -o @OUT@/ "${pkgs[@]}") || exit 1
  touch "$out/.complete"
  gobuild_unlock
}
