//! A [`Snapshot`]: what a Prometheus server answers for a [`History`] at
//! one moment. It records the blocks ([`BlockInfo`]), exact marker values at
//! chosen timestamps, how many marker samples are queryable, the [`Head`]
//! (its time range, one exact recent head sample and how many samples that
//! head series holds over a fixed window), the
//! `prometheus_tsdb_clean_start` gauge and the data dir's numeric owner.
//! A read Prometheus answers with a storage error (an unreadable chunk or
//! index) is recorded as a [`ReadError`], not returned as an error: it is
//! evidence about the data (see `storage_error` in `api.rs` for the rule).

use serde::Serialize;

use crate::error::Result;
use crate::prometheus::api::{Answer, InstantSample, PrometheusProbe, Refusal, seconds_to_ms};
use crate::prometheus::blocks::{BlockInfo, BlockSource};
use crate::prometheus::head::{Head, HeadCount, HeadSample, series_selector};
use crate::prometheus::history::History;
use crate::prometheus::remote_write::{DENSE_METRIC, DenseSeries, now_ms};
use crate::vocab::PartKind;

/// How far back the first snapshot looks for the first sample of the head
/// series it counts: a head holds at most 1.5 times its 2 h block range
/// before compaction moves the older samples into a block.
const HEAD_COUNT_LOOKBACK: &str = "3h";

/// The marker's value at one checkpoint.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MarkerValue {
    /// Timestamp (ms).
    pub at_ms: i64,
    /// What the history says it is.
    pub(crate) expected: f64,
    /// What the server answered; `None` when it had no sample there.
    pub found: Option<f64>,
}

/// A data read of a [`Snapshot`], as named in a [`ReadError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Read {
    /// [`Snapshot::marker_count`].
    MarkerCount,
    /// The checkpoint at `at_ms` in [`Snapshot::marker_values`].
    MarkerValue {
        /// The checkpoint's timestamp (ms).
        at_ms: i64,
    },
    /// [`Head::sample`].
    HeadSample,
    /// [`Head::count`].
    HeadCount,
}

impl Read {
    /// The part whose data the read returns.
    pub fn part(self) -> PartKind {
        match self {
            Self::MarkerCount | Self::MarkerValue { .. } => PartKind::Blocks,
            Self::HeadSample | Self::HeadCount => PartKind::HeadWal,
        }
    }
}

/// A read Prometheus answered with a storage error instead of data: a block
/// or head chunk it could not read (see `storage_error`). Evidence of a
/// loss, shown in the judgement word for word.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReadError {
    /// Which read.
    pub read: Read,
    /// The PromQL sent.
    pub(crate) query: String,
    /// Its evaluation time (ms); `None` for "now".
    pub(crate) at_ms: Option<i64>,
    /// The HTTP status of the answer (422 or 500).
    pub(crate) status: u16,
    /// The API's `errorType` (`execution` or `internal`).
    pub(crate) error_type: String,
    /// The API's `error`, as Prometheus wrote it.
    pub(crate) message: String,
}

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.query)?;
        if let Some(at) = self.at_ms {
            write!(f, " at {at} ms")?;
        }
        write!(
            f,
            " answered {} {}: {}",
            self.status, self.error_type, self.message
        )
    }
}

/// What a Prometheus server answered about a seeded history at one moment.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Snapshot {
    /// The history the snapshot checks.
    pub history: History,
    /// When it was taken (ms since the epoch, client clock).
    pub(crate) taken_at_ms: i64,
    /// Where [`Snapshot::blocks`] came from.
    pub(crate) block_source: BlockSource,
    /// Every block in the TSDB, seeded or not.
    pub blocks: Vec<BlockInfo>,
    /// How many marker samples are queryable (`None`: none at all).
    pub marker_count: Option<u64>,
    /// The marker at `History::checkpoints`.
    pub marker_values: Vec<MarkerValue>,
    /// The head.
    pub head: Head,
    /// `prometheus_tsdb_clean_start`: -1 lock file disabled, 0 a lock file
    /// from a previous (killed) run was replaced, 1 clean start. `None` when
    /// the server does not export it.
    pub clean_start: Option<i64>,
    /// `uid:gid` of the data dir, as the container sees it.
    pub data_dir_owner: String,
    /// The reads Prometheus answered with a storage error; their fields
    /// above hold `None`.
    pub read_errors: Vec<ReadError>,
}

impl PrometheusProbe<'_> {
    /// A first snapshot of `history` and the head: waits up to
    /// [`HEAD_SAMPLE_TIMEOUT`] for a head sample (a fresh server has none
    /// before its first self-scrape), records the newest one, and counts its
    /// series' samples from the series' first one up to it ([`HeadCount`]).
    ///
    /// # Errors
    /// [`Error::Timeout`] when no head sample appears; HTTP, parse and exec
    /// errors from the individual reads (not storage errors: those are
    /// recorded in [`Snapshot::read_errors`]).
    ///
    /// [`HEAD_SAMPLE_TIMEOUT`]: crate::prometheus::HEAD_SAMPLE_TIMEOUT
    /// [`Error::Timeout`]: crate::Error::Timeout
    pub async fn snapshot(&self, history: &History) -> Result<Snapshot> {
        let sample = self.await_head_sample().await?;
        self.snapshot_from(history, sample).await
    }

    /// [`Self::snapshot`] with the head sample [`Self::await_head_sample`]
    /// already returned, for a caller that timed that wait apart.
    ///
    /// # Errors
    /// As [`Self::snapshot`], less the wait.
    pub(crate) async fn snapshot_from(
        &self,
        history: &History,
        sample: HeadSample,
    ) -> Result<Snapshot> {
        let mut snapshot = self.read_history(history).await?;
        let count = self.first_count(&sample, &mut snapshot.read_errors).await?;
        snapshot.head.count = Some(count);
        snapshot.head.sample = Some(sample);
        Ok(snapshot)
    }

    /// A first snapshot whose head is dense: [`DenseSeries`] of the
    /// history's run written for the last [`DENSE_SPAN`] (one sample per
    /// second), its newest sample the head sample and its samples the
    /// head count. Needs `--web.enable-remote-write-receiver`.
    ///
    /// [`DENSE_SPAN`]: crate::prometheus::DENSE_SPAN
    ///
    /// # Errors
    /// As `Self::write_dense` and `Self::snapshot_from`.
    pub async fn snapshot_dense(&self, history: &History) -> Result<Snapshot> {
        let sample = self.write_dense(&DenseSeries::new(history.run())).await?;
        self.snapshot_from(history, sample).await
    }

    /// Bring `before`'s head up to now, just before the disruption: write
    /// its dense series for every second since its head sample and for now
    /// itself, take the newest as the head sample and count the window
    /// again up to it (the counted window then ends at the call). Returns
    /// the samples the count gained.
    ///
    /// # Errors
    /// [`Error::Cannot`] when `before` has no dense head (a snapshot not
    /// taken by [`Self::snapshot_dense`]); as `Self::write_dense_after`.
    ///
    /// [`Error::Cannot`]: crate::Error::Cannot
    pub async fn top_up_head(&self, before: &mut Snapshot) -> Result<u64> {
        let dense = DenseSeries::new(before.history.run());
        let (Some(sample), Some(window)) = (&before.head.sample, &before.head.count) else {
            return Err(crate::Error::Cannot {
                action: "bring the head up to the disruption".into(),
                why: "the before snapshot has no head sample and count".into(),
            });
        };
        if &sample.labels != dense.labels() {
            return Err(crate::Error::Cannot {
                action: "bring the head up to the disruption".into(),
                why: format!(
                    "the before snapshot's head series is not {DENSE_METRIC} of run {}",
                    before.history.run()
                ),
            });
        }
        let had = window.samples.unwrap_or(0);
        let mut window = window.clone();
        let newest = self.write_dense_after(&dense, sample.at_ms).await?;
        window.to_ms = newest.at_ms;
        let counted = self.count_head(window, &mut before.read_errors).await?;
        let written = counted.samples.unwrap_or(0).saturating_sub(had);
        before.head.count = Some(counted);
        before.head.sample = Some(newest);
        Ok(written)
    }

    /// The first snapshot's [`HeadCount`]: `newest`'s series from its first
    /// sample up to `newest` (samples `None`, with a [`ReadError`] in
    /// `errors`, when Prometheus answers a read with a storage error).
    async fn first_count(
        &self,
        newest: &HeadSample,
        errors: &mut Vec<ReadError>,
    ) -> Result<HeadCount> {
        let query = format!("{}[{HEAD_COUNT_LOOKBACK}]", series_selector(&newest.labels));
        let answer = self.range(&query, Some(newest.at_ms)).await?;
        let first = keep(Read::HeadCount, answer, errors).map(|series| {
            series
                .iter()
                .flat_map(|s| s.values.iter())
                .map(|(t, _)| seconds_to_ms(*t))
                .min()
                .unwrap_or(newest.at_ms)
        });
        let window = HeadCount {
            labels: newest.labels.clone(),
            from_ms: first.unwrap_or(newest.at_ms),
            to_ms: newest.at_ms,
            samples: None,
        };
        match first {
            Some(_) => self.count_head(window, errors).await,
            None => Ok(window),
        }
    }

    /// A snapshot taken after a disruption, reading the same things as
    /// `before`: its history, its head sample looked up again at the same
    /// timestamp, and its head series counted again over the same window.
    ///
    /// # Errors
    /// HTTP, parse and exec errors from the individual reads (a missing
    /// sample is not an error, nor is a read Prometheus answers with a
    /// storage error: they are what [`compare`](crate::prometheus::compare) judges).
    pub async fn snapshot_after(&self, before: &Snapshot) -> Result<Snapshot> {
        let mut snapshot = self.read_history(&before.history).await?;
        if let Some(like) = &before.head.sample {
            let answer = self.head_sample_like(like).await?;
            snapshot.head.sample =
                keep(Read::HeadSample, answer, &mut snapshot.read_errors).flatten();
        }
        if let Some(window) = &before.head.count {
            let counted = self
                .count_head(window.clone(), &mut snapshot.read_errors)
                .await?;
            snapshot.head.count = Some(counted);
        }
        Ok(snapshot)
    }

    /// Everything a snapshot reads except the head sample and count.
    async fn read_history(&self, history: &History) -> Result<Snapshot> {
        let mut read_errors = Vec::new();
        let (block_source, blocks) = self.blocks().await?;
        let answer = self.count_markers(history).await?;
        let marker_count = keep(Read::MarkerCount, answer, &mut read_errors).flatten();
        let mut marker_values = Vec::new();
        for at_ms in history.checkpoints() {
            let answer = self.read_marker(history, at_ms).await?;
            marker_values.push(MarkerValue {
                at_ms,
                expected: history.value_at(at_ms).unwrap_or(f64::NAN),
                found: keep(Read::MarkerValue { at_ms }, answer, &mut read_errors).flatten(),
            });
        }
        Ok(Snapshot {
            history: history.clone(),
            taken_at_ms: now_ms(),
            block_source,
            blocks,
            marker_count,
            marker_values,
            head: self.head().await?,
            clean_start: self.clean_start().await?,
            data_dir_owner: self.data_dir_owner().await?,
            read_errors,
        })
    }

    /// `window` with its samples counted (`None` and a [`ReadError`] in
    /// `errors` when Prometheus answers with a storage error).
    pub(super) async fn count_head(
        &self,
        mut window: HeadCount,
        errors: &mut Vec<ReadError>,
    ) -> Result<HeadCount> {
        let answer = self.count(&window.query(), window.to_ms).await?;
        window.samples = keep(Read::HeadCount, answer, errors);
        Ok(window)
    }

    /// How many marker samples of `history` the server can return
    /// (`None` when it has none at all).
    ///
    /// # Errors
    /// HTTP and parse errors, a storage error included (the seed's wait
    /// reads this; a snapshot records storage errors instead).
    pub async fn marker_count(&self, history: &History) -> Result<Option<u64>> {
        self.count_markers(history)
            .await?
            .map_err(Refusal::into_error)
    }

    async fn count_markers(&self, history: &History) -> Result<Answer<Option<u64>>> {
        let answer = self
            .instant(&history.count_query(), Some(history.last_ms()))
            .await?;
        Ok(answer.map(|found| found.first().map(InstantSample::as_count)))
    }

    async fn read_marker(&self, history: &History, at_ms: i64) -> Result<Answer<Option<f64>>> {
        let answer = self
            .range(&format!("{}[1ms]", history.selector()), Some(at_ms))
            .await?;
        Ok(answer.map(|series| {
            series
                .iter()
                .flat_map(|s| s.values.iter())
                .find(|(t, _)| seconds_to_ms(*t) == at_ms)
                .and_then(|(_, v)| v.parse().ok())
        }))
    }

    /// `prometheus_tsdb_clean_start` from `/metrics` (read directly, so it
    /// does not depend on a scrape having happened since the start).
    ///
    /// # Errors
    /// HTTP errors.
    pub async fn clean_start(&self) -> Result<Option<i64>> {
        let body = self.get_text("/metrics").await?;
        Ok(body
            .lines()
            .find_map(|l| l.strip_prefix("prometheus_tsdb_clean_start "))
            .and_then(|v| v.trim().parse::<f64>().ok())
            .map(|v| v as i64))
    }

    /// `uid:gid` of the data dir (`stat -c %u:%g`, which busybox and GNU stat both have).
    ///
    /// # Errors
    /// Exec errors.
    pub(crate) async fn data_dir_owner(&self) -> Result<String> {
        let out = self
            .exec
            .exec_ok(&["stat", "-c", "%u:%g", &self.data_dir], None)
            .await?;
        Ok(out.stdout.trim().to_owned())
    }
}

// Here rather than in api.rs, next to `Refusal`: a [`ReadError`] is a
// snapshot's record, and api.rs imports nothing from the snapshot side.
impl Refusal {
    /// The refusal as evidence of the read `read`.
    fn into_read_error(self, read: Read) -> ReadError {
        ReadError {
            read,
            query: self.query,
            at_ms: self.at_ms,
            status: self.status,
            error_type: self.error_type,
            message: self.message,
        }
    }
}

/// The data of `answer`, or `None` with its refusal recorded in `errors` as `read`.
fn keep<T>(read: Read, answer: Answer<T>, errors: &mut Vec<ReadError>) -> Option<T> {
    answer
        .map_err(|refusal| errors.push(refusal.into_read_error(read)))
        .ok()
}
