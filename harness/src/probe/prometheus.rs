//! Prometheus: read back a seeded history and the live head, and judge
//! whether they came through a disruption.
//!
//! A [`Snapshot`] records what the server answers for a [`History`]: the
//! blocks (from `/api/v1/status/tsdb/blocks` on v3.6+, else from the
//! `meta.json` files read through [`Exec`]), exact marker values at chosen
//! timestamps, how many marker samples are queryable, the head's time range
//! and one exact recent head sample (which lives only in the head and the
//! WAL), the `prometheus_tsdb_clean_start` gauge and the data dir's numeric
//! owner. [`compare`] turns a before/after pair into a [`Judgement`] that
//! names the part that was lost (`blocks`, `head/wal`, or both), tolerating
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
/// How often the first snapshot asks for a head sample.
const HEAD_SAMPLE_POLL: Duration = Duration::from_secs(1);
/// How far back the newest head sample is looked for.
const HEAD_LOOKBACK: &str = "2m";
/// How much of an unexpected answer an error keeps.
const BODY_CHARS: usize = 500;

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

/// The head block as `/api/v1/status/tsdb` describes it, plus one sample.
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

    /// A first snapshot of `history` and the head: waits up to
    /// [`HEAD_SAMPLE_TIMEOUT`] for a head sample (a fresh server has none
    /// before its first self-scrape) and records the newest one.
    ///
    /// # Errors
    /// [`Error::Timeout`] when no head sample appears; HTTP, parse and exec
    /// errors from the individual reads.
    pub async fn snapshot(&self, history: &History) -> Result<Snapshot> {
        let sample = wait::poll(
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
        .await?;
        self.snapshot_with(history, Some(sample)).await
    }

    /// A snapshot taken after a disruption, reading the same things as
    /// `before`: its history, and its head sample looked up again at the
    /// same timestamp.
    ///
    /// # Errors
    /// HTTP, parse and exec errors from the individual reads (a missing
    /// sample is not an error: it is what [`compare`] judges).
    pub async fn snapshot_after(&self, before: &Snapshot) -> Result<Snapshot> {
        let sample = match &before.head.sample {
            Some(s) => self.head_sample_like(s).await?,
            None => None,
        };
        self.snapshot_with(&before.history, sample).await
    }

    async fn snapshot_with(
        &self,
        history: &History,
        sample: Option<HeadSample>,
    ) -> Result<Snapshot> {
        let (block_source, blocks) = self.blocks().await?;
        let marker_count = self.marker_count(history).await?;
        let mut marker_values = Vec::new();
        for at_ms in history.checkpoints() {
            marker_values.push(MarkerValue {
                at_ms,
                expected: history.value_at(at_ms).unwrap_or(f64::NAN),
                found: self.marker_value(history, at_ms).await?,
            });
        }
        let mut head = self.head().await?;
        head.sample = sample;
        Ok(Snapshot {
            history: history.clone(),
            taken_at_ms: now_ms(),
            block_source,
            blocks,
            marker_count,
            marker_values,
            head,
            clean_start: self.clean_start().await?,
            data_dir_owner: self.data_dir_owner().await?,
        })
    }

    /// How many marker samples of `history` the server can return
    /// (`None` when it has none at all).
    ///
    /// # Errors
    /// HTTP and parse errors.
    pub async fn marker_count(&self, history: &History) -> Result<Option<u64>> {
        let found = self
            .instant(&history.count_query(), Some(history.last_ms()))
            .await?;
        Ok(found
            .first()
            .map(|s| s.value.1.parse::<f64>().unwrap_or(0.0) as u64))
    }

    /// The marker's value at exactly `at_ms` (`None` when the server has no
    /// sample there). Uses a 1 ms range selector ending at `at_ms` so the
    /// default 5 m lookback cannot return an older sample instead.
    ///
    /// # Errors
    /// HTTP and parse errors.
    pub async fn marker_value(&self, history: &History, at_ms: i64) -> Result<Option<f64>> {
        let series = self
            .range(&format!("{}[1ms]", history.selector()), Some(at_ms))
            .await?;
        Ok(series
            .iter()
            .flat_map(|s| s.values.iter())
            .find(|(t, _)| seconds_to_ms(*t) == at_ms)
            .and_then(|(_, v)| v.parse().ok()))
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
    /// returned [`Head::sample`] is `None`.
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
            .await?;
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
    async fn head_sample_like(&self, like: &HeadSample) -> Result<Option<HeadSample>> {
        let matchers: Vec<String> = like
            .labels
            .iter()
            .map(|(k, v)| format!("{k}=\"{}\"", escape_label_value(v)))
            .collect();
        let query = format!("{{{}}}[1s]", matchers.join(","));
        let series = self.range(&query, Some(like.at_ms)).await?;
        Ok(series.into_iter().find_map(|s| {
            let labels = s.metric;
            s.values
                .into_iter()
                .find(|(t, _)| seconds_to_ms(*t) == like.at_ms)
                .map(|(t, v)| HeadSample {
                    labels,
                    at_ms: seconds_to_ms(t),
                    value: v,
                })
        }))
    }

    async fn instant(&self, query: &str, at_ms: Option<i64>) -> Result<Vec<InstantSample>> {
        let data = self.query(query, at_ms).await?;
        match data.result_type.as_str() {
            "vector" => parse_json(&format!("result of {query}"), data.result),
            other => Err(Error::parse(
                format!("result of {query}"),
                format!("expected a vector, got {other}"),
            )),
        }
    }

    async fn range(&self, query: &str, at_ms: Option<i64>) -> Result<Vec<RangeSeries>> {
        let data = self.query(query, at_ms).await?;
        match data.result_type.as_str() {
            "matrix" => parse_json(&format!("result of {query}"), data.result),
            other => Err(Error::parse(
                format!("result of {query}"),
                format!("expected a matrix, got {other}"),
            )),
        }
    }

    async fn query(&self, query: &str, at_ms: Option<i64>) -> Result<QueryData> {
        let time = at_ms.map(ms_to_seconds);
        let mut params = vec![("query", query)];
        if let Some(t) = &time {
            params.push(("time", t.as_str()));
        }
        self.api("/api/v1/query", &params).await
    }

    /// GET an `/api/v1` path and return its `data` when `status` is `success`.
    async fn api<T: DeserializeOwned>(&self, path: &str, params: &[(&str, &str)]) -> Result<T> {
        let (url, body) = self.get(path, params).await?;
        let envelope: Envelope<T> = parse_json_str(&url, &body)?;
        match envelope {
            Envelope {
                status,
                data: Some(data),
                ..
            } if status == "success" => Ok(data),
            Envelope { error, .. } => Err(Error::HttpStatus {
                method: "GET".into(),
                url,
                sent: describe(params),
                status: 200,
                body: error.unwrap_or_else(|| tail(&body, BODY_CHARS)),
            }),
        }
    }

    async fn get_text(&self, path: &str) -> Result<String> {
        Ok(self.get(path, &[]).await?.1)
    }

    /// GET `path` with `params`; returns the URL (for errors) and the body of a 2xx answer.
    async fn get(&self, path: &str, params: &[(&str, &str)]) -> Result<(String, String)> {
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
        if (200..300).contains(&status) {
            Ok((shown, body))
        } else {
            Err(Error::HttpStatus {
                method: "GET".into(),
                url: shown.clone(),
                sent: describe(params),
                status,
                body: tail(&body, BODY_CHARS),
            })
        }
    }
}

/// Judge `after` against `before` and the seeded history.
///
/// - `blocks` is lost when the blocks no longer cover the seeded range, or
///   fewer marker samples are queryable than were seeded, or a checkpoint
///   has no value; changed when a checkpoint answers another value.
///   Compaction merging blocks is fine: ULID identity goes into the details
///   only (kept, merged into newer blocks by compaction, or gone).
/// - `head/wal` is lost when the exact head sample recorded before is gone,
///   changed when it answers another value.
///
/// `recovery` (from [`PrometheusProbe::wait_ready`]) is carried into the
/// judgement. The details also show clean_start, the data dir owner and the
/// head range before and after.
pub fn compare(before: &Snapshot, after: &Snapshot, recovery: Option<Duration>) -> Judgement {
    let h = &before.history;
    let mut lost = Vec::new();
    let mut changed = Vec::new();
    let mut details = Vec::new();

    // Blocks: judged against the history itself, so a before snapshot that
    // already missed data cannot hide a loss.
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
    let missing: Vec<i64> = after
        .marker_values
        .iter()
        .filter(|m| m.found.is_none())
        .map(|m| m.at_ms)
        .collect();
    let wrong: Vec<&MarkerValue> = after
        .marker_values
        .iter()
        .filter(|m| m.found.is_some_and(|f| f != m.expected))
        .collect();
    let count = after.marker_count.unwrap_or(0);
    details.push(format!(
        "blocks: {count} of {want} seeded samples of {} queryable; {} of {} checkpoints answer the seeded value; {}",
        h.selector(),
        after.marker_values.len() - missing.len() - wrong.len(),
        after.marker_values.len(),
        if gaps.is_empty() {
            format!("block metadata ({:?}) covers the seeded range", after.block_source)
        } else {
            format!("block metadata ({:?}) misses {}", after.block_source, show_ranges(&gaps))
        }
    ));
    if before.marker_count != Some(want) {
        details.push(format!(
            "blocks: before the disruption only {} of {want} samples were queryable (seed incomplete)",
            before.marker_count.unwrap_or(0)
        ));
    }
    if !gaps.is_empty() || count != want || !missing.is_empty() {
        lost.push(part::BLOCKS.to_owned());
    } else if !wrong.is_empty() {
        changed.push(format!(
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
    details.push(ulid_identity(before, after));

    // Head / WAL.
    match (&before.head.sample, &after.head.sample) {
        (Some(b), Some(a)) if a.value == b.value => details.push(format!(
            "head/wal: sample {} @{} = {} still there",
            show_labels(&b.labels),
            b.at_ms,
            b.value
        )),
        (Some(b), Some(a)) => changed.push(format!(
            "{}: sample {} @{} {} -> {}",
            part::HEAD,
            show_labels(&b.labels),
            b.at_ms,
            b.value,
            a.value
        )),
        (Some(b), None) => {
            lost.push(part::HEAD.to_owned());
            details.push(format!(
                "head/wal: sample {} @{} = {} is gone",
                show_labels(&b.labels),
                b.at_ms,
                b.value
            ));
        }
        (None, _) => {
            // A seed that never took must not pass as "survived".
            lost.push(format!(
                "{} (already missing before the disruption)",
                part::HEAD
            ));
            details.push("head/wal: no head sample was recorded before the disruption".into());
        }
    }
    details.push(format!(
        "head range: before {}, after {}",
        show_head(&before.head),
        show_head(&after.head)
    ));
    details.push(format!(
        "prometheus_tsdb_clean_start: before {}, after {} (-1 no lock file, 0 previous lock file replaced = unclean stop, 1 clean)",
        show_opt(before.clean_start),
        show_opt(after.clean_start)
    ));
    details.push(if before.data_dir_owner == after.data_dir_owner {
        format!("data dir owner: {}", after.data_dir_owner)
    } else {
        format!(
            "data dir owner changed: {} -> {}",
            before.data_dir_owner, after.data_dir_owner
        )
    });

    let verdict = if !lost.is_empty() {
        Verdict::Lost { parts: lost }
    } else if !changed.is_empty() {
        Verdict::Changed { parts: changed }
    } else {
        Verdict::Survived
    };
    Judgement {
        verdict,
        details,
        recovery,
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
