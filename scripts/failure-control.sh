#!/usr/bin/env bash
# make failure-control: make one real cell fail on purpose and read what the
# harness produced for it. The code that runs only when a cell fails
# (the verdict's failure, failure artifacts, the timeline picture, keeping
# the namespace and the cluster with E2E_KEEP=on-failure) runs here on a
# real kind cluster, and this script fails if any of it is missing.
#
# Beside it, in the same run, a bad-input cell: operator-default/pod-delete
# from a copy of manifests/ whose Prometheus resource names a Secret key
# that does not exist. The operator refuses it (Reconciled=False) and
# makes no pods; the cell must fail with the operator's own words, not
# with a 5-minute wait for pods (harness/src/operator/rejection.rs).
#
# How the cell fails: E2E_CONTROL=opposite makes it expect the opposite of
# the table (host-path/pod-delete: the data survives, so it is expected
# lost). Nothing else changes: the cell deploys, seeds, disrupts and judges
# for real. The run must exit non-zero; then the report, the artifacts and
# the kept cluster are checked, and the run's leftovers are swept.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export PATH="$ROOT/bin:$PATH"
DIR="${FAILURE_CONTROL_DIR:-target/failure-control}"
CELL=host-path/pod-delete
REFUSED=operator-default/pod-delete
MISSING_KEY=storage-e2e-missing.yaml
rm -rf "$DIR"
mkdir -p "$DIR"
LOG="$DIR/run.log"
# The manifests as they are, but the operator's resource reads its scrape
# config from a key its Secret does not have.
cp -r manifests "$DIR/manifests"
sed -i "s/^    key: self.yaml\$/    key: $MISSING_KEY/" "$DIR/manifests/base-operator/prometheus.yaml"
grep -q "key: $MISSING_KEY" "$DIR/manifests/base-operator/prometheus.yaml" ||
  { echo "failure-control: FAILED: could not break the copy of manifests/base-operator/prometheus.yaml" >&2; exit 1; }

fail() { echo "failure-control: FAILED: $*" >&2; exit 1; }

echo "failure-control: running $CELL expecting the opposite of the table (E2E_CONTROL=opposite), and $REFUSED with a resource the operator must refuse; both must fail"
set +e
make e2e E2E_CONTROL=opposite E2E_APPS="${E2E_APPS:-prometheus}" E2E_VARIANTS=host-path,operator-default \
  E2E_DISRUPTIONS=pod-delete E2E_KEEP=on-failure E2E_TIMELINES=failed \
  HARNESS_MANIFESTS_DIR="$ROOT/$DIR/manifests" \
  E2E_REPORT_DIR="$DIR/report" 2>&1 | tee "$LOG"
rc=${PIPESTATUS[0]}
set -e

# The kept cluster, from the commands the run printed for it.
kubeconfig=$(sed -n 's/^  inspect: KUBECONFIG=\([^ ]*\) kubectl.*/\1/p' "$LOG" | tail -n 1)
cluster=$(sed -n 's/^storage-e2e: keeping kind cluster \([^ ]*\) .*/\1/p' "$LOG" | tail -n 1)
run_id=$(sed -n 's/^e2e-\([a-z0-9]*\)-.*/\1/p' <<<"$cluster")
sweep() {
  if [[ -n $run_id ]]; then
    echo "failure-control: sweeping run $run_id (the kept cluster and everything labelled with it)"
    scripts/clean.sh --run "$run_id"
  fi
}
trap sweep EXIT

[[ $rc -ne 0 ]] || fail "the run passed: a cell that contradicts its expectation was not failed"
echo "failure-control: the run failed as it must (exit $rc); reading what it left"

python3 - "$DIR/report" "$MISSING_KEY" <<'EOF'
import json, os, sys
report, missing_key = sys.argv[1], sys.argv[2]
def need(ok, what):
    if not ok:
        sys.exit(f"failure-control: FAILED: {what}")
cells = json.load(open(os.path.join(report, "report.json")))["cells"]
need(len(cells) == 2, f"two cells in report.json, got {len(cells)}")
by_variant = {c["variant"]: c for c in cells}
# The refused resource: one line with the operator's words, well before
# the 300 s the deploy wait would otherwise take.
r = by_variant.get("operator-default")
need(r, "the operator-default cell is in report.json")
need(r["status"] == "failed", f"operator-default failed, got {r['status']!r}")
said = r.get("failure") or ""
need("prometheus-operator refused the resource" in said and f"key {missing_key} could not be found" in said,
     f"the refusal names the operator's reason: {said!r}")
need("\n" not in said.strip(), f"the refusal is one line: {said!r}")
need("fix manifests/storage/operator-default/ or manifests/base-operator/" in said, f"it says what to fix: {said!r}")
print(f"failure-control: {r['variant']}/{r['disruption']} refused as it must: {said}")
c = by_variant.get("host-path")
need(c, "the host-path cell is in report.json")
need(c["status"] == "failed", f"status failed, got {c['status']!r}")
failure = c.get("failure") or ""
need("prometheus: expected lost" in failure, f"the failure names the mismatch: {failure!r}")
need("E2E_CONTROL=opposite" in (c["expected"].get("note") or ""), "the expectation says it was turned on purpose")
need(c["observed"]["prometheus"]["outcome"]["outcome"] == "survives", "the cell observed for real (survives)")
need(any("keeping namespace" in s for s in c["steps"]), "the failed cell kept its namespace (E2E_KEEP=on-failure)")
art = c.get("artifacts")
need(art, "report.json points at the artifacts")
art = os.path.join(report, art)
files = {os.path.relpath(os.path.join(d, f), art) for d, _, fs in os.walk(art) for f in fs}
for f in ["pods.yaml", "events.yaml", "events.txt", "deployments.yaml", "timeline.txt", "timeline.json"]:
    need(f in files, f"artifact {f} (have: {sorted(files)})")
    need(os.path.getsize(os.path.join(art, f)) > 0, f"artifact {f} is not empty")
need("prometheus" in open(os.path.join(art, "pods.yaml")).read(), "pods.yaml holds the Prometheus pod")
need(any(f.startswith("logs/") and "prometheus" in f for f in files), "a Prometheus container log under logs/")
need(any(f.startswith("node-logs/") for f in files), "the nodes' logs under node-logs/")
dirs = [f for f in files if f.startswith("node-dirs-")]
need(dirs and "prometheus" in open(os.path.join(art, dirs[0])).read(), "the node's listing of the cell's host dir")
svg = c.get("timeline_svg")
need(svg and open(os.path.join(report, svg)).read().lstrip().startswith("<svg"), "the failed cell's timeline.svg")
errors = os.path.join(art, "errors.txt")
if os.path.exists(errors) and os.path.getsize(errors):
    print("failure-control: artifacts that could not be collected:\n" + open(errors).read())
print(f"failure-control: report and {len(files)} artifact files as they must be ({os.path.relpath(art, report)})")
EOF

[[ -n $kubeconfig && -n $cluster ]] || fail "the run did not say it kept its cluster (E2E_KEEP=on-failure)"
ns=$(python3 -c "import json,sys; c=next(c for c in json.load(open(sys.argv[1]))['cells'] if c['variant'] == 'host-path'); print(next(s.split('keeping namespace ')[1].split()[0] for s in c['steps'] if 'keeping namespace' in s))" "$DIR/report/report.json")
KUBECONFIG="$kubeconfig" kubectl get namespace "$ns" -o name >/dev/null ||
  fail "namespace $ns is not on the kept cluster $cluster"
KUBECONFIG="$kubeconfig" kubectl -n "$ns" get deployment prometheus -o name >/dev/null ||
  fail "the failed cell's Prometheus is not in the kept namespace $ns"
echo "failure-control: kept cluster $cluster holds namespace $ns with the failed cell's Prometheus"
echo "failure-control: PASSED (the cell failed on purpose; verdict, artifacts, timeline picture and keep-on-failure all did their part)"
