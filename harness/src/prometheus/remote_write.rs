//! A dense head: minutes of samples written into the head through
//! Prometheus's remote-write receiver (`POST /api/v1/write`, protocol 1.0:
//! a snappy-compressed protobuf `WriteRequest`), up to the moment before
//! the disruption.
//!
//! Why: a cell's Prometheus has been up for seconds when it is snapshotted,
//! so its self-scraped head holds a sample or two, and a backend that
//! loses the newest writes (an unflushed tail, the usual way storage loses
//! data) would lose nothing the judgement counts. Remote-written samples
//! go through the same appender and WAL as scraped ones, one per second
//! here, so the head count covers minutes and a partial loss shows as a
//! smaller count.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use prost::Message as _;

use crate::error::{Error, Result};
use crate::prometheus::api::{PrometheusProbe, Refusal};
use crate::prometheus::head::HeadSample;

/// The metric of the dense head series.
pub const DENSE_METRIC: &str = "storage_e2e_head";
/// One sample per second: five per scrape interval of the manifests' 5 s.
pub const DENSE_STEP_MS: i64 = 1000;
/// How far back the first write reaches: minutes of head, well inside the
/// head's appendable range (the seeded blocks end hours earlier).
pub const DENSE_SPAN: Duration = Duration::from_secs(5 * 60);
/// Samples per request: small enough for the receiver's limits, few enough
/// requests for five minutes (301 samples: one request).
const BATCH: usize = 1000;
/// The receiver's path.
pub const WRITE_PATH: &str = "/api/v1/write";
/// What Prometheus answers without `--web.enable-remote-write-receiver`.
const RECEIVER_OFF: &str = "remote write receiver needs to be enabled";

/// The dense head series of one run: `storage_e2e_head{run="<run>"}`,
/// whose value at each timestamp is known (seconds since the epoch, modulo
/// a million: exact in a float), so a changed value is seen as well as a
/// missing one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DenseSeries {
    labels: BTreeMap<String, String>,
}

impl DenseSeries {
    /// The series of `run` (the history's run label).
    pub(crate) fn new(run: &str) -> Self {
        Self {
            labels: BTreeMap::from([
                ("__name__".to_owned(), DENSE_METRIC.to_owned()),
                ("run".to_owned(), run.to_owned()),
            ]),
        }
    }

    /// Its full label set.
    pub(crate) fn labels(&self) -> &BTreeMap<String, String> {
        &self.labels
    }

    /// The value it has at `at_ms`.
    pub(crate) fn value_at(at_ms: i64) -> f64 {
        // Below 10^6: exactly representable, printed without an exponent.
        f64::from(u32::try_from(at_ms.div_euclid(1000).rem_euclid(1_000_000)).unwrap_or(0))
    }

    /// The sample timestamps of `(after_ms, to_ms]`: the step grid, and
    /// `to_ms` itself, so the newest sample is the moment of the write (a
    /// top-up right before a disruption always writes one, however soon
    /// after the last).
    pub(crate) fn timestamps(after_ms: i64, to_ms: i64) -> Vec<i64> {
        let first = (after_ms.div_euclid(DENSE_STEP_MS) + 1) * DENSE_STEP_MS;
        let mut stamps: Vec<i64> = (0..)
            .map(|i| first + i * DENSE_STEP_MS)
            .take_while(|t| *t <= to_ms)
            .collect();
        if to_ms > after_ms && stamps.last() != Some(&to_ms) {
            stamps.push(to_ms);
        }
        stamps
    }
}

impl PrometheusProbe<'_> {
    /// Write `series` from `DENSE_SPAN` before now up to now, one sample per
    /// step, and return its newest sample as Prometheus answers it (the
    /// head sample a snapshot counts up to).
    ///
    /// # Errors
    /// As [`Self::write_dense_after`].
    pub(crate) async fn write_dense(&self, series: &DenseSeries) -> Result<HeadSample> {
        let span = i64::try_from(DENSE_SPAN.as_millis()).unwrap_or(i64::MAX);
        self.write_dense_after(series, now_ms() - span).await
    }

    /// Write `series` for every step after `after_ms` up to now, and return
    /// its newest sample as Prometheus answers it.
    ///
    /// # Errors
    /// [`Error::Cannot`] when the receiver refuses (not enabled: the fix is
    /// the flag; out of bounds: the body says which), when nothing is new
    /// to write, or when the newest sample does not read back; HTTP errors.
    pub(crate) async fn write_dense_after(
        &self,
        series: &DenseSeries,
        after_ms: i64,
    ) -> Result<HeadSample> {
        let stamps = DenseSeries::timestamps(after_ms, now_ms());
        let Some(&newest) = stamps.last() else {
            return Err(Error::Cannot {
                action: format!("write {DENSE_METRIC} after {after_ms} ms"),
                why: "no step of the series lies between then and now".into(),
            });
        };
        for chunk in stamps.chunks(BATCH) {
            let samples: Vec<(i64, f64)> = chunk
                .iter()
                .map(|t| (*t, DenseSeries::value_at(*t)))
                .collect();
            self.remote_write(series.labels(), &samples).await?;
        }
        let like = HeadSample {
            labels: series.labels().clone(),
            at_ms: newest,
            value: String::new(),
        };
        self.head_sample_like(&like)
            .await?
            .map_err(Refusal::into_error)?
            .ok_or_else(|| Error::Cannot {
                action: format!("read back the {DENSE_METRIC} sample written at {newest} ms"),
                why: "the receiver accepted it but a query at that time finds none".into(),
            })
    }

    /// POST `samples` of the series `labels` to the remote-write receiver.
    ///
    /// # Errors
    /// [`Error::Cannot`] with the status and body when it does not answer
    /// 2xx (naming `--web.enable-remote-write-receiver` when that is why);
    /// [`Error::Http`] when nothing answered.
    pub(crate) async fn remote_write(
        &self,
        labels: &BTreeMap<String, String>,
        samples: &[(i64, f64)],
    ) -> Result<()> {
        let url = format!("{}{WRITE_PATH}", self.base);
        let body = encode(labels, samples)?;
        let request = self
            .http
            .post(&url)
            .header("Content-Encoding", "snappy")
            .header("Content-Type", "application/x-protobuf")
            .header("X-Prometheus-Remote-Write-Version", "0.1.0")
            .body(body);
        let resp = self.send_post(&url, request).await?;
        let status = resp.status().as_u16();
        if resp.status().is_success() {
            return Ok(());
        }
        let text = resp.text().await.unwrap_or_default();
        let fix = if text.contains(RECEIVER_OFF) {
            " (start Prometheus with --web.enable-remote-write-receiver, as manifests/base does)"
        } else {
            ""
        };
        Err(Error::Cannot {
            action: format!("write {} samples to {url}", samples.len()),
            why: format!("HTTP {status}: {}{fix}", text.trim()),
        })
    }
}

impl PrometheusProbe<'_> {
    /// Send a POST built for `url`.
    ///
    /// # Errors
    /// [`Error::Http`] when nothing answered.
    pub(super) async fn send_post(
        &self,
        url: &str,
        request: reqwest::RequestBuilder,
    ) -> Result<reqwest::Response> {
        request.send().await.map_err(|source| Error::Http {
            method: "POST".into(),
            url: url.to_owned(),
            source,
        })
    }
}

/// The request body: a `WriteRequest` with one series, snappy-compressed
/// (the block format, as the protocol asks; not the framed one).
///
/// # Errors
/// [`Error::Cannot`] when snappy refuses (it never does for these sizes).
pub(crate) fn encode(labels: &BTreeMap<String, String>, samples: &[(i64, f64)]) -> Result<Vec<u8>> {
    let request = WriteRequest {
        timeseries: vec![TimeSeries {
            // Sorted by name, as the protocol requires: a BTreeMap is.
            labels: labels
                .iter()
                .map(|(name, value)| Label {
                    name: name.clone(),
                    value: value.clone(),
                })
                .collect(),
            samples: samples
                .iter()
                .map(|(timestamp, value)| Sample {
                    value: *value,
                    timestamp: *timestamp,
                })
                .collect(),
        }],
    };
    snap::raw::Encoder::new()
        .compress_vec(&request.encode_to_vec())
        .map_err(|e| Error::Cannot {
            action: "snappy-compress a remote-write request".into(),
            why: e.to_string(),
        })
}

pub(super) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

// The remote-write 1.0 messages (prometheus/prompb/types.proto and
// remote.proto), only the fields the harness sends.

/// `prometheus.WriteRequest`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct WriteRequest {
    /// Field 1.
    #[prost(message, repeated, tag = "1")]
    pub(crate) timeseries: Vec<TimeSeries>,
}

/// `prometheus.TimeSeries`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct TimeSeries {
    /// Field 1, sorted by name.
    #[prost(message, repeated, tag = "1")]
    pub(crate) labels: Vec<Label>,
    /// Field 2, oldest first.
    #[prost(message, repeated, tag = "2")]
    pub(crate) samples: Vec<Sample>,
}

/// `prometheus.Label`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct Label {
    /// Field 1.
    #[prost(string, tag = "1")]
    pub(crate) name: String,
    /// Field 2.
    #[prost(string, tag = "2")]
    pub(crate) value: String,
}

/// `prometheus.Sample`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct Sample {
    /// Field 1.
    #[prost(double, tag = "1")]
    pub(crate) value: f64,
    /// Field 2: milliseconds since the epoch.
    #[prost(int64, tag = "2")]
    pub(crate) timestamp: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_the_step_grid_and_the_end_itself() {
        assert_eq!(DenseSeries::timestamps(999, 3000), vec![1000, 2000, 3000]);
        assert_eq!(DenseSeries::timestamps(1000, 3999), vec![2000, 3000, 3999]);
        assert_eq!(DenseSeries::timestamps(3000, 3001), vec![3001]);
        assert!(DenseSeries::timestamps(3001, 3001).is_empty());
        assert_eq!(DenseSeries::timestamps(0, 300_000).len(), 300);
    }

    #[test]
    fn values_are_exact_and_known_from_the_time() {
        assert_eq!(DenseSeries::value_at(1_796_142_603_787), 142_603.0);
        assert_eq!(DenseSeries::value_at(1_796_142_604_000), 142_604.0);
    }

    /// The body decodes back (snappy, then protobuf) to the series, labels
    /// sorted by name with `__name__` first, samples in order: what the
    /// receiver reads. The field tags are remote.proto's.
    #[test]
    fn the_body_is_a_snappy_protobuf_write_request() {
        let s = DenseSeries::new("e2e-x");
        let body = encode(s.labels(), &[(1000, 1.0), (2000, 2.0)]).unwrap_or_default();
        let raw = snap::raw::Decoder::new()
            .decompress_vec(&body)
            .unwrap_or_default();
        let req = WriteRequest::decode(raw.as_slice()).unwrap_or_default();
        let ts = &req.timeseries[0];
        let names: Vec<&str> = ts.labels.iter().map(|l| l.name.as_str()).collect();
        assert_eq!(names, ["__name__", "run"]);
        assert_eq!(ts.labels[0].value, DENSE_METRIC);
        assert_eq!(
            ts.samples,
            [
                Sample {
                    value: 1.0,
                    timestamp: 1000
                },
                Sample {
                    value: 2.0,
                    timestamp: 2000
                }
            ]
        );
        // WriteRequest field 1 (length-delimited): tag byte 0x0a.
        assert_eq!(raw.first(), Some(&0x0a));
    }
}
