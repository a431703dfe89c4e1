#!/usr/bin/env python3
"""Read kind-config/versions.toml, the one list of supported Kubernetes
minors, and print what CI and `make lint` need from it.

    scripts/versions-matrix.py --minors              # 1.34 1.35 ... one a line
    scripts/versions-matrix.py --default             # the default minor
    scripts/versions-matrix.py --matrix              # nightly matrix, JSON
    scripts/versions-matrix.py --matrix --provider kind --version 1.36
    scripts/versions-matrix.py --check               # validate the table only

The nightly workflow (.github/workflows/e2e-nightly.yml) builds its matrix
with --matrix, so adding a row to the table adds it to CI; nothing else keeps
a second list. Standard library only (tomllib, Python 3.11+), so it runs on
a bare CI runner before any tool is installed.

Exit status: 0 ok, 2 bad table or bad argument (one line on stderr naming
what is wrong and what is allowed).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python < 3.11
    sys.exit("versions-matrix: needs Python 3.11+ (tomllib); found " + sys.version.split()[0])

DEFAULT_TABLE = Path(__file__).resolve().parent.parent / "kind-config" / "versions.toml"
# Providers the nightly matrix creates clusters with. `existing` is a user's
# cluster and has no place in a matrix of throw-away clusters.
MATRIX_PROVIDERS = ("kind", "k3d")
ROW_KEYS = ("minor", "kind", "kind_node_image", "k3s_image")
MINOR_RE = re.compile(r"^1\.(\d+)$")


class TableError(Exception):
    """The version table is missing, malformed or inconsistent."""


def minor_key(minor: str) -> int:
    m = MINOR_RE.match(minor)
    if not m:
        raise TableError(f"minor {minor!r} is not of the form 1.N (e.g. 1.35)")
    return int(m.group(1))


def load(path: Path) -> tuple[str, list[dict]]:
    """Return (default minor, rows sorted by minor), validating the shape."""
    try:
        with path.open("rb") as f:
            data = tomllib.load(f)
    except FileNotFoundError:
        raise TableError(f"{path}: not found (the version table of supported Kubernetes minors)")
    except tomllib.TOMLDecodeError as e:
        raise TableError(f"{path}: not valid TOML: {e}")
    rows = data.get("version")
    if not isinstance(rows, list) or not rows:
        raise TableError(f"{path}: no [[version]] rows")
    seen: set[str] = set()
    for i, row in enumerate(rows):
        missing = [k for k in ROW_KEYS if not isinstance(row.get(k), str) or not row.get(k)]
        if missing:
            raise TableError(f"{path}: [[version]] row {i + 1} lacks {', '.join(missing)} "
                             f"(each row needs {', '.join(ROW_KEYS)})")
        minor = row["minor"]
        minor_key(minor)
        if minor in seen:
            raise TableError(f"{path}: minor {minor} appears twice")
        seen.add(minor)
        if f":v{minor}." not in row["kind_node_image"] or "@sha256:" not in row["kind_node_image"]:
            raise TableError(f"{path}: minor {minor}: kind_node_image {row['kind_node_image']!r} "
                             f"must be kindest/node:v{minor}.<patch>@sha256:<digest>")
        if f":v{minor}." not in row["k3s_image"]:
            raise TableError(f"{path}: minor {minor}: k3s_image {row['k3s_image']!r} "
                             f"must be rancher/k3s:v{minor}.<patch>-k3s<n>")
    rows = sorted(rows, key=lambda r: minor_key(r["minor"]))
    default = data.get("default")
    if default not in seen:
        raise TableError(f"{path}: default = {default!r} is not one of the rows: "
                         f"{', '.join(r['minor'] for r in rows)}")
    return default, rows


def matrix(rows: list[dict], provider: str, version: str) -> dict:
    """The GitHub Actions matrix: every (provider, minor) pair, optionally
    narrowed to one provider and/or one minor."""
    minors = [r["minor"] for r in rows]
    if version:
        v = version.strip().removeprefix("v")
        v = ".".join(v.split(".")[:2])  # 1.35.2 -> 1.35
        if v not in minors:
            raise TableError(f"version {version!r} is not in the version table: "
                             f"valid ones are {', '.join(minors)}")
        minors = [v]
    if provider in ("", "all"):
        providers = list(MATRIX_PROVIDERS)
    elif provider in MATRIX_PROVIDERS:
        providers = [provider]
    else:
        raise TableError(f"provider {provider!r} is not valid for the matrix: "
                         f"valid ones are all, {', '.join(MATRIX_PROVIDERS)}")
    return {"include": [{"provider": p, "version": m} for p in providers for m in minors]}


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--table", type=Path, default=DEFAULT_TABLE, help="path of versions.toml")
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--minors", action="store_true", help="print the supported minors, one a line")
    what.add_argument("--default", action="store_true", help="print the default minor")
    what.add_argument("--matrix", action="store_true", help="print the nightly matrix as JSON")
    what.add_argument("--check", action="store_true", help="only validate the table")
    p.add_argument("--provider", default="all", help="matrix: all (default), kind or k3d")
    p.add_argument("--version", default="", help="matrix: one minor from the table (default: all)")
    args = p.parse_args(argv)
    try:
        default, rows = load(args.table)
        if args.minors:
            print("\n".join(r["minor"] for r in rows))
        elif args.default:
            print(default)
        elif args.matrix:
            print(json.dumps(matrix(rows, args.provider.strip(), args.version.strip()),
                             separators=(",", ":")))
        else:
            print(f"{args.table}: {len(rows)} minors "
                  f"({', '.join(r['minor'] for r in rows)}), default {default}", file=sys.stderr)
    except TableError as e:
        print(f"versions-matrix: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
