//! Prometheus: read back a seeded history and the live head, and judge
//! whether they came through a disruption.
//!
//! A [`Snapshot`] records what the server answers for a [`History`]: the
//! blocks (from `/api/v1/status/tsdb/blocks` on v3.6+, else from the
//! `meta.json` files read through [`Exec`]), exact marker values at chosen
//! timestamps, how many marker samples are queryable, the head's time range,
//! one exact recent head sample and how many samples that head series holds
//! over a fixed window (both live only in the head and the WAL), the
//! `prometheus_tsdb_clean_start` gauge and the data dir's numeric owner.
//! A read Prometheus answers with a storage error (an unreadable chunk or
//! index) is recorded as a [`ReadError`], not returned as an error: it is
//! evidence about the data (see `storage_error` for the rule).
//! [`compare`] turns a before/after pair into a [`Judgement`] that names the
//! part that was lost (`blocks`, `head/wal`, or both), tolerating
//! compaction: coverage and values must hold, block ULIDs are only reported.
//!
//! Works with the HTTP API of Prometheus 2.x and 3.x (range selectors are
//! closed in 2.x and left-open in 3.x; every range here is chosen so both
//! give the same answer).

mod logs;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

pub use logs::{classify_log, unclean_stop_logged};

use crate::error::{Error, Result, tail};
use crate::exec::Exec;
use crate::probe::{Judgement, Verdict};
use crate::seed::prometheus::{History, escape_label_value, is_ulid};
use crate::wait::{self, Check};

/// The data dir of the prom/prometheus image (and of the stand-in).
pub const DEFAULT_DATA_DIR: &str = "/prometheus";
/// The head series a snapshot takes its exact head sample from: written by
/// every scrape of Prometheus's own target (job `prometheus` in the default
/// configuration of both images), and a float that differs per scrape, so
/// an exact (timestamp, value) pair cannot be reproduced by chance.
pub const DEFAULT_HEAD_SERIES: &str = r#"scrape_duration_seconds{job="prometheus"}"#;
/// How long `/-/ready` may take after a disruption before the recovery
/// counts as failed (WAL replay of a small test TSDB takes seconds).
pub const READY_TIMEOUT: Duration = Duration::from_secs(120);
/// How long a first snapshot waits for a head sample: one scrape interval
/// (15 s by default) plus slack.
pub const HEAD_SAMPLE_TIMEOUT: Duration = Duration::from_secs(60);
/// Timeout of a single HTTP request.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);
/// How often readiness is polled: fine enough for recovery times in tenths.
const READY_POLL: Duration = Duration::from_millis(250);
/// How often the first snapshot asks for a head sample: Prometheus has no
/// way to announce a scrape, so this is a poll; a fifth of a second keeps
/// the harness's share of the wait small (one local instant query each).
const HEAD_SAMPLE_POLL: Duration = Duration::from_millis(200);
/// How far back the newest head sample is looked for.
const HEAD_LOOKBACK: &str = "2m";
/// How far back the first snapshot looks for the first sample of the head
/// series it counts: a head holds at most 1.5 times its 2 h block range
/// before compaction moves the older samples into a block.
const HEAD_COUNT_LOOKBACK: &str = "3h";
/// How much of an unexpected answer an error keeps.
const BODY_CHARS: usize = 500;

/// How a judgement marks a part the before snapshot could not check (a
/// seed that never took must not pass as "survived").
const MISSING_BEFORE: &str = "already missing before the disruption";

/// The part names a [`Verdict`] uses for Prometheus.
pub mod part {
    /// The seeded (backfilled) blocks.
    pub const BLOCKS: &str = "blocks";
    /// The live head, persisted only in the WAL (and `chunks_head`).
    pub const HEAD: &str = "head/wal";
}

/// Where a snapshot's block list came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum BlockSource {
    /// `GET /api/v1/status/tsdb/blocks` (Prometheus v3.6+): the blocks the TSDB has loaded.
    Api,
    /// The `<ulid>/meta.json` files in the data dir, read through [`Exec`].
    MetaJson,
}

/// One TSDB block, as `meta.json` describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BlockInfo {
    /// Block id.
    pub ulid: String,
    /// First timestamp (ms, inclusive).
    pub min_time: i64,
    /// End (ms, exclusive).
    pub max_time: i64,
    /// Samples in the block.
    pub num_samples: u64,
    /// Compaction level (1 = as written).
    pub level: u32,
    /// The level-1 blocks compaction merged into this one (itself when never compacted).
    pub sources: Vec<String>,
}

/// The marker's value at one checkpoint.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MarkerValue {
    /// Timestamp (ms).
    pub at_ms: i64,
    /// What the history says it is.
    pub expected: f64,
    /// What the server answered; `None` when it had no sample there.
    pub found: Option<f64>,
}

/// One exact raw sample of a head series.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HeadSample {
    /// The full label set, `__name__` included.
    pub labels: BTreeMap<String, String>,
    /// Timestamp (ms).
    pub at_ms: i64,
    /// The value exactly as the API printed it.
    pub value: String,
}

/// The head block as `/api/v1/status/tsdb` describes it, plus one sample
/// and a sample count.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Head {
    /// Oldest timestamp in the head (ms); `None` for an empty head.
    pub min_time: Option<i64>,
    /// Newest timestamp in the head (ms); `None` for an empty head.
    pub max_time: Option<i64>,
    /// Series in the head.
    pub num_series: u64,
    /// The exact head sample: the newest one when the snapshot was first
    /// taken, the same timestamp looked up again afterwards (`None` when
    /// the server no longer has it).
    pub sample: Option<HeadSample>,
    /// How many samples the exact sample's series has over the window the
    /// first snapshot saw, counted again afterwards over the same window.
    /// One sample only proves the newest write came back; the count proves
    /// everything before it did too.
    pub count: Option<HeadCount>,
}

/// How many samples one head series holds over a fixed, closed window
/// `[from_ms, to_ms]`.
///
/// The first snapshot chooses the window: `from_ms` is the first sample of
/// the series it finds (looking back at most 3 h, as long as a head holds
/// samples), `to_ms` the timestamp of its exact head sample, the series'
/// newest sample when the snapshot was taken, so scrapes appended after the
/// snapshot never count. The snapshot after the disruption counts the same
/// absolute window again. (Not the head's `minTime` from
/// `/api/v1/status/tsdb`: 2.42 reports the newest block's end there after a
/// restart, hours before the head's first sample.)
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HeadCount {
    /// The series counted: the full label set of [`Head::sample`].
    pub labels: BTreeMap<String, String>,
    /// First timestamp of the window (ms, inclusive).
    pub from_ms: i64,
    /// Last timestamp of the window (ms, inclusive).
    pub to_ms: i64,
    /// Samples of the series in the window; `None` when Prometheus answered
    /// the count with a storage error (see [`Snapshot::read_errors`]).
    pub samples: Option<u64>,
}

impl HeadCount {
    /// The PromQL counting the window's samples, evaluated at `to_ms`.
    ///
    /// The range is `to - from + 1` ms: Prometheus 3 (left-open ranges)
    /// counts `(from - 1, to]`, which is `[from, to]` in whole milliseconds;
    /// Prometheus 2 (closed ranges) counts `[from - 1, to]`. They differ
    /// only for a sample exactly 1 ms before the first one the snapshot
    /// found, which a scraped series does not have (scrapes are seconds
    /// apart); and before and after are counted by the same server, so even
    /// then the two counts agree.
    pub fn query(&self) -> String {
        format!(
            "count_over_time({}[{}ms])",
            series_selector(&self.labels),
            self.to_ms - self.from_ms + 1
        )
    }

    /// The window in words: `[from, to] ms (span)`.
    fn window(&self) -> String {
        format!(
            "[{}, {}] ms ({})",
            self.from_ms,
            self.to_ms,
            show_span(self.to_ms - self.from_ms)
        )
    }
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
    /// The part ([`part`]) whose data the read returns.
    pub fn part(self) -> &'static str {
        match self {
            Self::MarkerCount | Self::MarkerValue { .. } => part::BLOCKS,
            Self::HeadSample | Self::HeadCount => part::HEAD,
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
    pub query: String,
    /// Its evaluation time (ms); `None` for "now".
    pub at_ms: Option<i64>,
    /// The HTTP status of the answer (422 or 500).
    pub status: u16,
    /// The API's `errorType` (`execution` or `internal`).
    pub error_type: String,
    /// The API's `error`, as Prometheus wrote it.
    pub message: String,
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
    pub taken_at_ms: i64,
    /// Where [`Snapshot::blocks`] came from.
    pub block_source: BlockSource,
    /// Every block in the TSDB, seeded or not.
    pub blocks: Vec<BlockInfo>,
    /// How many marker samples are queryable (`None`: none at all).
    pub marker_count: Option<u64>,
    /// The marker at [`History::checkpoints`].
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

/// Reads a Prometheus server: HTTP for the API, an [`Exec`] into its
/// container for the data dir.
pub struct PrometheusProbe<'a> {
    base: String,
    exec: &'a dyn Exec,
    data_dir: String,
    head_series: String,
    http: reqwest::Client,
}

impl std::fmt::Debug for PrometheusProbe<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PrometheusProbe")
            .field("base", &self.base)
            .field("exec", &self.exec.target())
            .field("data_dir", &self.data_dir)
            .field("head_series", &self.head_series)
            .finish_non_exhaustive()
    }
}

impl<'a> PrometheusProbe<'a> {
    /// A probe for the server at `base_url` (`http://host:port`, or just
    /// `host:port`; HTTP only: the harness reaches Prometheus through a
    /// published or port-forwarded port), reading its data dir through `exec`.
    pub fn new(base_url: impl Into<String>, exec: &'a dyn Exec) -> Self {
        let base = base_url.into();
        let base = base.trim_end_matches('/');
        let base = if base.contains("://") {
            base.to_owned()
        } else {
            format!("http://{base}")
        };
        Self {
            base,
            exec,
            data_dir: DEFAULT_DATA_DIR.into(),
            head_series: DEFAULT_HEAD_SERIES.into(),
            http: reqwest::Client::builder()
                .timeout(REQUEST_TIMEOUT)
                .build()
                .unwrap_or_else(|_| reqwest::Client::new()),
        }
    }

    /// Use `dir` as the data dir (the `--storage.tsdb.path`), default [`DEFAULT_DATA_DIR`].
    #[must_use]
    pub fn with_data_dir(mut self, dir: impl Into<String>) -> Self {
        self.data_dir = dir.into().trim_end_matches('/').to_owned();
        self
    }

    /// Take the head sample from `selector` instead of [`DEFAULT_HEAD_SERIES`]
    /// (for a configuration whose self-scrape job has another name).
    #[must_use]
    pub fn with_head_series(mut self, selector: impl Into<String>) -> Self {
        self.head_series = selector.into();
        self
    }

    /// The base URL requests go to.
    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// The exec into the server's container.
    pub fn exec(&self) -> &'a dyn Exec {
        self.exec
    }

    /// The data dir inside the container.
    pub fn data_dir(&self) -> &str {
        &self.data_dir
    }

    /// Wait until `/-/ready` answers 200 (the TSDB is open and the WAL
    /// replayed), for at most [`READY_TIMEOUT`], and return the time since
    /// `since` (the moment of the disruption): the recovery time.
    ///
    /// # Errors
    /// [`Error::Timeout`] with the last status or connection error seen.
    pub async fn wait_ready(&self, since: Instant) -> Result<Duration> {
        self.wait_ready_within(since, READY_TIMEOUT).await
    }

    /// [`PrometheusProbe::wait_ready`] with a caller-chosen timeout.
    ///
    /// # Errors
    /// As [`PrometheusProbe::wait_ready`].
    pub async fn wait_ready_within(&self, since: Instant, timeout: Duration) -> Result<Duration> {
        let url = format!("{}/-/ready", self.base);
        wait::poll(
            &format!("{url} to answer 200"),
            timeout,
            READY_POLL,
            || async {
                match self.http.get(&url).send().await {
                    Ok(r) if r.status().is_success() => Check::Ready(()),
                    Ok(r) => {
                        let status = r.status().as_u16();
                        let body = r.text().await.unwrap_or_default();
                        Check::NotYet(format!("HTTP {status}: {}", tail(&body, 200)))
                    }
                    Err(e) => Check::NotYet(error_chain(&e)),
                }
            },
        )
        .await?;
        Ok(since.elapsed())
    }

    /// Wait up to [`HEAD_SAMPLE_TIMEOUT`] for the checked series' newest
    /// head sample (a fresh server has none before its first self-scrape):
    /// the part of a first snapshot that waits on Prometheus, so a caller
    /// can time it apart from the reads.
    ///
    /// # Errors
    /// [`Error::Timeout`] with what the last query answered.
    pub async fn await_head_sample(&self) -> Result<HeadSample> {
        wait::poll(
            &format!(
                "a head sample of {} (the first self-scrape)",
                self.head_series
            ),
            HEAD_SAMPLE_TIMEOUT,
            HEAD_SAMPLE_POLL,
            || async {
                match self.newest_head_sample().await {
                    Ok(Some(s)) => Check::Ready(s),
                    Ok(None) => Check::NotYet("no sample yet".into()),
                    Err(e) => Check::NotYet(e.to_string()),
                }
            },
        )
        .await
    }

    /// A first snapshot of `history` and the head: waits up to
    /// [`HEAD_SAMPLE_TIMEOUT`] for a head sample (a fresh server has none
    /// before its first self-scrape), records the newest one, and counts its
    /// series' samples from the series' first one up to it ([`HeadCount`]).
    ///
    /// # Errors
    /// [`Error::Timeout`] when no head sample appears; HTTP, parse and exec
    /// errors from the individual reads (not storage errors: those are
    /// recorded in [`Snapshot::read_errors`]).
    pub async fn snapshot(&self, history: &History) -> Result<Snapshot> {
        let sample = self.await_head_sample().await?;
        self.snapshot_from(history, sample).await
    }

    /// [`Self::snapshot`] with the head sample [`Self::await_head_sample`]
    /// already returned, for a caller that timed that wait apart.
    ///
    /// # Errors
    /// As [`Self::snapshot`], less the wait.
    pub async fn snapshot_from(&self, history: &History, sample: HeadSample) -> Result<Snapshot> {
        let mut snapshot = self.read_history(history).await?;
        let count = self.first_count(&sample, &mut snapshot.read_errors).await?;
        snapshot.head.count = Some(count);
        snapshot.head.sample = Some(sample);
        Ok(snapshot)
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
    /// storage error: they are what [`compare`] judges).
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
    async fn count_head(
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

    /// How many samples the instant `query` (a `count_over_time`) counts at
    /// `at_ms`: 0 when it answers an empty vector (no samples at all).
    async fn count(&self, query: &str, at_ms: i64) -> Result<Answer<u64>> {
        let answer = self.instant(query, Some(at_ms)).await?;
        Ok(answer.map(|found| found.first().map_or(0, InstantSample::as_count)))
    }

    /// The marker's value at exactly `at_ms` (`None` when the server has no
    /// sample there). Uses a 1 ms range selector ending at `at_ms` so the
    /// default 5 m lookback cannot return an older sample instead.
    ///
    /// # Errors
    /// HTTP and parse errors, a storage error included.
    pub async fn marker_value(&self, history: &History, at_ms: i64) -> Result<Option<f64>> {
        self.read_marker(history, at_ms)
            .await?
            .map_err(Refusal::into_error)
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

    /// The blocks the server has: from `/api/v1/status/tsdb/blocks` when it
    /// exists (v3.6+), else from the `meta.json` files in the data dir.
    ///
    /// # Errors
    /// HTTP errors other than the endpoint's 404, exec errors, and
    /// [`Error::Parse`] for a `meta.json` that is not valid (a finding in
    /// itself: Prometheus will not open such a block).
    pub async fn blocks(&self) -> Result<(BlockSource, Vec<BlockInfo>)> {
        match self
            .api::<BlocksData>("/api/v1/status/tsdb/blocks", &[])
            .await
        {
            Ok(data) => Ok((BlockSource::Api, to_infos(data.blocks))),
            Err(Error::HttpStatus { status: 404, .. }) => {
                Ok((BlockSource::MetaJson, self.blocks_from_meta_json().await?))
            }
            Err(e) => Err(e),
        }
    }

    /// The blocks described by `<data dir>/<ulid>/meta.json`, read through the exec.
    ///
    /// # Errors
    /// Exec errors, and [`Error::Parse`] naming an invalid `meta.json`.
    pub async fn blocks_from_meta_json(&self) -> Result<Vec<BlockInfo>> {
        let out = self
            .exec
            .exec_ok(
                &[
                    "sh",
                    "-c",
                    // A block compaction deletes may vanish between the glob and
                    // the read: print only what could be read whole.
                    r#"for f in "$1"/*/meta.json; do m=$(cat "$f" 2>/dev/null) && printf '@@e2e-meta %s\n%s\n' "$f" "$m"; done; true"#,
                    "sh",
                    &self.data_dir,
                ],
                None,
            )
            .await?;
        parse_meta_listing(&out.stdout)
    }

    /// The head's time range and series count (`/api/v1/status/tsdb`); the
    /// returned [`Head::sample`] and [`Head::count`] are `None`.
    ///
    /// # Errors
    /// HTTP and parse errors.
    pub async fn head(&self) -> Result<Head> {
        let data: TsdbStatus = self.api("/api/v1/status/tsdb", &[]).await?;
        let h = data.head_stats;
        let empty = h.min_time > h.max_time;
        Ok(Head {
            min_time: (!empty).then_some(h.min_time),
            max_time: (!empty).then_some(h.max_time),
            num_series: h.num_series,
            sample: None,
            count: None,
        })
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
    pub async fn data_dir_owner(&self) -> Result<String> {
        let out = self
            .exec
            .exec_ok(&["stat", "-c", "%u:%g", &self.data_dir], None)
            .await?;
        Ok(out.stdout.trim().to_owned())
    }

    async fn newest_head_sample(&self) -> Result<Option<HeadSample>> {
        let series = self
            .range(&format!("{}[{HEAD_LOOKBACK}]", self.head_series), None)
            .await?
            .map_err(Refusal::into_error)?;
        Ok(series
            .into_iter()
            .flat_map(|s| {
                let labels = s.metric;
                s.values.into_iter().map(move |(t, v)| HeadSample {
                    labels: labels.clone(),
                    at_ms: seconds_to_ms(t),
                    value: v,
                })
            })
            .max_by_key(|s| s.at_ms))
    }

    /// The sample of `like`'s exact series at `like`'s timestamp, if any.
    async fn head_sample_like(&self, like: &HeadSample) -> Result<Answer<Option<HeadSample>>> {
        let query = format!("{}[1s]", series_selector(&like.labels));
        let answer = self.range(&query, Some(like.at_ms)).await?;
        Ok(answer.map(|series| {
            series.into_iter().find_map(|s| {
                let labels = s.metric;
                s.values
                    .into_iter()
                    .find(|(t, _)| seconds_to_ms(*t) == like.at_ms)
                    .map(|(t, v)| HeadSample {
                        labels,
                        at_ms: seconds_to_ms(t),
                        value: v,
                    })
            })
        }))
    }

    async fn instant(&self, query: &str, at_ms: Option<i64>) -> Result<Answer<Vec<InstantSample>>> {
        let data = match self.query(query, at_ms).await? {
            Ok(data) => data,
            Err(refusal) => return Ok(Err(refusal)),
        };
        match data.result_type.as_str() {
            "vector" => Ok(Ok(parse_json(&format!("result of {query}"), data.result)?)),
            other => Err(Error::parse(
                format!("result of {query}"),
                format!("expected a vector, got {other}"),
            )),
        }
    }

    async fn range(&self, query: &str, at_ms: Option<i64>) -> Result<Answer<Vec<RangeSeries>>> {
        let data = match self.query(query, at_ms).await? {
            Ok(data) => data,
            Err(refusal) => return Ok(Err(refusal)),
        };
        match data.result_type.as_str() {
            "matrix" => Ok(Ok(parse_json(&format!("result of {query}"), data.result)?)),
            other => Err(Error::parse(
                format!("result of {query}"),
                format!("expected a matrix, got {other}"),
            )),
        }
    }

    /// Run `query` (at `at_ms`, else now). A storage error is an answer
    /// (`storage_error`); any other failure is an [`Error`].
    async fn query(&self, query: &str, at_ms: Option<i64>) -> Result<Answer<QueryData>> {
        let time = at_ms.map(ms_to_seconds);
        let mut params = vec![("query", query)];
        if let Some(t) = &time {
            params.push(("time", t.as_str()));
        }
        let (url, status, body) = self.send("/api/v1/query", &params).await?;
        if let Some((error_type, message)) = storage_error(status, &body) {
            return Ok(Err(Refusal {
                url,
                sent: describe(&params),
                query: query.to_owned(),
                at_ms,
                status,
                error_type,
                message,
            }));
        }
        let body = success(&url, &params, status, body)?;
        Ok(Ok(envelope_data(&url, &params, &body)?))
    }

    /// GET an `/api/v1` path and return its `data` when `status` is `success`.
    async fn api<T: DeserializeOwned>(&self, path: &str, params: &[(&str, &str)]) -> Result<T> {
        let (url, status, body) = self.send(path, params).await?;
        let body = success(&url, params, status, body)?;
        envelope_data(&url, params, &body)
    }

    async fn get_text(&self, path: &str) -> Result<String> {
        let (url, status, body) = self.send(path, &[]).await?;
        success(&url, &[], status, body)
    }

    /// GET `path` with `params`; returns the URL (for errors), the status
    /// and the body of whatever answered.
    ///
    /// # Errors
    /// [`Error::Http`] when nothing answered (connection refused or reset,
    /// timeout).
    async fn send(&self, path: &str, params: &[(&str, &str)]) -> Result<(String, u16, String)> {
        let mut url = reqwest::Url::parse(&format!("{}{path}", self.base))
            .map_err(|e| Error::parse(format!("URL {}{path}", self.base), e.to_string()))?;
        if !params.is_empty() {
            url.query_pairs_mut().extend_pairs(params.iter().copied());
        }
        let shown = format!("{}{path}", self.base);
        let http_err = |source| Error::Http {
            method: "GET".into(),
            url: shown.clone(),
            source,
        };
        let resp = self.http.get(url).send().await.map_err(http_err)?;
        let status = resp.status().as_u16();
        let body = resp.text().await.map_err(http_err)?;
        Ok((shown, status, body))
    }
}

/// What a data read got: the data, or the storage error Prometheus answered
/// with. The outer `Result` of the reads is the harness's own failure.
type Answer<T> = std::result::Result<T, Refusal>;

/// A query Prometheus evaluated and answered with a storage error.
#[derive(Debug)]
struct Refusal {
    url: String,
    sent: String,
    query: String,
    at_ms: Option<i64>,
    status: u16,
    error_type: String,
    message: String,
}

impl Refusal {
    /// As an error, for callers that do not judge (the seed's wait).
    fn into_error(self) -> Error {
        Error::HttpStatus {
            method: "GET".into(),
            url: self.url,
            sent: self.sent,
            status: self.status,
            body: format!("{}: {}", self.error_type, self.message),
        }
    }

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

/// The API `errorType`s of a query Prometheus evaluated and could not
/// finish: `execution` (422, what 2.42 and 2.53 answer for an unreadable
/// chunk or index) and `internal` (500, its answer to an error the query
/// engine marks as a storage error).
const DATA_ERROR_TYPES: &[&str] = &["execution", "internal"];
/// Words with which the TSDB names what it could not read, as in `cannot
/// populate chunk 263 from block ...: segment doesn't include enough bytes`
/// or `expanding series: get series 4: block: 01M8...: invalid checksum`.
const STORAGE_WORDS: &[&str] = &[
    "chunk",
    "block",
    "index",
    "segment",
    "checksum",
    "corrupt",
    "mmap",
    "tombstone",
];

/// Whether an answer to a query is a storage error, evidence about the data
/// rather than a failure of the harness; its `errorType` and message when
/// it is.
///
/// The rule: Prometheus answered, the answer is the API's error envelope,
/// its `errorType` is `execution` (422) or `internal` (500) -- Prometheus
/// parsed and evaluated the query, and reading the data failed -- and its
/// message names the storage (a chunk, block, index, segment, checksum...).
/// Such a read becomes a [`ReadError`] that [`compare`] judges: a block or
/// head chunk that is there but cannot be read is lost, whatever its
/// metadata says.
///
/// Everything else stays an [`Error`] that ends the cell as a harness
/// failure, because it says nothing about the data: nothing answered
/// (connection refused or reset, a timeout: [`Error::Http`]); `bad_data`
/// (400: the harness sent a query Prometheus cannot parse); `timeout`,
/// `canceled` or `unavailable` (503: the server is busy or shutting down);
/// an execution error that names no storage (a query limit); an answer
/// that is not the API's JSON (a proxy's error page).
fn storage_error(status: u16, body: &str) -> Option<(String, String)> {
    if !matches!(status, 422 | 500) {
        return None;
    }
    let envelope: Envelope<serde_json::Value> = serde_json::from_str(body).ok()?;
    let error_type = envelope
        .error_type
        .filter(|t| DATA_ERROR_TYPES.contains(&t.as_str()))?;
    let message = envelope.error?;
    let lower = message.to_ascii_lowercase();
    (envelope.status == "error" && STORAGE_WORDS.iter().any(|w| lower.contains(w)))
        .then_some((error_type, message))
}

/// `body` when `status` is 2xx, else [`Error::HttpStatus`] with its end.
fn success(url: &str, params: &[(&str, &str)], status: u16, body: String) -> Result<String> {
    if (200..300).contains(&status) {
        Ok(body)
    } else {
        Err(Error::HttpStatus {
            method: "GET".into(),
            url: url.to_owned(),
            sent: describe(params),
            status,
            body: tail(&body, BODY_CHARS),
        })
    }
}

/// The `data` of an `/api/v1` answer whose `status` is `success`.
fn envelope_data<T: DeserializeOwned>(url: &str, params: &[(&str, &str)], body: &str) -> Result<T> {
    match parse_json_str::<Envelope<T>>(url, body)? {
        Envelope {
            status,
            data: Some(data),
            ..
        } if status == "success" => Ok(data),
        Envelope { error, .. } => Err(Error::HttpStatus {
            method: "GET".into(),
            url: url.to_owned(),
            sent: describe(params),
            status: 200,
            body: error.unwrap_or_else(|| tail(body, BODY_CHARS)),
        }),
    }
}

/// The selector of exactly the series with `labels` (`__name__` included).
fn series_selector(labels: &BTreeMap<String, String>) -> String {
    let matchers: Vec<String> = labels
        .iter()
        .map(|(k, v)| format!("{k}=\"{}\"", escape_label_value(v)))
        .collect();
    format!("{{{}}}", matchers.join(","))
}

/// Judge `after` against `before` and the seeded history.
///
/// - `blocks` is lost when the blocks no longer cover the seeded range, or
///   fewer marker samples are queryable than were seeded, or a checkpoint
///   has no value, or Prometheus answered a marker read with a storage
///   error (a block that is there but cannot be read; the error is the
///   evidence); changed when a checkpoint answers another value.
///   Compaction merging blocks is fine: ULID identity goes into the details
///   only (kept, merged into newer blocks by compaction, or gone).
/// - `head/wal` is lost when the exact head sample recorded before is gone,
///   or its series has fewer samples over the before snapshot's window than
///   it had (both counts are the evidence), or a head read answered a
///   storage error; changed when the sample answers another value or the
///   window holds more samples than before (the head never gains past
///   samples). Either is lost "already missing before the disruption" when
///   the before snapshot has no sample or no count to compare with.
///
/// `recovery` (from [`PrometheusProbe::wait_ready`]) is carried into the
/// judgement. The details also show clean_start, the data dir owner and the
/// head range before and after.
pub fn compare(before: &Snapshot, after: &Snapshot, recovery: Option<Duration>) -> Judgement {
    let mut f = Findings::default();
    judge_blocks(before, after, &mut f);
    f.details.push(ulid_identity(before, after));
    judge_head(before, after, &mut f);
    f.details.push(format!(
        "head range: before {}, after {}",
        show_head(&before.head),
        show_head(&after.head)
    ));
    f.details.push(format!(
        "prometheus_tsdb_clean_start: before {}, after {} (-1 no lock file, 0 previous lock file replaced = unclean stop, 1 clean)",
        show_opt(before.clean_start),
        show_opt(after.clean_start)
    ));
    let owner = if before.data_dir_owner == after.data_dir_owner {
        format!("data dir owner: {}", after.data_dir_owner)
    } else {
        format!(
            "data dir owner changed: {} -> {}",
            before.data_dir_owner, after.data_dir_owner
        )
    };
    f.details.push(owner);
    for e in &before.read_errors {
        f.details.push(format!(
            "{}: unreadable before the disruption: {e}",
            e.read.part()
        ));
    }
    f.into_judgement(recovery)
}

/// What the part checks of [`compare`] found.
#[derive(Debug, Default)]
struct Findings {
    lost: Vec<String>,
    changed: Vec<String>,
    details: Vec<String>,
}

impl Findings {
    /// Report `part` lost (once, whichever check found it first).
    fn lose(&mut self, part: String) {
        if !self.lost.contains(&part) {
            self.lost.push(part);
        }
    }

    fn into_judgement(self, recovery: Option<Duration>) -> Judgement {
        let verdict = if !self.lost.is_empty() {
            Verdict::Lost { parts: self.lost }
        } else if !self.changed.is_empty() {
            Verdict::Changed {
                parts: self.changed,
            }
        } else {
            Verdict::Survived
        };
        Judgement {
            verdict,
            details: self.details,
            recovery,
        }
    }
}

/// The blocks, judged against the history itself, so a before snapshot
/// that already missed data cannot hide a loss.
fn judge_blocks(before: &Snapshot, after: &Snapshot, f: &mut Findings) {
    let h = &before.history;
    let want = h.samples();
    // Blocks end 1 ms after their last sample, so neighbouring blocks leave
    // gaps shorter than a step: only gaps holding a sample time count.
    let gaps: Vec<(i64, i64)> = coverage_gaps(&after.blocks, h.start_ms(), h.last_ms() + 1)
        .into_iter()
        .filter(|(lo, hi)| {
            let first = h.start_ms()
                + (lo - h.start_ms() + h.step_ms() - 1).div_euclid(h.step_ms()) * h.step_ms();
            first < *hi
        })
        .collect();
    let unreadable: Vec<&ReadError> = after
        .read_errors
        .iter()
        .filter(|e| e.read.part() == part::BLOCKS)
        .collect();
    let count_unreadable = unreadable.iter().any(|e| e.read == Read::MarkerCount);
    let unread: BTreeSet<i64> = unreadable
        .iter()
        .filter_map(|e| match e.read {
            Read::MarkerValue { at_ms } => Some(at_ms),
            _ => None,
        })
        .collect();
    let missing: Vec<i64> = after
        .marker_values
        .iter()
        .filter(|m| m.found.is_none() && !unread.contains(&m.at_ms))
        .map(|m| m.at_ms)
        .collect();
    let wrong: Vec<&MarkerValue> = after
        .marker_values
        .iter()
        .filter(|m| m.found.is_some_and(|f| f != m.expected))
        .collect();
    let count = after.marker_count.unwrap_or(0);
    let counted = if count_unreadable {
        format!(
            "the count of seeded samples of {} is unreadable",
            h.selector()
        )
    } else {
        format!(
            "{count} of {want} seeded samples of {} queryable",
            h.selector()
        )
    };
    let checkpoints = after.marker_values.len();
    let mut answered = format!(
        "{} of {checkpoints} checkpoints answer the seeded value",
        checkpoints - missing.len() - wrong.len() - unread.len(),
    );
    if !unread.is_empty() {
        answered.push_str(&format!(" ({} unreadable)", unread.len()));
    }
    let metadata = if gaps.is_empty() {
        format!(
            "block metadata ({:?}) covers the seeded range",
            after.block_source
        )
    } else {
        format!(
            "block metadata ({:?}) misses {}",
            after.block_source,
            show_ranges(&gaps)
        )
    };
    f.details
        .push(format!("blocks: {counted}; {answered}; {metadata}"));
    if before.marker_count != Some(want) {
        f.details.push(format!(
            "blocks: before the disruption only {} of {want} samples were queryable (seed incomplete)",
            before.marker_count.unwrap_or(0)
        ));
    }
    for e in &unreadable {
        f.details.push(format!("{}: unreadable: {e}", part::BLOCKS));
    }
    if !gaps.is_empty() || !unreadable.is_empty() || count != want || !missing.is_empty() {
        f.lose(part::BLOCKS.to_owned());
    } else if !wrong.is_empty() {
        f.changed.push(format!(
            "{}: {}",
            part::BLOCKS,
            wrong
                .iter()
                .map(|m| format!(
                    "at {} {} -> {}",
                    m.at_ms,
                    m.expected,
                    m.found.unwrap_or(f64::NAN)
                ))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
}

/// The head: its exact sample, then its sample count over the window.
fn judge_head(before: &Snapshot, after: &Snapshot, f: &mut Findings) {
    let Some(b) = &before.head.sample else {
        // A seed that never took must not pass as "survived".
        f.lose(format!("{} ({MISSING_BEFORE})", part::HEAD));
        f.details
            .push("head/wal: no head sample was recorded before the disruption".into());
        return;
    };
    let sample_unreadable = after.read_errors.iter().any(|e| e.read == Read::HeadSample);
    match &after.head.sample {
        Some(a) if a.value == b.value => f.details.push(format!(
            "head/wal: sample {} @{} = {} still there",
            show_labels(&b.labels),
            b.at_ms,
            b.value
        )),
        Some(a) => f.changed.push(format!(
            "{}: sample {} @{} {} -> {}",
            part::HEAD,
            show_labels(&b.labels),
            b.at_ms,
            b.value,
            a.value
        )),
        None => {
            f.lose(part::HEAD.to_owned());
            if !sample_unreadable {
                f.details.push(format!(
                    "head/wal: sample {} @{} = {} is gone",
                    show_labels(&b.labels),
                    b.at_ms,
                    b.value
                ));
            }
        }
    }
    judge_head_count(before, after, f);
    for e in after
        .read_errors
        .iter()
        .filter(|e| e.read.part() == part::HEAD)
    {
        f.details.push(format!("{}: unreadable: {e}", part::HEAD));
    }
}

/// The head series' samples over the before window: fewer after is a loss
/// of part of the head the exact sample cannot see (a WAL segment replayed
/// around, a torn segment), more is a change.
fn judge_head_count(before: &Snapshot, after: &Snapshot, f: &mut Findings) {
    let Some((b, had)) = before
        .head
        .count
        .as_ref()
        .and_then(|c| c.samples.map(|n| (c, n)))
    else {
        f.lose(format!("{} ({MISSING_BEFORE})", part::HEAD));
        f.details
            .push("head/wal: no sample count was recorded before the disruption".into());
        return;
    };
    let series = show_labels(&b.labels);
    let window = b.window();
    let had_samples = show_samples(had);
    let has = after
        .head
        .count
        .as_ref()
        .filter(|a| (a.from_ms, a.to_ms) == (b.from_ms, b.to_ms))
        .and_then(|a| a.samples);
    match has {
        Some(n) if n == had => f.details.push(format!(
            "head/wal: {series}: {had_samples} before and after over {window}"
        )),
        Some(n) if n > had => f.changed.push(format!(
            "{}: {series}: {had_samples} before, {n} after over {window}",
            part::HEAD
        )),
        Some(n) => {
            f.lose(part::HEAD.to_owned());
            f.details.push(format!(
                "head/wal: {series}: {had_samples} before, {n} after over {window}"
            ));
        }
        None => {
            f.lose(part::HEAD.to_owned());
            f.details.push(format!(
                "head/wal: {series}: {had_samples} before, none countable after over {window}"
            ));
        }
    }
}

/// The parts of `[start, end)` no block covers.
fn coverage_gaps(blocks: &[BlockInfo], start: i64, end: i64) -> Vec<(i64, i64)> {
    let mut spans: Vec<(i64, i64)> = blocks
        .iter()
        .filter(|b| b.max_time > start && b.min_time < end)
        .map(|b| (b.min_time, b.max_time))
        .collect();
    spans.sort_unstable();
    let mut gaps = Vec::new();
    let mut covered_to = start;
    for (lo, hi) in spans {
        if lo > covered_to {
            gaps.push((covered_to, lo.min(end)));
        }
        covered_to = covered_to.max(hi);
        if covered_to >= end {
            break;
        }
    }
    if covered_to < end {
        gaps.push((covered_to, end));
    }
    gaps
}

/// Which of the seeded-range blocks seen before are still there, merged
/// into newer blocks by compaction (all their sources inside one block
/// after), or gone.
fn ulid_identity(before: &Snapshot, after: &Snapshot) -> String {
    let h = &before.history;
    let seeded = |b: &&BlockInfo| b.max_time > h.start_ms() && b.min_time < h.end_ms();
    let after_ids: BTreeSet<&str> = after.blocks.iter().map(|b| b.ulid.as_str()).collect();
    let (mut kept, mut merged, mut gone) = (0, 0, Vec::new());
    let before_blocks: Vec<&BlockInfo> = before.blocks.iter().filter(seeded).collect();
    for b in &before_blocks {
        if after_ids.contains(b.ulid.as_str()) {
            kept += 1;
        } else if !b.sources.is_empty()
            && after
                .blocks
                .iter()
                .any(|a| b.sources.iter().all(|s| a.sources.contains(s)))
        {
            merged += 1;
        } else {
            gone.push(b.ulid.as_str());
        }
    }
    let after_count = after.blocks.iter().filter(seeded).count();
    let mut line = format!(
        "block ULIDs in the seeded range: {} before, {after_count} after; {kept} kept, {merged} merged by compaction, {} gone",
        before_blocks.len(),
        gone.len()
    );
    if !gone.is_empty() {
        line.push_str(&format!(" ({})", gone.join(", ")));
    }
    line
}

fn show_ranges(ranges: &[(i64, i64)]) -> String {
    ranges
        .iter()
        .map(|(a, b)| format!("[{a}, {b}) ms ({:.1}h)", (b - a) as f64 / 3_600_000.0))
        .collect::<Vec<_>>()
        .join(", ")
}

fn show_labels(labels: &BTreeMap<String, String>) -> String {
    let name = labels.get("__name__").map_or("", String::as_str);
    let rest: Vec<String> = labels
        .iter()
        .filter(|(k, _)| k.as_str() != "__name__")
        .map(|(k, v)| format!("{k}=\"{v}\""))
        .collect();
    format!("{name}{{{}}}", rest.join(","))
}

fn show_head(head: &Head) -> String {
    match (head.min_time, head.max_time) {
        (Some(a), Some(b)) => format!("[{a}, {b}] ms, {} series", head.num_series),
        _ => "empty".into(),
    }
}

/// `1 sample`, `41 samples`.
fn show_samples(n: u64) -> String {
    if n == 1 {
        "1 sample".into()
    } else {
        format!("{n} samples")
    }
}

/// A duration in ms as `90 s`, `12.5 min` or `3.2 h`.
fn show_span(ms: i64) -> String {
    let s = ms as f64 / 1000.0;
    if s < 120.0 {
        format!("{s:.0} s")
    } else if s < 7200.0 {
        format!("{:.1} min", s / 60.0)
    } else {
        format!("{:.1} h", s / 3600.0)
    }
}

fn show_opt(v: Option<i64>) -> String {
    v.map_or_else(|| "absent".into(), |v| v.to_string())
}

fn describe(params: &[(&str, &str)]) -> String {
    if params.is_empty() {
        "no parameters".into()
    } else {
        params
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// A reqwest error with its causes (connection refused, reset...).
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(s) = cur {
        out.push_str(": ");
        out.push_str(&s.to_string());
        cur = s.source();
    }
    out
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// API timestamps are float seconds with millisecond precision.
fn seconds_to_ms(s: f64) -> i64 {
    (s * 1000.0).round() as i64
}

fn ms_to_seconds(ms: i64) -> String {
    format!("{}.{:03}", ms.div_euclid(1000), ms.rem_euclid(1000))
}

fn parse_json<T: DeserializeOwned>(what: &str, v: serde_json::Value) -> Result<T> {
    serde_json::from_value(v).map_err(|e| Error::parse(what, e.to_string()))
}

fn parse_json_str<T: DeserializeOwned>(what: &str, body: &str) -> Result<T> {
    serde_json::from_str(body)
        .map_err(|e| Error::parse(what, format!("{e}; answer: {}", tail(body, BODY_CHARS))))
}

/// Split the output of the meta.json listing script into blocks; entries
/// whose directory is not a ULID (scratch dirs, `*.tmp-for-*`) are skipped.
fn parse_meta_listing(out: &str) -> Result<Vec<BlockInfo>> {
    let mut chunks: Vec<(&str, String)> = Vec::new();
    for line in out.lines() {
        if let Some(path) = line.strip_prefix("@@e2e-meta ") {
            chunks.push((path.trim(), String::new()));
        } else if let Some((_, text)) = chunks.last_mut() {
            text.push_str(line);
            text.push('\n');
        }
    }
    let mut metas = Vec::new();
    for (path, text) in chunks {
        let dir = path
            .trim_end_matches("/meta.json")
            .rsplit('/')
            .next()
            .unwrap_or_default();
        if !is_ulid(dir) {
            continue;
        }
        let meta: BlockMeta = serde_json::from_str(&text).map_err(|e| {
            Error::parse(
                path.to_owned(),
                format!("{e}; content: {}", tail(&text, 300)),
            )
        })?;
        metas.push(meta);
    }
    Ok(to_infos(metas))
}

fn to_infos(metas: Vec<BlockMeta>) -> Vec<BlockInfo> {
    let mut blocks: Vec<BlockInfo> = metas
        .into_iter()
        .map(|m| BlockInfo {
            sources: if m.compaction.sources.is_empty() {
                vec![m.ulid.clone()]
            } else {
                m.compaction.sources
            },
            ulid: m.ulid,
            min_time: m.min_time,
            max_time: m.max_time,
            num_samples: m.stats.num_samples,
            level: m.compaction.level,
        })
        .collect();
    blocks.sort_by(|a, b| (a.min_time, &a.ulid).cmp(&(b.min_time, &b.ulid)));
    blocks
}

/// The `/api/v1` answer envelope.
#[derive(Debug, Deserialize)]
struct Envelope<T> {
    status: String,
    data: Option<T>,
    #[serde(rename = "errorType")]
    error_type: Option<String>,
    error: Option<String>,
}

#[derive(Debug, Deserialize)]
struct QueryData {
    #[serde(rename = "resultType")]
    result_type: String,
    result: serde_json::Value,
}

#[derive(Debug, Deserialize)]
struct InstantSample {
    value: (f64, String),
}

impl InstantSample {
    /// The value of a `count_over_time` result.
    fn as_count(&self) -> u64 {
        self.value.1.parse::<f64>().unwrap_or(0.0) as u64
    }
}

#[derive(Debug, Deserialize)]
struct RangeSeries {
    metric: BTreeMap<String, String>,
    values: Vec<(f64, String)>,
}

#[derive(Debug, Deserialize)]
struct TsdbStatus {
    #[serde(rename = "headStats")]
    head_stats: HeadStats,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct HeadStats {
    #[serde(default)]
    num_series: u64,
    min_time: i64,
    max_time: i64,
}

#[derive(Debug, Deserialize)]
struct BlocksData {
    blocks: Vec<BlockMeta>,
}

/// `meta.json` (tsdb/block.go); stats and compaction are `omitempty`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct BlockMeta {
    ulid: String,
    min_time: i64,
    max_time: i64,
    #[serde(default)]
    stats: BlockStats,
    #[serde(default)]
    compaction: Compaction,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct BlockStats {
    #[serde(default)]
    num_samples: u64,
}

#[derive(Debug, Default, Deserialize)]
struct Compaction {
    #[serde(default)]
    level: u32,
    #[serde(default)]
    sources: Vec<String>,
}

#[cfg(test)]
mod tests;
