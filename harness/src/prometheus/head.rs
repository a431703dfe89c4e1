//! The live head, which only the head block and the WAL hold: its time
//! range, one exact recent sample of a self-scraped series, and how many
//! samples that series has over a fixed window. A disruption that loses or
//! tears the WAL shows here and nowhere else.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::prometheus::api::{Answer, PrometheusProbe, Refusal, seconds_to_ms};
use crate::prometheus::history::escape_label_value;
use crate::wait::{self, Check};

/// How long a first snapshot waits for a head sample: one scrape interval
/// (15 s by default) plus slack.
pub const HEAD_SAMPLE_TIMEOUT: Duration = Duration::from_secs(60);
/// How often the first snapshot asks for a head sample: Prometheus has no
/// way to announce a scrape, so this is a poll; a fifth of a second keeps
/// the harness's share of the wait small (one local instant query each).
const HEAD_SAMPLE_POLL: Duration = Duration::from_millis(200);
/// How far back the newest head sample is looked for.
const HEAD_LOOKBACK: &str = "2m";

/// One exact raw sample of a head series.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HeadSample {
    /// The full label set, `__name__` included.
    pub(crate) labels: BTreeMap<String, String>,
    /// Timestamp (ms).
    pub(crate) at_ms: i64,
    /// The value exactly as the API printed it.
    pub(crate) value: String,
}

/// The head block as `/api/v1/status/tsdb` describes it, plus one sample
/// and a sample count.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Head {
    /// Oldest timestamp in the head (ms); `None` for an empty head.
    pub(crate) min_time: Option<i64>,
    /// Newest timestamp in the head (ms); `None` for an empty head.
    pub max_time: Option<i64>,
    /// Series in the head.
    pub(crate) num_series: u64,
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
    pub(crate) labels: BTreeMap<String, String>,
    /// First timestamp of the window (ms, inclusive).
    pub(crate) from_ms: i64,
    /// Last timestamp of the window (ms, inclusive).
    pub(crate) to_ms: i64,
    /// Samples of the series in the window; `None` when Prometheus answered
    /// the count with a storage error (see [`Snapshot::read_errors`]).
    ///
    /// [`Snapshot::read_errors`]: crate::prometheus::Snapshot::read_errors
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
    pub(crate) fn query(&self) -> String {
        format!(
            "count_over_time({}[{}ms])",
            series_selector(&self.labels),
            self.to_ms - self.from_ms + 1
        )
    }
}

impl PrometheusProbe<'_> {
    /// Wait up to [`HEAD_SAMPLE_TIMEOUT`] for the checked series' newest
    /// head sample (a fresh server has none before its first self-scrape):
    /// the part of a first snapshot that waits on Prometheus, so a caller
    /// can time it apart from the reads.
    ///
    /// # Errors
    /// [`Error::Timeout`] with what the last query answered.
    ///
    /// [`Error::Timeout`]: crate::Error::Timeout
    pub(crate) async fn await_head_sample(&self) -> Result<HeadSample> {
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
    pub(super) async fn head_sample_like(
        &self,
        like: &HeadSample,
    ) -> Result<Answer<Option<HeadSample>>> {
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
}

/// The selector of exactly the series with `labels` (`__name__` included).
pub(super) fn series_selector(labels: &BTreeMap<String, String>) -> String {
    let matchers: Vec<String> = labels
        .iter()
        .map(|(k, v)| format!("{k}=\"{}\"", escape_label_value(v)))
        .collect();
    format!("{{{}}}", matchers.join(","))
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
