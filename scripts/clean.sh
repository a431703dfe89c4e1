#!/usr/bin/env bash
# make clean: remove everything storage-e2e runs left behind, found by the
# ownership label app.kubernetes.io/managed-by=storage-e2e or the e2e- name
# prefix: kind and k3d clusters named e2e-*, labelled Docker containers,
# networks and volumes, and the harness's stale $TMPDIR/e2e-* dirs
# (kubeconfigs, tier-1 data dirs, build contexts; the list is
# TEMP_DIR_PREFIXES in harness/src/cluster/sweep.rs). A data dir holding
# files a container user wrote (tier-1 Prometheus runs as 65534) that this
# user may not delete is emptied as root in a throw-away container first.
# `scripts/clean.sh --run <id>` removes only one run's objects.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export PATH="$ROOT/bin:$PATH"
exec "${CARGO:-cargo}" run -q -p storage-e2e -- sweep "$@"
