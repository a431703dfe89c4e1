#!/usr/bin/env bash
# make lint: everything checked without a cluster that `cargo clippy` and the
# tests do not already check.
#
#   scripts/lint.sh                     the whole lint (what `make lint` runs)
#   scripts/lint.sh --manifests F...    schema-check these YAML files instead of
#                                       the rendered variants (for a quick look)
#   scripts/lint.sh --self-test         prove the checks can fail (also part of
#                                       the whole lint)
#
# Steps:
#   1. the pinned linters (scripts/lint-tools.sh; idempotent, no-op when current)
#   2. self-test: known-bad samples in scripts/testdata/lint must be rejected
#   3. the version table kind-config/versions.toml (scripts/versions-matrix.py)
#   4. the workflows, with jactionlint (.github/jactionlint.yaml)
#   5. the shell scripts, with shellcheck (warnings and errors)
#   6. the manifests: `storage-e2e render <id>` for every id of
#      `storage-e2e variants`, plus manifests/addons/ and prometheus-operator's
#      CRDs (from its Go module), schema-checked in strict
#      mode against every minor of the version table (scripts/schema-check.py)
# The first failing step stops the run with a line saying what failed.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
venv=${LINT_TOOLS_DIR:-$root/.tools/lint}
cargo=${CARGO:-cargo}
testdata=scripts/testdata/lint

step() { printf '\n== lint: %s\n' "$*"; }
die() { printf 'lint: FAILED: %s\n' "$*" >&2; exit 1; }

tools() {
  scripts/lint-tools.sh
  # Tools from the venv first: jactionlint runs the pinned shellcheck on run: steps.
  export PATH="$venv/bin:$PATH"
}

minors() {
  python3 scripts/versions-matrix.py --minors
}

schema_check() {
  local args=() m
  for m in $(minors); do args+=(--minor "$m"); done
  "$venv/bin/python" scripts/schema-check.py "${args[@]}" "$@"
}

self_test() {
  step "self-test: the checks reject known-bad input"
  local out
  schema_check "$testdata/valid.yaml" >/dev/null \
    || die "self-test: $testdata/valid.yaml should pass the schema check"
  if out=$(schema_check "$testdata/invalid.yaml"); then
    die "self-test: $testdata/invalid.yaml passed the schema check; it must not"
  fi
  local want
  for want in "spec.replicas: 'one' is not of type" "'storageClass' was unexpected" \
              "no schema for kind PodSecurityPolicy"; do
    grep -qF -- "$want" <<<"$out" || die "self-test: the schema check did not report: $want"
  done
  if python3 scripts/versions-matrix.py --check --table "$testdata/versions-bad-default.toml" 2>/dev/null; then
    die "self-test: versions-matrix.py accepted $testdata/versions-bad-default.toml"
  fi
  local bad
  bad=$(mktemp -d)
  # shellcheck disable=SC2016 # a workflow expression, literal on purpose
  printf 'on: push\njobs:\n  x:\n    runs-on: ubuntu-24.04\n    steps:\n      - run: echo ${{ github.event.nope }\n' \
    >"$bad/bad.yml"
  if jactionlint --no-color "$bad/bad.yml" >/dev/null 2>&1; then
    rm -rf "$bad"
    die "self-test: jactionlint accepted a broken workflow"
  fi
  rm -rf "$bad"
  echo "self-test: ok (bad manifests, a bad version table and a bad workflow are rejected)"
}

# Render every variant into $1. Fails loudly when the renderer is missing,
# rather than checking nothing.
render_all() {
  local dir=$1 ids err
  err=$(mktemp)
  if ! ids=$("$cargo" run -q -- variants 2>"$err"); then
    cat "$err" >&2
    rm -f "$err"
    die "cannot list the variants: \`$cargo run -q -- variants\` failed (the storage-e2e binary must provide the \`variants\` and \`render <id>\` subcommands)"
  fi
  ids=$(tr ',' ' ' <<<"$ids")
  [[ -n ${ids//[[:space:]]/} ]] || die "\`$cargo run -q -- variants\` printed no variant id"
  local id
  for id in $ids; do
    if ! "$cargo" run -q -- render "$id" >"$dir/$id.yaml" 2>"$err"; then
      cat "$err" >&2
      rm -f "$err"
      die "\`$cargo run -q -- render $id\` failed"
    fi
    [[ -s $dir/$id.yaml ]] || die "\`$cargo run -q -- render $id\` printed nothing"
  done
  rm -f "$err"
  echo "rendered into $dir: $ids"
}

manifests=()
mode=all
case "${1:-}" in
  --manifests) shift; mode=manifests; manifests=("$@")
               [[ ${#manifests[@]} -gt 0 ]] || die "--manifests needs at least one YAML file" ;;
  --self-test) mode=self-test ;;
  "") ;;
  *) echo "usage: scripts/lint.sh [--manifests FILE.yaml... | --self-test]" >&2; exit 2 ;;
esac

step "tools"
tools

if [[ $mode == self-test ]]; then
  self_test
  exit 0
fi

if [[ $mode == all ]]; then
  self_test

  step "version table (kind-config/versions.toml)"
  python3 scripts/versions-matrix.py --check || die "kind-config/versions.toml"

  step "workflows (jactionlint, config .github/jactionlint.yaml)"
  jactionlint --no-color || die "jactionlint found problems in .github/workflows"
  echo "workflows: ok ($(printf '%s ' .github/workflows/*.yml))"

  step "shell scripts (shellcheck)"
  scripts=(scripts/*.sh)
  [[ -f .ci/run ]] && scripts+=(.ci/run)
  shellcheck --severity=warning "${scripts[@]}" || die "shellcheck found problems"
  echo "shell scripts: ok (${scripts[*]})"

  step "manifests: render every variant (the first cargo run builds storage-e2e)"
  # Kept after the run so a failure can be read and `kubectl apply`-ed.
  rendered=${CARGO_TARGET_DIR:-$root/target}/lint/rendered
  rm -rf "$rendered"
  mkdir -p "$rendered"
  render_all "$rendered"
  manifests=("$rendered"/*.yaml)
  if [[ -d manifests/addons ]]; then
    while IFS= read -r -d '' f; do manifests+=("$f"); done \
      < <(find manifests/addons -type f \( -name '*.yaml' -o -name '*.yml' \) -print0 | sort -z)
  fi
  # The operator-* variants' Prometheus resource is an instance of
  # prometheus-operator's CRD, which comes from the operator's Go module
  # (never copied here): fetched into the cache, it is checked with them.
  step "manifests: prometheus-operator's CRDs (scripts/app-images.sh --crds)"
  crds=$(scripts/app-images.sh --crds) || die "cannot fetch prometheus-operator's CRDs (needs Go and the Go module proxy)"
  manifests+=("$crds"/*.yaml)
fi

step "manifests: strict schemas for Kubernetes $(minors | paste -sd' ' -)"
schema_check "${manifests[@]}" || die "manifests do not match the Kubernetes schemas (see ERROR lines)"

printf '\nlint: ok\n'
