#!/usr/bin/env python3
"""Check Kubernetes manifests against the OpenAPI-derived JSON schemas of
every given Kubernetes minor, in strict mode (unknown fields are errors).

    schema-check.py --minor 1.34 --minor 1.35 FILE.yaml [FILE.yaml ...]

Run by scripts/lint.sh with the venv of scripts/lint-tools.sh, on the output
of `storage-e2e render <variant>` for every variant and every minor of
kind-config/versions.toml. The schemas are the ones bundled with the pinned
kubernetes-validate (no network). The harness's tier-0 tests already
deserialize every document into k8s-openapi types of ONE version (the
oldest supported minor); this adds every other minor and unknown fields.

A document whose kind/apiVersion has no schema in a minor is an error (a
typo, a removed API, or a CRD this check cannot know), unless a
CustomResourceDefinition among the checked files defines that kind: such a
document is an instance of the project's own CRD (the VolumeSnapshotClass of
addons/csi-loop), checked only for its apiVersion and kind against that CRD
and reported as such. A minor newer than
the newest bundled schemas is checked against the newest ones, with a note
saying so; an older one than the oldest is an error.

Exit status: 0 all valid, 1 invalid documents, 2 bad input.
"""

from __future__ import annotations

import argparse
import functools
import sys
from pathlib import Path

import yaml
from kubernetes_validate import utils as kv
from kubernetes_validate.version import __version__ as KV_VERSION
from packaging.version import Version

# Each validate() call reads the schema and the (multi-megabyte) definitions
# file again; cache them, since one run validates hundreds of documents.
kv.schema_contents = functools.lru_cache(maxsize=None)(kv.schema_contents)


def bundled_minors() -> list[str]:
    return sorted({kv.major_minor(v) for v in kv.all_versions()}, key=Version)


def effective_minor(minor: str, bundled: list[str]) -> tuple[str, str | None]:
    """The schema minor to use for `minor`, and a note when it differs."""
    if minor in bundled:
        return minor, None
    if Version(minor) > Version(bundled[-1]):
        return bundled[-1], (f"kubernetes-validate {KV_VERSION} bundles schemas up to "
                             f"{bundled[-1]}: Kubernetes {minor} is checked against {bundled[-1]}")
    raise SystemExit(f"schema-check: Kubernetes {minor} is not covered by kubernetes-validate "
                     f"{KV_VERSION} (bundled: {bundled[0]}..{bundled[-1]})")


# PyYAML resolves a plain `=` to the YAML 1.1 "value" type and then has no
# constructor for it; Kubernetes' YAML 1.2 reader takes it
# as the string "=", which upstream CRDs use in enums (matchType: =, !=).
yaml.SafeLoader.add_constructor(
    "tag:yaml.org,2002:value", lambda loader, node: loader.construct_scalar(node))


def documents(path: Path) -> list[tuple[int, dict]]:
    try:
        text = path.read_text()
    except OSError as e:
        raise SystemExit(f"schema-check: cannot read {path}: {e}")
    try:
        docs = list(yaml.safe_load_all(text))
    except yaml.YAMLError as e:
        raise SystemExit(f"schema-check: {path}: not valid YAML: {e}")
    out = []
    for i, doc in enumerate(docs):
        if doc is None:
            continue
        if not isinstance(doc, dict) or "kind" not in doc or "apiVersion" not in doc:
            raise SystemExit(f"schema-check: {path}: document {i} is not a Kubernetes object "
                             f"(needs apiVersion and kind)")
        out.append((i, doc))
    return out


def describe(doc: dict) -> str:
    meta = doc.get("metadata") or {}
    return f"{doc['kind']}/{meta.get('name', '<no name>')}"


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--minor", action="append", required=True,
                   help="Kubernetes minor such as 1.35 (repeat for each)")
    p.add_argument("files", nargs="+", type=Path)
    args = p.parse_args(argv)

    bundled = bundled_minors()
    targets = []  # (minor asked for, schema minor used)
    for minor in args.minor:
        used, note = effective_minor(minor.strip().removeprefix("v"), bundled)
        if note:
            print(f"NOTE {note}")
        targets.append((minor, used))

    errors = 0
    checked = 0
    crd_kinds = {
        (f"{doc['spec']['group']}/{v['name']}", doc["spec"]["names"]["kind"])
        for path in args.files
        for _, doc in documents(path)
        if doc.get("kind") == "CustomResourceDefinition"
        for v in doc.get("spec", {}).get("versions", [])
        if v.get("served")
    }
    custom = 0
    for path in args.files:
        for index, doc in documents(path):
            checked += 1
            if (doc["apiVersion"], doc["kind"]) in crd_kinds:
                custom += 1
                continue
            for minor, used in targets:
                where = f"{path} document {index} ({describe(doc)}), Kubernetes {minor}"
                try:
                    kv.validate(doc, used, strict=True)
                except kv.ValidationError as e:
                    field = ".".join(str(x) for x in e.path) or "<top level>"
                    print(f"ERROR {where}: {field}: {e.message}")
                    errors += 1
                except kv.SchemaNotFoundError:
                    print(f"ERROR {where}: no schema for kind {doc['kind']} in "
                          f"apiVersion {doc['apiVersion']} (removed API, typo, or a CRD)")
                    errors += 1
    minors = ", ".join(m for m, _ in targets)
    if errors:
        print(f"schema-check: {errors} error(s) in {checked} document(s) "
              f"(Kubernetes {minors}, strict schemas of kubernetes-validate {KV_VERSION})")
        return 1
    if checked == 0:
        print("schema-check: no Kubernetes documents in the given files")
        return 2
    print(f"schema-check: {checked} document(s) from {len(args.files)} file(s) valid for "
          f"Kubernetes {minors} (strict schemas of kubernetes-validate {KV_VERSION}; "
          f"{custom} of them instances of CRDs in the same files, matched by kind only)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
