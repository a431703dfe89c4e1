#!/bin/sh
# The node network agent of the offline kind node image: what kind's
# kindnetd does, for a machine where kindnetd cannot be had (its image is
# in a registry, its source in no module the Go proxy serves). It runs on
# every node (a hostNetwork DaemonSet, default-cni.yaml) and keeps three
# things true, every RESYNC seconds:
#   1. /etc/cni/net.d holds a CNI config for this node's pod range
#      (spec.podCIDR, given out by kube-controller-manager): ptp + host-local
#      + portmap, the same plugins kindnetd configures. The kubelet reports
#      the node Ready once it is there.
#   2. a route to every other node's pod range via that node's IP, so pods
#      reach pods on other nodes (all nodes share one Docker network).
#   3. pod traffic leaving the pod network is masqueraded to the node's IP,
#      so whatever answers (another container, the NFS server) can reply.
# It talks to the API server at CONTROL_PLANE_ENDPOINT (set by kind) with
# the pod's service account: no Service or DNS is up before the network is.
set -eu

RESYNC=${RESYNC:-5}
NODE_NAME=${NODE_NAME:?the DaemonSet sets NODE_NAME}
POD_SUBNET=${POD_SUBNET:?kind templates POD_SUBNET into the manifest}
CONTROL_PLANE_ENDPOINT=${CONTROL_PLANE_ENDPOINT:?kind patches CONTROL_PLANE_ENDPOINT into the manifest}
sa=/var/run/secrets/kubernetes.io/serviceaccount
conf=/etc/cni/net.d/10-storage-e2e.conflist
chain=STORAGE-E2E-MASQ

log() { echo "node-network[$NODE_NAME]: $*"; }

kube() {
  kubectl --server="https://$CONTROL_PLANE_ENDPOINT" \
    --certificate-authority="$sa/ca.crt" --token="$(cat "$sa/token")" "$@"
}

write_cni_config() { # podCIDR
  want=$(cat <<JSON
{
  "cniVersion": "1.0.0",
  "name": "storage-e2e",
  "plugins": [
    {
      "type": "ptp",
      "ipMasq": false,
      "ipam": {
        "type": "host-local",
        "dataDir": "/run/cni-ipam-state",
        "routes": [{"dst": "0.0.0.0/0"}],
        "ranges": [[{"subnet": "$1"}]]
      },
      "mtu": 1500
    },
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
JSON
)
  if [ "$(cat "$conf" 2>/dev/null)" != "$want" ]; then
    printf '%s\n' "$want" >"$conf.tmp" && mv "$conf.tmp" "$conf"
    log "wrote $conf for $1"
  fi
}

ensure_masquerade() {
  iptables -t nat -N "$chain" 2>/dev/null || true
  iptables -t nat -C "$chain" -d "$POD_SUBNET" -j RETURN 2>/dev/null \
    || iptables -t nat -A "$chain" -d "$POD_SUBNET" -j RETURN
  iptables -t nat -C "$chain" -j MASQUERADE 2>/dev/null \
    || iptables -t nat -A "$chain" -j MASQUERADE
  iptables -t nat -C POSTROUTING -s "$POD_SUBNET" -j "$chain" 2>/dev/null \
    || iptables -t nat -A POSTROUTING -s "$POD_SUBNET" -j "$chain"
}

sync_once() {
  nodes=$(kube get nodes -o jsonpath='{range .items[*]}{.metadata.name} {.spec.podCIDR} {.status.addresses[?(@.type=="InternalIP")].address}{"\n"}{end}') || return 1
  echo "$nodes" | while read -r name cidr ip; do
    [ -n "$name" ] && [ -n "$cidr" ] && [ -n "$ip" ] || continue
    if [ "$name" = "$NODE_NAME" ]; then
      write_cni_config "$cidr"
    else
      case "$(ip route show "$cidr")" in
        *"via $ip "*) ;;
        *) ip route replace "$cidr" via "$ip" && log "route $cidr via $ip ($name)" ;;
      esac
    fi
  done
  ensure_masquerade
}

log "pod subnet $POD_SUBNET, API server $CONTROL_PLANE_ENDPOINT"
while true; do
  sync_once || log "sync failed; retrying in ${RESYNC}s"
  sleep "$RESYNC"
done
