#!/usr/bin/env bash
# make clean: remove everything storage-e2e runs left behind, found by the
# ownership label app.kubernetes.io/managed-by=storage-e2e or the e2e- name
# prefix: kind and k3d clusters named e2e-*, labelled Docker containers,
# networks and volumes, stale $TMPDIR/e2e-kube-* kubeconfig dirs.
# `scripts/clean.sh --run <id>` removes only one run's objects.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export PATH="$ROOT/bin:$PATH"
exec "${CARGO:-cargo}" run -q -p storage-e2e -- sweep "$@"
