//! What a cell that acts on the volume itself measured (volume-full,
//! snapshot-restore, volume-expand): the figures its report shows beside
//! the verdict. Never judged by the table; a wrong figure is evidence, not
//! a pass or a fail.

use serde::{Deserialize, Serialize};

/// The figures of one volume-life cell; each is `None` where the cell did
/// not get that far or the disruption does not measure it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct VolumeFigures {
    /// The file the harness wrote to fill the volume (a path in the pod).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filler: Option<String>,
    /// Its size once written, in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filler_bytes: Option<u64>,
    /// `df` in the pod before and after the fill: `size/used/available KiB`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub df_before: Option<String>,
    /// As [`Self::df_before`], after.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub df_full: Option<String>,
    /// Seconds writing the filler took.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fill_seconds: Option<f64>,
    /// Seconds the volume was held full.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub held_full_seconds: Option<f64>,
    /// Samples the harness wrote (one a second) while full that
    /// Prometheus accepted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accepted_while_full: Option<u64>,
    /// Those it refused, and the first refusal in its own words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refused_while_full: Option<u64>,
    /// The first refusal's text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_refusal: Option<String>,
    /// Of the samples written while full, how many Prometheus does not
    /// return once it has recovered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lost_while_full: Option<u64>,
    /// What Prometheus answered when asked to write its head as a block
    /// while full (the admin snapshot API: the compactor's block write).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub block_write_while_full: Option<String>,
    /// Whether the pod was Ready at the end of the full period, and its
    /// container's restarts during it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ready_while_full: Option<bool>,
    /// Container restarts during the full period.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restarts_while_full: Option<i32>,
    /// Seconds from the space freed to the first write Prometheus accepted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovered_after_free_seconds: Option<f64>,
    /// Seconds from the filled emptyDir to its pod's eviction.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evicted_after_seconds: Option<f64>,
    /// The kubelet's eviction message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eviction: Option<String>,
    /// Seconds from creating the VolumeSnapshot to readyToUse.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot_seconds: Option<f64>,
    /// Seconds from creating the restored claim to its Prometheus Ready.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restore_seconds: Option<f64>,
    /// The original Prometheus's own judgement after the snapshot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub original_after_snapshot: Option<String>,
    /// Capacity asked for and the filesystem's size seen in the pod, before
    /// and after an expansion: `claim 2Gi -> 3Gi; df 2.0 -> 2.9 GiB`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expansion: Option<String>,
    /// Seconds from the claim's new size to the filesystem showing it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expand_seconds: Option<f64>,
}

impl VolumeFigures {
    /// Whether nothing was measured (the cell is not a volume-life one).
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    /// `name: value` pairs of what was measured, in field order.
    pub fn pairs(&self) -> Vec<(&'static str, String)> {
        let secs = |v: Option<f64>| v.map(|s| format!("{s:.1} s"));
        let mut out = Vec::new();
        let mut put = |k: &'static str, v: Option<String>| {
            if let Some(v) = v {
                out.push((k, v));
            }
        };
        put("filler", self.filler.clone());
        put("filler bytes", self.filler_bytes.map(|b| b.to_string()));
        put("df before", self.df_before.clone());
        put("df full", self.df_full.clone());
        put("time to fill", secs(self.fill_seconds));
        put("held full", secs(self.held_full_seconds));
        put(
            "accepted while full",
            self.accepted_while_full.map(|n| n.to_string()),
        );
        put(
            "refused while full",
            self.refused_while_full.map(|n| n.to_string()),
        );
        put("first refusal", self.first_refusal.clone());
        put(
            "lost while full",
            self.lost_while_full.map(|n| n.to_string()),
        );
        put(
            "block write while full",
            self.block_write_while_full.clone(),
        );
        put(
            "ready at the end of full",
            self.ready_while_full.map(|b| b.to_string()),
        );
        put(
            "restarts while full",
            self.restarts_while_full.map(|n| n.to_string()),
        );
        put(
            "recovered after free",
            secs(self.recovered_after_free_seconds),
        );
        put("evicted after", secs(self.evicted_after_seconds));
        put("eviction", self.eviction.clone());
        put("snapshot ready after", secs(self.snapshot_seconds));
        put(
            "restored Prometheus ready after",
            secs(self.restore_seconds),
        );
        put(
            "original after the snapshot",
            self.original_after_snapshot.clone(),
        );
        put("expansion", self.expansion.clone());
        put("filesystem grown after", secs(self.expand_seconds));
        out
    }
}
