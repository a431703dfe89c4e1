# The offline kind node image, stage 1: a Debian system that boots like a
# kind node. scripts/node-image.sh builds it from a context it assembles:
#   kind-base/  kind's own node files (entrypoint, systemd units, containerd
#               config), copied from the kind module in the Go module cache
#   bin/        containerd, ctr, containerd-shim-runc-v2, crictl (built from Go modules)
#   kube/       kubeadm, kubelet, kubectl (built from k8s.io/kubernetes)
# Stage 2 (the script again) starts this image, imports the cluster's
# images into its containerd and commits the result: those images must be
# in /var/lib/containerd, and only a running containerd can put them there.
ARG BASE=debian:trixie-slim
FROM ${BASE}

# The packages of kind's base image (kind images/base/Dockerfile) that a
# node needs here, plus runc and the CNI plugins, which kind builds itself
# and Debian packages. open-iscsi and fuse-overlayfs are left out: no
# variant uses iSCSI, and fuse-overlayfs is only for rootless Docker.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      systemd conntrack iptables nftables iproute2 ethtool util-linux mount kmod \
      libseccomp2 pigz nfs-common e2fsprogs bash ca-certificates curl jq procps \
      runc containernetworking-plugins \
 && apt-get clean \
 && rm -rf /var/lib/apt/lists/* /var/log/* /usr/share/doc/* /usr/share/man/* \
 && find /lib/systemd/system/sysinit.target.wants/ -name "systemd-tmpfiles-setup.service" -delete \
 && rm -f /lib/systemd/system/multi-user.target.wants/* /etc/systemd/system/*.wants/* \
          /lib/systemd/system/local-fs.target.wants/* /lib/systemd/system/sockets.target.wants/*udev* \
          /lib/systemd/system/sockets.target.wants/*initctl* /lib/systemd/system/basic.target.wants/* \
 && echo "ReadKMsg=no" >> /etc/systemd/journald.conf \
 && ln -sf /usr/lib/systemd/systemd /sbin/init

COPY kind-base/ /
COPY bin/ /usr/local/bin/
COPY kube/ /usr/bin/

# kind expects the CNI plugins in /opt/cni/bin (containerd's default);
# Debian installs them in /usr/lib/cni. The runtime spec template gets
# kind's product_uuid hook, as kind's base image does.
RUN mkdir -p /opt/cni/bin /etc/kubernetes/manifests \
 && ln -s /usr/lib/cni/* /opt/cni/bin/ \
 && ctr oci spec \
      | jq '.hooks.createContainer[.hooks.createContainer | length] |= . + {"path": "/kind/bin/mount-product-files.sh"}' \
      | jq 'del(.process.rlimits)' > /etc/containerd/cri-base.json \
 && systemctl enable kubelet.service containerd.service undo-mount-hacks.service \
 && systemctl mask systemd-binfmt.service \
 && containerd --version && runc --version && kubelet --version

ENV container=docker
STOPSIGNAL SIGRTMIN+3
ENTRYPOINT ["/usr/local/bin/entrypoint", "/sbin/init"]
