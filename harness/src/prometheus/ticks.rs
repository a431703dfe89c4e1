//! Writes one at a time while something is done to the volume: a series of
//! its own, one sample a second through the remote-write receiver, each
//! answer kept, and the samples counted back once Prometheus recovered.
//! How volume-full measures what a full disk refused and what it lost.

use std::collections::BTreeMap;

use crate::error::{Error, Result, chain};
use crate::prometheus::api::PrometheusProbe;
use crate::prometheus::head::HeadCount;
use crate::prometheus::remote_write::now_ms;

/// The metric written while the volume is full.
pub const TICK_METRIC: &str = "storage_e2e_while_full";

/// The samples written one at a time, and what the receiver answered.
#[derive(Debug, Clone)]
pub(crate) struct Ticks {
    labels: BTreeMap<String, String>,
    /// Samples the receiver accepted.
    pub(crate) accepted: u64,
    /// Samples it refused (an error answer or no answer).
    pub(crate) refused: u64,
    /// The first refusal, as the harness saw it.
    pub(crate) first_refusal: Option<String>,
    /// The latest refusal (what a wait that times out last saw).
    pub(crate) last_refusal: Option<String>,
    first_ms: Option<i64>,
    last_ms: Option<i64>,
}

impl Ticks {
    /// A series of its own for `run` (the cell's namespace).
    pub(crate) fn new(run: &str) -> Self {
        Self {
            labels: BTreeMap::from([
                ("__name__".to_owned(), TICK_METRIC.to_owned()),
                ("run".to_owned(), run.to_owned()),
            ]),
            accepted: 0,
            refused: 0,
            first_refusal: None,
            last_refusal: None,
            first_ms: None,
            last_ms: None,
        }
    }

    /// Samples written, accepted or not.
    pub(crate) fn written(&self) -> u64 {
        self.accepted + self.refused
    }
}

impl PrometheusProbe<'_> {
    /// Write one sample of `ticks`' series at now (value 1); whether the
    /// receiver accepted it.
    pub(crate) async fn tick(&self, ticks: &mut Ticks) -> bool {
        let at = now_ms();
        ticks.first_ms.get_or_insert(at);
        ticks.last_ms = Some(at);
        match self.remote_write(&ticks.labels, &[(at, 1.0)]).await {
            Ok(()) => {
                ticks.accepted += 1;
                true
            }
            Err(e) => {
                ticks.refused += 1;
                let said = chain(&e);
                ticks.first_refusal.get_or_insert_with(|| said.clone());
                ticks.last_refusal = Some(said);
                false
            }
        }
    }

    /// How many of `ticks`' samples Prometheus returns now.
    ///
    /// # Errors
    /// [`Error::Cannot`] when nothing was written or Prometheus answers the
    /// count with a storage error; HTTP errors.
    pub(crate) async fn count_ticks(&self, ticks: &Ticks) -> Result<u64> {
        let (Some(from_ms), Some(to_ms)) = (ticks.first_ms, ticks.last_ms) else {
            return Err(Error::Cannot {
                action: format!("count {TICK_METRIC}"),
                why: "no sample of it was written".into(),
            });
        };
        let window = HeadCount {
            labels: ticks.labels.clone(),
            from_ms,
            to_ms,
            samples: None,
        };
        let mut errors = Vec::new();
        let counted = self.count_head(window, &mut errors).await?;
        counted.samples.ok_or_else(|| Error::Cannot {
            action: format!("count {TICK_METRIC} over {from_ms}..{to_ms} ms"),
            why: format!("Prometheus answered with a storage error: {errors:?}"),
        })
    }

    /// Ask Prometheus to write its head as a block (the admin API's TSDB
    /// snapshot, `POST /api/v1/admin/tsdb/snapshot`: tsdb's `DB.Snapshot`
    /// writes the head through the compactor's block write, the code a head
    /// compaction runs), and return its answer as `HTTP <code>: <body>`.
    /// Where the snapshot went is Prometheus's `snapshots/` folder.
    ///
    /// # Errors
    /// [`Error::Http`] when nothing answered.
    pub(crate) async fn write_head_block(&self) -> Result<String> {
        let url = format!("{}/api/v1/admin/tsdb/snapshot", self.base);
        let resp = self.send_post(&url, self.http.post(&url)).await?;
        let status = resp.status().as_u16();
        let body = resp.text().await.unwrap_or_default();
        Ok(format!("HTTP {status}: {}", body.trim()))
    }
}
