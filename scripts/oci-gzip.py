#!/usr/bin/env python3
"""Turn a `docker save` archive (Docker's legacy format: manifest.json and
one uncompressed layer.tar per layer) into an OCI image layout archive whose
layers are gzip-compressed, for `ctr images import`.

Why: containerd keeps imported layers as they come. From `docker save`
they come uncompressed, so a node image holding a run's images held them
uncompressed, and each kind node's copy of it (Docker copies the image's
/var into every node's volume) cost about 2.3 GB of disk; compressed, the
same content takes well under half (scripts/node-image-with.sh reports the
sizes). The image configs, and so the image IDs the kubelet and `kind load`
compare, do not change: a layer's uncompressed digest (the config's
diff_id) stays what it was; only the blob that carries it is compressed.

    docker save <image>... | scripts/oci-gzip.py | ctr images import -
"""

import hashlib
import json
import os
import sys
import tarfile
import tempfile
import zlib

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"


def full_name(tag):
    """containerd's name for a Docker reference (docker.io/..., library/ for one path part)."""
    name, _, version = tag.rpartition(":")
    first = name.split("/", 1)[0]
    if "/" not in name:
        name = "docker.io/library/" + name
    elif "." not in first and ":" not in first and first != "localhost":
        name = "docker.io/" + name
    return f"{name}:{version}"


def store(blobs, chunks):
    """Store the bytes of `chunks` under blobs/sha256/<digest>; return (digest, size)."""
    h = hashlib.sha256()
    size = 0
    fd, tmp = tempfile.mkstemp(dir=blobs)
    with os.fdopen(fd, "wb") as out:
        for chunk in chunks:
            h.update(chunk)
            size += len(chunk)
            out.write(chunk)
    os.replace(tmp, os.path.join(blobs, h.hexdigest()))
    return "sha256:" + h.hexdigest(), size


def gzipped(f):
    """The gzip stream of file object `f`, in chunks (level 1: this runs once
    per node image; mtime 0, so the same layer gives the same blob)."""
    z = zlib.compressobj(1, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    for chunk in iter(lambda: f.read(1 << 20), b""):
        out = z.compress(chunk)
        if out:
            yield out
    yield z.flush()


def convert(src, dst, layout):
    """Read the docker-save stream `src` (layers are compressed as they
    stream past: no uncompressed copy is written), write the OCI layout
    archive to `dst`."""
    blobs = os.path.join(layout, "blobs", "sha256")
    os.makedirs(blobs)
    layers, small = {}, {}
    with tarfile.open(fileobj=src, mode="r|") as t:
        for m in t:
            if not m.isfile():
                continue
            f = t.extractfile(m)
            if m.name.endswith("/layer.tar"):
                layers[m.name] = store(blobs, gzipped(f))
            else:
                small[m.name] = f.read()
    index = []
    for image in json.loads(small["manifest.json"]):
        config_digest, config_size = store(blobs, [small[image["Config"]]])
        manifest = {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": OCI_CONFIG, "digest": config_digest, "size": config_size},
            "layers": [
                {"mediaType": OCI_LAYER_GZIP, "digest": layers[l][0], "size": layers[l][1]}
                for l in image["Layers"]
            ],
        }
        digest, size = store(blobs, [json.dumps(manifest, separators=(",", ":")).encode()])
        for tag in image.get("RepoTags") or []:
            index.append({
                "mediaType": OCI_MANIFEST,
                "digest": digest,
                "size": size,
                "annotations": {
                    "io.containerd.image.name": full_name(tag),
                    "org.opencontainers.image.ref.name": tag.rpartition(":")[2],
                },
            })
    with open(os.path.join(layout, "index.json"), "w") as f:
        json.dump({"schemaVersion": 2, "manifests": index}, f)
    with open(os.path.join(layout, "oci-layout"), "w") as f:
        json.dump({"imageLayoutVersion": "1.0.0"}, f)
    with tarfile.open(fileobj=dst, mode="w|") as t:
        for name in ("oci-layout", "index.json", "blobs"):
            t.add(os.path.join(layout, name), arcname=name)


def main():
    if len(sys.argv) != 1:
        sys.exit("usage: docker save <image>... | scripts/oci-gzip.py | ctr images import -")
    with tempfile.TemporaryDirectory(prefix="e2e-oci-") as work:
        convert(sys.stdin.buffer, sys.stdout.buffer, os.path.join(work, "oci"))


if __name__ == "__main__":
    main()
