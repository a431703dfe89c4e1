# An image of one cluster component for the offline kind node image
# (kube-apiserver, kube-controller-manager, kube-scheduler, kube-proxy,
# etcd, local-path-provisioner, its helper, the node network agent): the
# Debian base, the packages it needs at run time, its binaries in
# /usr/local/bin. No entrypoint: the manifests that run these images name
# their command. Built and imported by scripts/node-image.sh.
ARG BASE=debian:trixie-slim
FROM ${BASE}
ARG PACKAGES=""
RUN if [ -n "$PACKAGES" ]; then \
      apt-get update \
      && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $PACKAGES \
      && apt-get clean && rm -rf /var/lib/apt/lists/* /usr/share/doc/* /usr/share/man/*; \
    fi
COPY bin/ /usr/local/bin/
