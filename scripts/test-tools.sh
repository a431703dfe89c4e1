#!/usr/bin/env bash
# Offline check of scripts/tools.sh (run by `make test`, about a second):
# which tools each provider installs, and that nothing is downloaded or
# built where nothing is needed. No request leaves the machine: every
# command that could fetch something (curl, wget, go) and every cluster
# tool (kind, k3d, kubectl, docker) is replaced on PATH by a fake that
# records its arguments and fails, or reports a pinned version. Each case
# gets an empty BIN_DIR and cache.
#
#   scripts/test-tools.sh        prints one line per case, then "N passed, N failed"
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
tools_sh="$root/scripts/tools.sh"
work=$(mktemp -d "${TMPDIR:-/tmp}/test-tools-XXXXXX")
trap 'rm -rf "$work"' EXIT

# A PATH with everything this machine has except the tools under test and
# the ones that fetch: a folder of links to the first of each name on PATH.
hidden=(curl wget go kind k3d kubectl docker)
sys="$work/sys"
mkdir -p "$sys"
IFS=: read -r -a dirs <<<"$PATH"
for d in "${dirs[@]}"; do
  [[ -d $d ]] || continue
  ln -s "$d"/* "$sys"/ 2>/dev/null || true
done
for t in "${hidden[@]}"; do rm -f "$sys/$t"; done

passed=0
failed=0
case_dir=
log=

# new_case: fresh BIN_DIR, cache and fakes folder, and an empty log.
new_case() {
  case_dir=$(mktemp -d "$work/case-XXXXXX")
  mkdir -p "$case_dir/fake" "$case_dir/bin"
  log="$case_dir/calls.log"
  : >"$log"
}

# fake <name> <body>: a command on the case's PATH that logs "name args" first.
fake() {
  printf '#!/bin/sh\necho "%s $*" >>"%s"\n%s\n' "$1" "$log" "$2" >"$case_dir/fake/$1"
  chmod +x "$case_dir/fake/$1"
}

# The fetchers: each logs and fails, as on a machine without a route.
offline() {
  fake curl 'echo "curl: (6) Could not resolve host (test-tools fake)" >&2; exit 6'
  fake wget 'echo "wget: unable to resolve host (test-tools fake)" >&2; exit 4'
  fake go 'echo "go: no module proxy (test-tools fake)" >&2; exit 1'
}

# A cluster tool at its pinned version, as `<tool> version` prints it.
pinned_fake() {
  case "$1" in
    kind) fake kind "echo 'kind $(pin KIND_VERSION) go1.25.1 linux/amd64'" ;;
    k3d) fake k3d "printf 'k3d version $(pin K3D_VERSION)\\nk3s version v1.35.5-k3s1 (default)\\n'" ;;
    kubectl) fake kubectl "echo 'Client Version: $(pin KUBECTL_VERSION)'" ;;
  esac
}
pin() { sed -n "s/^$1=//p" "$tools_sh"; }

# run_tools <provider>: tools.sh as `make e2e` runs it; sets rc, out, err.
run_tools() {
  rc=0
  PATH="$case_dir/fake:$sys" BIN_DIR="$case_dir/bin" STORAGE_E2E_CACHE="$case_dir/cache" \
    bash "$tools_sh" "$1" >"$case_dir/out" 2>"$case_dir/err" || rc=$?
  out=$(<"$case_dir/out")
  err=$(<"$case_dir/err")
}

problems=()
expect() { # <description> <command...>: record a failed expectation
  local what=$1
  shift
  "$@" || problems+=("$what")
}
has() { grep -qF -- "$2" <<<"$1"; }
lacks() { ! grep -qF -- "$2" <<<"$1"; }
empty_dir() { [[ -z $(ls -A "$1" 2>/dev/null) ]]; }

finish() { # <case name>
  if [[ ${#problems[@]} -eq 0 ]]; then
    echo "ok   $1"
    passed=$((passed + 1))
  else
    echo "FAIL $1"
    printf '       %s\n' "${problems[@]}"
    echo "       exit $rc; stdout:"
    sed 's/^/         /' "$case_dir/out"
    echo "       stderr:"
    sed 's/^/         /' "$case_dir/err"
    echo "       calls:"
    sed 's/^/         /' "$log"
    failed=$((failed + 1))
  fi
  problems=()
}

# 1. existing, offline, nothing anywhere: installs nothing, runs nothing,
#    says so in one line, and succeeds.
new_case
offline
for t in kind k3d kubectl docker; do fake "$t" 'exit 1'; done
run_tools existing
expect "exit status 0" test "$rc" -eq 0
expect "one line saying it installs nothing" \
  test "$out" = "tools: E2E_PROVIDER=existing: installing nothing: the harness reaches your cluster through the Kubernetes API with E2E_KUBECONFIG and needs no kind, k3d or kubectl"
expect "nothing on stderr" test -z "$err"
expect "no command run (no download, no build, no version check)" test ! -s "$log"
expect "BIN_DIR left empty" empty_dir "$case_dir/bin"
finish "existing: installs nothing and fetches nothing, offline, with empty BIN_DIR"

# 2. k3d with its tools at the pinned versions: only k3d and kubectl looked at.
new_case
offline
pinned_fake k3d
pinned_fake kubectl
fake kind 'exit 1'
run_tools k3d
expect "exit status 0" test "$rc" -eq 0
expect "first line says what and why" has "$(head -n1 <<<"$out")" "tools: E2E_PROVIDER=k3d needs k3d $(pin K3D_VERSION) (creates and deletes the cluster) and kubectl $(pin KUBECTL_VERSION)"
expect "k3d taken from PATH" has "$out" "tools: using $case_dir/fake/k3d (k3d"
expect "kubectl taken from PATH" has "$out" "tools: using $case_dir/fake/kubectl (kubectl"
expect "kind never run" lacks "$(<"$log")" "kind "
expect "no download or build" lacks "$(<"$log")" "curl "
expect "BIN_DIR left empty" empty_dir "$case_dir/bin"
finish "k3d: k3d and kubectl only"

# 3. k3d offline with nothing: tries k3d's release only, then stops with why.
new_case
offline
run_tools k3d
expect "exit status 1" test "$rc" -eq 1
expect "one download attempt, k3d's" test "$(grep -c '^curl ' "$log")" -eq 1
expect "the attempt is k3d's release" has "$(<"$log")" "k3d-io/k3d/releases/download/$(pin K3D_VERSION)/k3d-linux-"
expect "kind's release never asked for" lacks "$(<"$log")" "kind.sigs.k8s.io"
expect "says k3d is not built offline" has "$err" "k3d is not built offline"
finish "k3d offline: fetches only k3d, fails naming why"

# 4. kind with kind present, kubectl missing, offline: kubectl's download,
#    then its Go build, fail with a message (not a silent exit).
new_case
offline
pinned_fake kind
run_tools kind
expect "exit status 1" test "$rc" -eq 1
expect "k3d never asked for" lacks "$(<"$log")" "k3d"
expect "kubectl download tried" has "$(<"$log")" "dl.k8s.io/release/$(pin KUBECTL_VERSION)/bin/linux/"
expect "the Go build names what failed" has "$err" "storage-e2e build: could not download k8s.io/kubernetes@$(pin KUBECTL_VERSION) from the Go module proxy"
expect "BIN_DIR has no kubectl" test ! -e "$case_dir/bin/kubectl"
finish "kind offline without kubectl: fails with the reason"

# 5. an unknown provider is refused before anything is run.
new_case
offline
run_tools minikube
expect "exit status 1" test "$rc" -eq 1
expect "names the valid providers" has "$err" "expected kind, k3d, existing or all (E2E_PROVIDER)"
expect "no command run" test ! -s "$log"
finish "unknown provider: refused, nothing run"

echo "test-tools: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
