#!/usr/bin/env bash
# make matrix: one cell selection on several Kubernetes minors, one cluster
# per minor, one minor after the other, then one report across them.
#
#   make matrix                    the CI subset, with csi-rwo's whole row, on every
#                                  minor of kind-config/versions.toml
#   make matrix K8S="1.34 1.37"    on those minors
#   make matrix E2E_VARIANTS=... E2E_DISRUPTIONS=...   a selection of your own
#                                  (any of E2E_VARIANTS, E2E_DISRUPTIONS, E2E_TEST_ARGS:
#                                  then the CI subset is not used)
#
# The CI subset runs Prometheus alone unless E2E_APPS says otherwise, as
# .ci/run does (no Grafana image can be had where it runs).
#
# Each minor runs `make e2e` (the README's main job) with
# E2E_K8S_VERSION=<minor> and E2E_REPORT_DIR=$MATRIX_DIR/<minor>; a minor
# that fails does not stop the next. Then `storage-e2e matrix` writes
# $MATRIX_DIR/report.json (every minor's cells: `make observed
# REPORTS=$MATRIX_DIR/report.json` records them all) and report.md (the
# cells x minors table, then each minor's matrix). The exit status is
# non-zero when any minor failed.
#
# One after the other, never side by side: one minor's cluster with its
# cells already keeps this project's 2-core machines busy (each minor's
# report says how busy: "CPUs busy while the cells ran", README "Speed").
# The nightly workflow runs this script once per minor, each on its own
# runner.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2
start=$(date +%s)
say() { printf '\n== [matrix %5ss] %s\n' "$(( $(date +%s) - start ))" "$*"; }
die() { echo "matrix: $*" >&2; exit 2; }

dir=${MATRIX_DIR:-target/e2e-matrix}
known=$(python3 scripts/versions-matrix.py --minors) || die "cannot read kind-config/versions.toml (scripts/versions-matrix.py --minors failed)"
minors=${K8S:-$known}
for m in $minors; do
  grep -qx "$m" <<<"$known" || die "unknown Kubernetes minor \"$m\" in K8S: the version table (kind-config/versions.toml) has $(paste -sd ' ' <<<"$known")"
done

# The selection: the CI subset unless the caller chose cells.
if env | grep -q '^E2E_\(VARIANTS\|DISRUPTIONS\|TEST_ARGS\)='; then
  echo "matrix: the selection given (E2E_VARIANTS=${E2E_VARIANTS:-all} E2E_DISRUPTIONS=${E2E_DISRUPTIONS:-all} E2E_TEST_ARGS=${E2E_TEST_ARGS:-})"
else
  # The CI subset with csi-rwo's whole row: the cells only attachable
  # storage shows are where minors differ most (attach/detach wording).
  CI_SUBSET_CSI_ROW=1
  # shellcheck source=scripts/ci-subset.sh
  source scripts/ci-subset.sh
  export E2E_VARIANTS=$ci_variants E2E_DISRUPTIONS=$ci_disruptions E2E_TEST_ARGS=$ci_test_args
  export E2E_APPS=${E2E_APPS:-prometheus}
  echo "matrix: the CI subset with csi-rwo's whole row (scripts/ci-subset.sh): ${#required[@]} cells per minor"
fi

# A failed minor's cluster is not kept (unless E2E_KEEP says so): its
# failure artifacts are in its report, and a kept 7-node cluster beside the
# next minor's does not fit this project's machines (disk: about 17 GB of
# Docker volumes each, README "Speed").
export E2E_KEEP=${E2E_KEEP:-never}
rm -rf "$dir"
mkdir -p "$dir"
failed=() reports=() times=()
for m in $minors; do
  say "Kubernetes $m: make e2e (report in $dir/$m)"
  t0=$(date +%s)
  status=0
  make e2e E2E_K8S_VERSION="$m" E2E_REPORT_DIR="$dir/$m" || status=$?
  times+=("$m: $(( $(date +%s) - t0 )) s (exit $status)")
  [[ $status == 0 ]] || failed+=("$m")
  if [[ -f "$dir/$m/report.json" ]]; then
    reports+=("$dir/$m/report.json")
  else
    echo "matrix: Kubernetes $m wrote no report.json: it failed before its first cell (see above)" >&2
  fi
done

say "one report across the minors"
if [[ ${#reports[@]} -gt 0 ]]; then
  cargo run -q -- matrix --out "$dir" "${reports[@]}" || failed+=("the report")
fi
printf 'wall time per minor:\n'
printf '  %s\n' "${times[@]}"
say "done: $dir/report.md"
if [[ ${#failed[@]} -gt 0 ]]; then
  echo "matrix: failed: ${failed[*]}" >&2
  exit 1
fi
