#!/bin/sh
# Writes /etc/ganesha/ganesha.conf from the environment and runs nfs-ganesha
# in the foreground with its log on stdout (so `docker logs` shows it).
#
# Environment (all optional):
#   EXPORT_PATH   directory to export; must be a Docker volume or bind mount,
#                 not the container's overlay filesystem (default /exports)
#   PSEUDO_PATH   where the export appears in the NFSv4 pseudo fs, i.e. the
#                 path clients mount (default: EXPORT_PATH)
#   SQUASH        none (default): every caller keeps its uid and gid;
#                 root: uid 0 becomes ANON_UID:ANON_GID, and gid 0 of other
#                       callers becomes ANON_GID (Grafana's 472:0 -> 472:65534);
#                 all: every caller becomes ANON_UID:ANON_GID
#   ANON_UID, ANON_GID  the identity squashed callers become (default 65534)
#   GRACELESS     true (default) | false: skip the NFSv4 grace period after a
#                 (re)start, so clients can open files again at once
#   LOG_LEVEL     ganesha default log level (default EVENT)
set -eu

EXPORT_PATH="${EXPORT_PATH:-/exports}"
PSEUDO_PATH="${PSEUDO_PATH:-$EXPORT_PATH}"
SQUASH="${SQUASH:-none}"
ANON_UID="${ANON_UID:-65534}"
ANON_GID="${ANON_GID:-65534}"
GRACELESS="${GRACELESS:-true}"
LOG_LEVEL="${LOG_LEVEL:-EVENT}"

fail() {
    echo "nfs-server: configuration error: $*" >&2
    exit 2
}

case "$SQUASH" in
    none) ganesha_squash=No_Root_Squash ;;
    root) ganesha_squash=Root_Squash ;;
    all) ganesha_squash=All_Squash ;;
    *) fail "SQUASH=$SQUASH: expected none, root or all" ;;
esac
for v in ANON_UID ANON_GID; do
    eval "val=\$$v"
    case "$val" in
        '' | *[!0-9]*) fail "$v=$val: expected a numeric id" ;;
    esac
done
case "$GRACELESS" in
    true | false) ;;
    *) fail "GRACELESS=$GRACELESS: expected true or false" ;;
esac
case "$EXPORT_PATH$PSEUDO_PATH" in
    *[!A-Za-z0-9/._-]*) fail "EXPORT_PATH/PSEUDO_PATH may only use letters, digits, / . _ -" ;;
esac
case "$EXPORT_PATH" in
    /*) ;;
    *) fail "EXPORT_PATH=$EXPORT_PATH: expected an absolute path" ;;
esac

mkdir -p "$EXPORT_PATH" /var/run/ganesha /var/lib/nfs/ganesha

# The VFS FSAL serves by file handle (name_to_handle_at); overlayfs, the
# container's own root fs, does not export handles and every lookup then
# fails with NFS4ERR_NOENT. Say so up front: the readiness check will fail.
fstype="$(stat -f -c %T "$EXPORT_PATH")"
if [ "$fstype" = overlayfs ]; then
    echo "nfs-server: WARNING: $EXPORT_PATH is on the container's overlay filesystem;" \
        "NFS lookups will fail. Mount a Docker volume or bind mount there."
fi

cat >/etc/ganesha/ganesha.conf <<CONF
# Written by entrypoint.sh at container start.
NFS_CORE_PARAM {
    # NFSv4 only: no rpcbind, mountd, NLM or rquota, so nothing but TCP 2049.
    Protocols = 4;
    NFS_Port = 2049;
    Enable_NLM = false;
    Enable_RQUOTA = false;
    Enable_UDP = false;
}

NFSV4 {
    # libnfs speaks 4.0 (SETCLIENTID); kubelets mount with vers=4.1.
    Minor_Versions = 0, 1, 2;
    Graceless = $GRACELESS;
    # Owners go over the wire as numbers: clients (kind nodes, libnfs) do not
    # share a user database with this container.
    Only_Numeric_Owners = true;
}

EXPORT_DEFAULTS {
    SecType = sys;
    # Accept non-privileged client source ports (the "insecure" of kernel
    # exports): NAT between containers rewrites them.
    PrivilegedPort = false;
}

EXPORT {
    Export_Id = 1;
    Path = "$EXPORT_PATH";
    Pseudo = "$PSEUDO_PATH";
    Protocols = 4;
    Transports = TCP;
    Access_Type = RW;
    SecType = sys;
    PrivilegedPort = false;
    Squash = $ganesha_squash;
    # The harness creates and chowns export subdirectories from inside this
    # container, behind ganesha's back: do not serve cached attributes.
    Attr_Expiration_Time = 0;
    Anonymous_Uid = $ANON_UID;
    Anonymous_Gid = $ANON_GID;
    FSAL {
        Name = VFS;
    }
}

LOG {
    Default_Log_Level = $LOG_LEVEL;
    Components {
        # Below EVENT, ntirpc's debug flags drop from 7 to 1 (errors only):
        # otherwise every client disconnect logs "svc_vc_wait ... recv
        # errno 104" and buries the lines that matter.
        TIRPC = CRIT;
    }
}
CONF

echo "nfs-server: exporting $EXPORT_PATH as $PSEUDO_PATH (squash=$SQUASH anon=$ANON_UID:$ANON_GID, fs=$fstype)"
exec ganesha.nfsd -F -L STDOUT -f /etc/ganesha/ganesha.conf -p /var/run/ganesha/ganesha.pid
