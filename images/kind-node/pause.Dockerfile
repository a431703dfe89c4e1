# The pod sandbox ("pause") image for the offline kind node image:
# Kubernetes' own pause.c (build/pause/linux/pause.c of the k8s.io/kubernetes
# module, copied into the context by scripts/node-image.sh), compiled
# static, alone in the image as upstream's is.
ARG BASE=debian:trixie-slim
FROM ${BASE} AS build
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends gcc libc6-dev
ARG VERSION
COPY pause.c /src/pause.c
RUN gcc -Os -Wall -Werror -static -DVERSION=${VERSION} -o /pause /src/pause.c && strip /pause

FROM scratch
COPY --from=build /pause /pause
USER 65535:65535
ENTRYPOINT ["/pause"]
