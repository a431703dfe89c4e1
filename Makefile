# storage-e2e: the commands people type. See README.md.
#
#   make e2e      the main job: cluster, whole matrix, report (tier 2)
#   make test     tiers 0 + 1: no cluster, needs Docker for tier 1; first
#                 scripts/test-tools.sh (offline, about a second) and the
#                 attachable CSI driver's unit tests (images/csi-driver)
#   make render VARIANT=<id>   print what would be applied for a variant
#   make node-image K8S=<minor>  build the kind node image offline (no registry)
#   make csi-images  build the attachable CSI driver's two images (csi-rwo)
#   make app-images  build prometheus-operator, Thanos and the S3 store (versitygw)
#   make matrix [K8S="1.34 1.37"]  the CI subset (or E2E_* cells) on every minor, one report
#   make lint     actionlint + schema check of rendered manifests per minor
#   make clean    remove everything a run left behind (by ownership label)
#   make failure-control  one real cell failed on purpose, its failure path checked
#   make observed REPORTS=...  record real runs; make discount: mark a faulty one
#   make tools    install pinned kind, k3d, kubectl into ./bin (sha256-checked)

SHELL := bash
.SHELLFLAGS := -euo pipefail -c
CARGO ?= cargo
export PATH := $(CURDIR)/bin:$(PATH)

.PHONY: test e2e matrix observed discount failure-control render node-image csi-images app-images lint clean tools cluster-tools lint-tools fmt

# The driver is its own cargo workspace (its build fetches csi.proto from
# the Go module proxy, which the harness's tier 0 must not need).
test:
	scripts/test-tools.sh
	$(CARGO) test --manifest-path images/csi-driver/Cargo.toml
	$(CARGO) test --workspace --features storage-e2e/containers -- $(TEST_ARGS)

# The tools the provider needs (E2E_PROVIDER, default kind; none for
# existing, which the harness reaches through the API), then for kind
# a node image for E2E_K8S_VERSION (the pinned one, pulled if need be, else
# built offline), then the matrix. Pod-level cells run E2E_PARALLEL at a
# time, the node-level ones each on a node pool of its own (E2E_NODE_POOLS,
# README "Speed"); the run prints where the report is, pass or fail.
# E2E_TEST_ARGS go to the test runner after `--` (filters, --skip NAME).
e2e:
	scripts/tools.sh "$${E2E_PROVIDER:-kind}"
	if [ "$${E2E_PROVIDER:-kind}" = kind ]; then scripts/node-image.sh --ensure "$${E2E_K8S_VERSION:-}"; fi
	$(CARGO) test --features e2e --test e2e -- $(E2E_TEST_ARGS)

# `make e2e` once per Kubernetes minor (K8S="1.34 1.37", default every
# minor of kind-config/versions.toml), one after the other, on the CI
# subset unless E2E_VARIANTS / E2E_DISRUPTIONS / E2E_TEST_ARGS choose; one
# report across them in MATRIX_DIR (default target/e2e-matrix).
matrix:
	K8S="$(K8S)" scripts/matrix.sh

# A kind node image for K8S (a minor of kind-config/versions.toml, default
# its default), built from Go modules and Debian packages: for machines and
# CI with no container registry. Cached; see images/kind-node/README.md.
node-image:
	scripts/node-image.sh "$(K8S)"

# The attachable CSI driver (images/csi-driver, cargo) and the upstream CSI
# sidecars (Go modules) as images; the harness runs this itself when a
# selected variant needs them. Cached; reused in about a second.
csi-images:
	scripts/csi-images.sh

# prometheus-operator (and its config reloader), Thanos and an S3 store
# (versitygw), built unmodified from their Go modules: no registry serves
# them here. Cached like the CSI images; see images/*/README.md.
app-images:
	scripts/app-images.sh

# Record real runs in docs/observed.json and re-render docs/expectations.md
# with them: make observed REPORTS="a/report.json b/report.json"
OBSERVED_HOST ?= $(shell nproc)-core $(shell uname -s), kind
observed:
	@test -n "$(REPORTS)" || { echo "usage: make observed REPORTS=\"<report.json> ...\" [OBSERVED_HOST=<words>]" >&2; exit 2; }
	$(CARGO) run -q -- observed --host "$(OBSERVED_HOST)" $(REPORTS)
	$(CARGO) run -q -- expectations > docs/expectations.md

# One real cell failed on purpose (E2E_CONTROL=opposite), and the failure
# path's products read back: the verdict, artifacts, timeline picture, and
# the namespace and cluster kept by E2E_KEEP=on-failure (then swept).
failure-control:
	scripts/failure-control.sh

# Mark observations made by a harness that did not do what the cell claims
# (shown in docs/expectations.md, no longer counted); WHY names the fix.
discount:
	@test -n "$(CELL)" -a -n "$(DATE)" -a -n "$(OUTCOME)" -a -n "$(WHY)" || { echo "usage: make discount CELL='<variant/disruption on provider>' DATE=<YYYY-MM-DD> OUTCOME=<label, e.g. survives> WHY='<the fault and its fix>'" >&2; exit 2; }
	$(CARGO) run -q -- discount "$(CELL)" "$(DATE)" "$(OUTCOME)" "$(WHY)"
	$(CARGO) run -q -- expectations > docs/expectations.md

render:
	@test -n "$(VARIANT)" || { echo "usage: make render VARIANT=<id>  (ids: $$($(CARGO) run -q -- variants))" >&2; exit 2; }
	@$(CARGO) run -q -- render $(VARIANT)

lint:
	scripts/lint.sh

clean:
	scripts/clean.sh

# All pinned tools: kind, k3d, kubectl (sha256-checked) and the lint tools.
tools: cluster-tools lint-tools

cluster-tools:
	scripts/tools.sh all

lint-tools:
	scripts/lint-tools.sh

fmt:
	$(CARGO) fmt --all
	$(CARGO) fmt --manifest-path images/csi-driver/Cargo.toml
