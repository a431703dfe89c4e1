# CoreDNS for the offline kind node image. kubeadm's CoreDNS Deployment
# gives only arguments (-conf /etc/coredns/Corefile), so the binary is the
# entrypoint, at /coredns as in the upstream image. Runs as the upstream
# image's non-root user; kubeadm grants it NET_BIND_SERVICE for port 53.
ARG BASE=debian:trixie-slim
FROM ${BASE}
COPY bin/coredns /coredns
USER 65532:65532
ENTRYPOINT ["/coredns"]
