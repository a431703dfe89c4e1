//! The HTTP client of a Prometheus server, [`PrometheusProbe`], and what
//! every read shares: a query's answer is data, a storage error (evidence
//! about the data, see `storage_error` for the rule) or an [`Error`] (a
//! failure of the harness).
//!
//! Works with the HTTP API of Prometheus 2.x and 3.x (range selectors are
//! closed in 2.x and left-open in 3.x; every range here is chosen so both
//! give the same answer).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::error::{Error, Result, chain, tail};
use crate::exec::Exec;
use crate::prometheus::facts::{DATA_DIR, READY_PATH};
use crate::wait::{self, Check};

/// The head series a snapshot takes its exact head sample from: written by
/// every scrape of Prometheus's own target (job `prometheus` in the default
/// configuration of both images), and a float that differs per scrape, so
/// an exact (timestamp, value) pair cannot be reproduced by chance.
pub const DEFAULT_HEAD_SERIES: &str = r#"scrape_duration_seconds{job="prometheus"}"#;
/// How long `/-/ready` may take after a disruption before the recovery
/// counts as failed (WAL replay of a small test TSDB takes seconds).
pub const READY_TIMEOUT: Duration = Duration::from_secs(120);
/// Timeout of a single HTTP request.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);
/// How often readiness is polled: fine enough for recovery times in tenths.
const READY_POLL: Duration = Duration::from_millis(250);
/// How much of an unexpected answer an error keeps.
const BODY_CHARS: usize = 500;

/// Reads a Prometheus server: HTTP for the API, an [`Exec`] into its
/// container for the data dir.
pub struct PrometheusProbe<'a> {
    pub(super) base: String,
    pub(super) exec: &'a dyn Exec,
    pub(super) data_dir: String,
    pub(super) head_series: String,
    pub(super) http: reqwest::Client,
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
            data_dir: DATA_DIR.into(),
            head_series: DEFAULT_HEAD_SERIES.into(),
            http: reqwest::Client::builder()
                .timeout(REQUEST_TIMEOUT)
                .build()
                .unwrap_or_else(|_| reqwest::Client::new()),
        }
    }

    /// The exec into the server's container.
    pub(crate) fn exec(&self) -> &'a dyn Exec {
        self.exec
    }

    /// The data dir inside the container.
    pub(crate) fn data_dir(&self) -> &str {
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
    pub(crate) async fn wait_ready_within(
        &self,
        since: Instant,
        timeout: Duration,
    ) -> Result<Duration> {
        let url = format!("{}{READY_PATH}", self.base);
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
                    Err(e) => Check::NotYet(chain(&e)),
                }
            },
        )
        .await?;
        Ok(since.elapsed())
    }

    /// How many samples the instant `query` (a `count_over_time`) counts at
    /// `at_ms`: 0 when it answers an empty vector (no samples at all).
    pub(super) async fn count(&self, query: &str, at_ms: i64) -> Result<Answer<u64>> {
        let answer = self.instant(query, Some(at_ms)).await?;
        Ok(answer.map(|found| found.first().map_or(0, InstantSample::as_count)))
    }

    pub(super) async fn instant(
        &self,
        query: &str,
        at_ms: Option<i64>,
    ) -> Result<Answer<Vec<InstantSample>>> {
        self.result_of(query, at_ms, "vector").await
    }

    pub(super) async fn range(
        &self,
        query: &str,
        at_ms: Option<i64>,
    ) -> Result<Answer<Vec<RangeSeries>>> {
        self.result_of(query, at_ms, "matrix").await
    }

    /// The result of `query`, which must be of `result_type` (`vector`
    /// for instant queries, `matrix` for range selectors).
    async fn result_of<T: DeserializeOwned>(
        &self,
        query: &str,
        at_ms: Option<i64>,
        result_type: &str,
    ) -> Result<Answer<T>> {
        let data = match self.query(query, at_ms).await? {
            Ok(data) => data,
            Err(refusal) => return Ok(Err(refusal)),
        };
        if data.result_type != result_type {
            return Err(Error::parse(
                format!("result of {query}"),
                format!("expected a {result_type}, got {}", data.result_type),
            ));
        }
        Ok(Ok(parse_json(&format!("result of {query}"), data.result)?))
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
    pub(super) async fn api<T: DeserializeOwned>(
        &self,
        path: &str,
        params: &[(&str, &str)],
    ) -> Result<T> {
        let (url, status, body) = self.send(path, params).await?;
        let body = success(&url, params, status, body)?;
        envelope_data(&url, params, &body)
    }

    pub(super) async fn get_text(&self, path: &str) -> Result<String> {
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
pub(super) type Answer<T> = std::result::Result<T, Refusal>;

/// A query Prometheus evaluated and answered with a storage error.
#[derive(Debug)]
pub(super) struct Refusal {
    url: String,
    sent: String,
    pub(super) query: String,
    pub(super) at_ms: Option<i64>,
    pub(super) status: u16,
    pub(super) error_type: String,
    pub(super) message: String,
}

impl Refusal {
    /// As an error, for callers that do not judge (the seed's wait).
    pub(super) fn into_error(self) -> Error {
        Error::HttpStatus {
            method: "GET".into(),
            url: self.url,
            sent: self.sent,
            status: self.status,
            body: format!("{}: {}", self.error_type, self.message),
        }
    }
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
pub(super) fn storage_error(status: u16, body: &str) -> Option<(String, String)> {
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

/// API timestamps are float seconds with millisecond precision.
pub(super) fn seconds_to_ms(s: f64) -> i64 {
    (s * 1000.0).round() as i64
}

pub(super) fn ms_to_seconds(ms: i64) -> String {
    format!("{}.{:03}", ms.div_euclid(1000), ms.rem_euclid(1000))
}

fn parse_json<T: DeserializeOwned>(what: &str, v: serde_json::Value) -> Result<T> {
    serde_json::from_value(v).map_err(|e| Error::parse(what, e.to_string()))
}

fn parse_json_str<T: DeserializeOwned>(what: &str, body: &str) -> Result<T> {
    serde_json::from_str(body)
        .map_err(|e| Error::parse(what, format!("{e}; answer: {}", tail(body, BODY_CHARS))))
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
pub(super) struct InstantSample {
    value: (f64, String),
}

impl InstantSample {
    /// The value of a `count_over_time` result.
    pub(super) fn as_count(&self) -> u64 {
        self.value.1.parse::<f64>().unwrap_or(0.0) as u64
    }
}

#[derive(Debug, Deserialize)]
pub(super) struct RangeSeries {
    pub(super) metric: BTreeMap<String, String>,
    pub(super) values: Vec<(f64, String)>,
}
