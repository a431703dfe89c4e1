#!/usr/bin/env bash
# Install the pinned linters of `make lint` into a Python venv at .tools/lint
# and link their commands into ./bin (which the Makefile puts on PATH):
#   - jactionlint: workflow linter (actionlint's checks + pinning policy)
#   - the ShellCheck binary: shell scripts, also the run: steps of workflows
#   - kubernetes-validate: Kubernetes JSON schemas per minor (scripts/schema-check.py)
# Versions: scripts/lint-requirements.txt. Everything comes from the Python
# package index as binary wheels, so this works on any machine that reaches it.
#
# Standalone and idempotent: `make tools` (scripts/tools.sh) and
# scripts/lint.sh both call it; with the same pins a second run only checks.
# LINT_TOOLS_DIR overrides the venv path; PYTHON the interpreter (3.10+).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
req="$root/scripts/lint-requirements.txt"
venv=${LINT_TOOLS_DIR:-$root/.tools/lint}
stamp="$venv/.installed-from-lint-requirements.txt"
python=${PYTHON:-python3}
commands=(jactionlint shellcheck kubernetes-validate)

log() { printf '[lint-tools] %s\n' "$*" >&2; }
die() { printf '[lint-tools] error: %s\n' "$*" >&2; exit 1; }

installed() {
  [[ -f $stamp ]] && cmp -s "$req" "$stamp" || return 1
  local c
  for c in "${commands[@]}"; do [[ -x $venv/bin/$c ]] || return 1; done
}

link_into_bin() {
  mkdir -p "$root/bin"
  local c
  for c in "${commands[@]}"; do ln -sfn "$venv/bin/$c" "$root/bin/$c"; done
}

if installed; then
  link_into_bin
  log "up to date in ${venv#"$root"/}"
  exit 0
fi

command -v "$python" >/dev/null 2>&1 \
  || die "$python not found: install Python 3.10 or newer (Debian/Ubuntu: apt-get install python3 python3-venv)"
"$python" -c 'import sys; sys.exit(sys.version_info < (3, 10))' \
  || die "$python is $("$python" -V 2>&1); the linters need Python 3.10 or newer (set PYTHON=...)"

log "installing the pins of ${req#"$root"/} into ${venv#"$root"/}"
rm -rf "$venv"
"$python" -m venv "$venv" \
  || die "could not create a venv at $venv (Debian/Ubuntu: apt-get install python3-venv)"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-input \
  --only-binary=:all: --requirement "$req" \
  || die "pip could not install ${req#"$root"/} (see above)"

for c in "${commands[@]}"; do
  [[ -x $venv/bin/$c ]] || die "$c missing from $venv/bin after the install"
done
log "jactionlint $("$venv/bin/jactionlint" --version | head -n1)," \
    "shellcheck $("$venv/bin/shellcheck" --version | sed -n 's/^version: //p')," \
    "kubernetes-validate $("$venv/bin/kubernetes-validate" --version)"
cp "$req" "$stamp"
link_into_bin
