# shellcheck shell=bash
# shellcheck disable=SC2034 # the variables are for the scripts that source this file
# Sourced by .ci/run and scripts/matrix.sh: the cells CI runs on a real
# cluster (the "CI subset"), each exclusion printed by name with its reason.
# Sets:
#   ci_variants ci_disruptions  E2E_VARIANTS / E2E_DISRUPTIONS for make e2e
#   ci_test_args                E2E_TEST_ARGS (the cells skipped by name)
#   required                    every cell that must run and pass, as
#                               <variant>__<disruption> (report cell files)
#   disruptions csi_required operator_required thanos_required skip
#                               the lists they are made from

# One cell per disruption this machine can run (nfs-restart needs NFS, see
# above), on three variants:
# - empty-dir, the NEGATIVE CONTROL: every pod-replacing disruption must be
#   observed LOST (also a rollout to another node), container-kill must
#   survive;
# - default-class (local-path, ReadWriteOnce): the seed article's stuck
#   rollout and its unblock, pod deletes, the rollout and the node stops
#   that the node-bound volume cannot follow (stuck / pending), and
#   image-upgrade 2.42 -> 2.53 on the same volume;
# - csi-rwo, the project's attachable CSI driver: the volume follows the pod
#   to another node (pod-delete, reschedule-other-node), the documented
#   Multi-Attach rollout deadlock across nodes and its unblock, and the
#   out-of-service taint after a node stop; the volume's own life: filled
#   to ENOSPC while Prometheus runs (volume-full) and a live snapshot
#   restored under a second Prometheus (snapshot-restore).
# - the volume's own life elsewhere: empty-dir/volume-full (the kubelet
#   evicts a pod past its emptyDir's sizeLimit: LOST) and
#   default-class/volume-expand (local-path cannot grow: REFUSED).
# - the prometheus-operator setup (docs/setups.md): its default emptyDir
#   and its claim template with pod-delete (LOST / survives), the resource
#   deleted and created again under the default claim retention (survives)
#   and under whenDeleted: Delete (LOST), the operator restarted
#   (Prometheus untouched), and its claim template on the attachable class
#   following the pod to another node (operator-claim-csi).
# - the Thanos sidecar setup: the seed's warning made a measured cell
#   (thanos-empty-dir/pod-delete: the local TSDB LOST, every shipped block
#   kept in the bucket) and its fix (thanos-claim/pod-delete: both kept).
# Not in the subset (the harness prints each as not selected by
# E2E_VARIANTS): thanos-compacting, whose cells wait for Prometheus's
# compaction and ran by hand on kind 1.35 and 1.36 (docs/observed.json),
# and the variants whose rows the cells above already cover.
# nfs-static rides along so its exclusion is printed by the harness itself.
disruptions=(container-kill pod-delete pod-force-delete rollout-restart rollout-recreate
             stuck-rollout-unblock reschedule-other-node node-stop image-upgrade
             rollout-other-node rollout-other-node-unblock node-stop-out-of-service
             wal-tail-torn volume-full snapshot-restore volume-expand
             operator-restart resource-recreate store-restart)
# csi-rwo's cells here: the ones only attachable storage shows. EXCLUDED BY
# NAME for .ci/run's time budget (a cold run must stay under an hour): the
# rest of its row, which can run here and ran by hand on kind 1.35 and 1.36
# (README "What has been verified where", docs/observed.json), and runs in
# the nightly matrix.
csi_required=(pod-delete reschedule-other-node rollout-other-node rollout-other-node-unblock node-stop-out-of-service
              volume-full snapshot-restore)
# With CI_SUBSET_CSI_ROW=1 (make matrix sets it), csi-rwo's whole row runs:
# every disruption the attachable class has cells for.
if [[ ${CI_SUBSET_CSI_ROW:-0} == 1 ]]; then
  csi_required=()
  for d in "${disruptions[@]}"; do
    [[ $d == wal-tail-torn || $d == operator-restart || $d == resource-recreate || $d == store-restart ]] && continue
    csi_required+=("$d")
  done
fi
# --exact: a skip is a whole test name (csi_rwo::node_stop must not also
# skip csi_rwo::node_stop_out_of_service).
skip=(--exact)
for d in "${disruptions[@]}"; do
  [[ " ${csi_required[*]} " == *" $d "* ]] && continue
  # Not applicable on csi-rwo (the harness reports them ignored with the
  # reason): the WAL cut needs a node directory; the operator's own need
  # the operator's setup.
  [[ $d == wal-tail-torn || $d == operator-restart || $d == resource-recreate || $d == store-restart ]] && continue
  echo "EXCLUDED: csi_rwo::${d//-/_} (.ci/run's time budget; runs by hand and nightly, see above)"
  skip+=(--skip "csi_rwo::${d//-/_}")
done
# The operator setup's cells here; the rest of its rows (container-kill,
# pod-force-delete, image-upgrade through the resource, and the other
# variants' restarts) EXCLUDED BY NAME for the time budget: they ran by hand
# on kind 1.35 and 1.36 (docs/observed.json) and run in the nightly matrix.
operator_required=(operator-default__pod-delete operator-default__resource-recreate
                   operator-claim__pod-delete operator-claim__resource-recreate
                   operator-claim__operator-restart operator-claim-delete__resource-recreate
                   operator-claim-csi__reschedule-other-node)
for v in operator-default operator-claim operator-claim-delete operator-claim-csi; do
  for d in container-kill pod-delete pod-force-delete image-upgrade reschedule-other-node operator-restart resource-recreate; do
    [[ " ${operator_required[*]} " == *" ${v}__${d} "* ]] && continue
    echo "EXCLUDED: ${v//-/_}::${d//-/_} (.ci/run's time budget; runs by hand and nightly, see above)"
    skip+=(--skip "${v//-/_}::${d//-/_}")
  done
done
thanos_required=(thanos-empty-dir__pod-delete thanos-claim__pod-delete)
for v in thanos-empty-dir thanos-claim; do
  for d in container-kill pod-delete pod-force-delete store-restart; do
    [[ " ${thanos_required[*]} " == *" ${v}__${d} "* ]] && continue
    echo "EXCLUDED: ${v//-/_}::${d//-/_} (.ci/run's time budget; runs by hand and nightly)"
    skip+=(--skip "${v//-/_}::${d//-/_}")
  done
done
required=("${operator_required[@]}" "${thanos_required[@]}")
for v in empty-dir default-class csi-rwo; do
  for d in "${disruptions[@]}"; do
    # Not applicable (the harness reports them ignored with the reason): the
    # unblocks where no rollout gets stuck (empty-dir) or no pod of the new
    # template can ever run (default-class: the volume is bound to its node),
    # and the WAL cut where the data is no node directory.
    [[ $v == empty-dir && ( $d == stuck-rollout-unblock || $d == rollout-other-node-unblock ) ]] && continue
    [[ $v == default-class && $d == rollout-other-node-unblock ]] && continue
    [[ $v != default-class && $d == wal-tail-torn ]] && continue
    # Filling needs a volume with a capacity of its own (not local-path), a
    # snapshot a CSI claim, an expansion a claim.
    [[ $v == default-class && $d == volume-full ]] && continue
    [[ $v != csi-rwo && $d == snapshot-restore ]] && continue
    [[ $v == empty-dir && $d == volume-expand ]] && continue
    [[ $v == csi-rwo && " ${csi_required[*]} " != *" $d "* ]] && continue
    # The operator's and Thanos's own disruptions: not applicable outside
    # their setups.
    [[ $d == operator-restart || $d == resource-recreate || $d == store-restart ]] && continue
    required+=("${v}__${d}")
  done
done
ci_variants=empty-dir,default-class,nfs-static,csi-rwo,operator-default,operator-claim,operator-claim-delete,operator-claim-csi,thanos-empty-dir,thanos-claim
ci_disruptions=$(IFS=,; echo "${disruptions[*]}")
ci_test_args="${skip[*]}"
