//! The Grafana HTTP API client, [`GrafanaClient`]: logged in as
//! [`ADMIN_USER`] with a password generated per run, never `admin/admin`,
//! and errors that say what was sent, what came back and what it most
//! likely means.

use std::fmt;
use std::time::{Duration, Instant};

use rand::RngExt as _;
use reqwest::Method;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{Error, Result, chain};
use crate::grafana::facts::{ADMIN_PASSWORD_ENV, ADMIN_USER, HEALTH_PATH};
use crate::wait::{Check, poll};

/// How long a fresh Grafana may take to answer `/api/health` with
/// `database: ok` (migrations on an empty database take a while on slow disks).
pub const HEALTH_TIMEOUT: Duration = Duration::from_secs(120);
/// How often health is polled.
pub(crate) const HEALTH_POLL_INTERVAL: Duration = Duration::from_millis(500);
/// Per-request timeout, so a hung port-forward fails one request instead of a whole wait.
pub(crate) const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// How much of an answer body an error keeps.
pub(super) const BODY_CHARS: usize = 400;
/// How much of a sent JSON body an error shows.
const SENT_CHARS: usize = 300;
/// Length of [`generate_password`]'s passwords.
const PASSWORD_LEN: usize = 24;

/// A fresh random admin password (24 ASCII letters and digits), for the
/// per-run Secret and `GF_SECURITY_ADMIN_PASSWORD`.
pub fn generate_password() -> String {
    const CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let mut rng = rand::rng();
    (0..PASSWORD_LEN)
        .map(|_| char::from(CHARS[rng.random_range(0..CHARS.len())]))
        .collect()
}

/// `GET /api/health`: `{database, version, commit}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Health {
    /// `ok`, or `failing` when Grafana cannot reach its database.
    pub database: String,
    /// Grafana version (absent when anonymous health details are disabled).
    #[serde(default)]
    pub(crate) version: Option<String>,
    /// Build commit.
    #[serde(default)]
    pub(crate) commit: Option<String>,
}

/// One request as the harness sent it, for error messages.
pub(super) struct Call {
    method: Method,
    url: String,
    sent: String,
}

/// One answer, read whole.
pub(super) struct Answer {
    pub(super) status: u16,
    content_type: String,
    body: String,
}

/// A Grafana HTTP API client logged in as `admin` with a generated password.
#[derive(Clone)]
pub struct GrafanaClient {
    base: String,
    password: String,
    http: reqwest::Client,
}

impl fmt::Debug for GrafanaClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GrafanaClient")
            .field("base", &self.base)
            .field("password", &"<generated, not shown>")
            .finish()
    }
}

impl GrafanaClient {
    /// A client for the Grafana at `base_url` (e.g. `http://127.0.0.1:32768`,
    /// with any sub-path Grafana is served under), using basic auth
    /// `admin:<admin_password>`.
    ///
    /// # Errors
    /// [`Error::Parse`] for a base URL that is not http(s), [`Error::Config`]
    /// for an empty password or the default `admin` (the harness never relies
    /// on the default credentials), [`Error::Http`] when the HTTP client
    /// cannot be built.
    pub fn new(base_url: impl Into<String>, admin_password: impl Into<String>) -> Result<Self> {
        let base = base_url.into().trim_end_matches('/').to_owned();
        let parsed = reqwest::Url::parse(&base)
            .map_err(|e| Error::parse("the Grafana base URL", format!("{base:?}: {e}")))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(Error::parse(
                "the Grafana base URL",
                format!("{base:?}: expected an http:// or https:// URL"),
            ));
        }
        let password = admin_password.into();
        if password.is_empty() || password == ADMIN_USER {
            return Err(Error::Config {
                var: ADMIN_PASSWORD_ENV,
                value: password,
                allowed: "a password generated per run (grafana::generate_password), \
                          never empty or the default admin"
                    .into(),
            });
        }
        let http = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .build()
            .map_err(|source| Error::Http {
                method: "(build HTTP client for)".into(),
                url: base.clone(),
                source,
            })?;
        Ok(Self {
            base,
            password,
            http,
        })
    }

    /// The base URL requests go to.
    #[cfg(test)]
    pub(crate) fn base_url(&self) -> &str {
        &self.base
    }

    /// `GET /api/health` (no credentials). A 503 with a JSON body is an
    /// answer too (`database: failing`), not an error.
    ///
    /// # Errors
    /// [`Error::Http`] when nothing answers, [`Error::HttpStatus`] for any
    /// other status, [`Error::Parse`] for a non-JSON answer.
    pub async fn health(&self) -> Result<Health> {
        let (call, answer) = self.send(Method::GET, HEALTH_PATH, None, false).await?;
        match answer.status {
            200 | 503 => parse(&call, &answer),
            _ => Err(status_error(&call, &answer)),
        }
    }

    /// Poll `/api/health` until it answers `database: ok`, or `timeout` passes.
    ///
    /// # Errors
    /// [`Error::Timeout`] saying what the last poll saw (connection refused,
    /// `database "failing"`, a status code...).
    pub(crate) async fn wait_healthy(&self, timeout: Duration) -> Result<Health> {
        let what = format!(
            "Grafana at {} to answer /api/health with database ok",
            self.base
        );
        poll(&what, timeout, HEALTH_POLL_INTERVAL, || async {
            match self.health().await {
                Ok(h) if h.database == "ok" => Check::Ready(h),
                Ok(h) => Check::NotYet(format!("database {:?}", h.database)),
                Err(e) => Check::NotYet(chain(&e)),
            }
        })
        .await
    }

    /// Wait until Grafana is healthy again after a disruption that happened
    /// at `disrupted_at`, and return the time from the disruption to
    /// healthy: the [`Judgement::recovery`] of the cell.
    ///
    /// [`Judgement::recovery`]: crate::vocab::Judgement::recovery
    ///
    /// # Errors
    /// As [`GrafanaClient::wait_healthy`].
    pub(crate) async fn wait_recovered(
        &self,
        disrupted_at: Instant,
        timeout: Duration,
    ) -> Result<Duration> {
        self.wait_healthy(timeout).await?;
        Ok(disrupted_at.elapsed())
    }

    /// POST `body` to `path` and parse a 200 answer.
    pub(super) async fn create<T: DeserializeOwned>(&self, path: &str, body: &Value) -> Result<T> {
        let (call, answer) = self.send(Method::POST, path, Some(body), true).await?;
        if answer.status == 200 {
            parse(&call, &answer)
        } else {
            Err(status_error(&call, &answer))
        }
    }

    /// GET `path`: `Some` for 200, `None` for 404.
    pub(super) async fn read<T: DeserializeOwned>(&self, path: &str) -> Result<Option<T>> {
        let (call, answer) = self.send(Method::GET, path, None, true).await?;
        match answer.status {
            200 => parse(&call, &answer).map(Some),
            404 => Ok(None),
            _ => Err(status_error(&call, &answer)),
        }
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        auth: bool,
    ) -> Result<(Call, Answer)> {
        let url = format!("{}{path}", self.base);
        let mut sent = if auth {
            format!("basic auth {ADMIN_USER}:<generated password>")
        } else {
            "no credentials".to_owned()
        };
        let mut req = self
            .http
            .request(method.clone(), &url)
            .header(reqwest::header::ACCEPT, "application/json");
        if auth {
            req = req.basic_auth(ADMIN_USER, Some(&self.password));
        }
        if let Some(b) = body {
            sent.push_str(" and JSON ");
            sent.push_str(&sent_json(b));
            req = req.json(b);
        }
        let call = Call {
            method: method.clone(),
            url,
            sent,
        };
        let http_err = |source| Error::Http {
            method: call.method.to_string(),
            url: call.url.clone(),
            source,
        };
        let resp = req.send().await.map_err(http_err)?;
        let status = resp.status().as_u16();
        let content_type = resp
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("(none)")
            .to_owned();
        let body = resp.text().await.map_err(http_err)?;
        Ok((
            call,
            Answer {
                status,
                content_type,
                body,
            },
        ))
    }
}

/// Parse a JSON answer, or say what was sent and what came back instead.
pub(super) fn parse<T: DeserializeOwned>(call: &Call, answer: &Answer) -> Result<T> {
    serde_json::from_str(&answer.body).map_err(|e| {
        let kind = if serde_json::from_str::<Value>(&answer.body).is_ok() {
            "JSON of an unexpected shape"
        } else {
            "not JSON"
        };
        Error::Parse {
            what: format!(
                "the answer to {} {} (sent {})",
                call.method, call.url, call.sent
            ),
            message: format!(
                "{kind} ({e}); status {}, content-type {}, body: {}",
                answer.status,
                answer.content_type,
                head(&answer.body, BODY_CHARS)
            ),
        }
    })
}

/// The error for an unexpected status, with what it most likely means.
pub(super) fn status_error(call: &Call, answer: &Answer) -> Error {
    let hint = match answer.status {
        401 => Some(
            "the admin password from the generated Secret was rejected; \
             GF_SECURITY_ADMIN_PASSWORD only applies on the first start with an empty \
             grafana.db (grafana#4923), so a data dir kept from an earlier run keeps \
             that run's password"
                .to_owned(),
        ),
        403 => Some("the admin user may not do this (is it the org admin?)".to_owned()),
        404 => Some(
            "not found: no such object, or the base URL does not point at Grafana's \
             HTTP root (a sub-path such as /grafana missing?)"
                .to_owned(),
        ),
        409 => Some(
            "already exists (same uid or name), e.g. left by an earlier run on the same \
             data dir"
                .to_owned(),
        ),
        412 => Some(precondition_hint(&answer.body)),
        _ => None,
    };
    let body = head(&answer.body, BODY_CHARS);
    Error::HttpStatus {
        method: call.method.to_string(),
        url: call.url.clone(),
        sent: call.sent.clone(),
        status: answer.status,
        body: match hint {
            Some(h) => format!("{h}; Grafana answered {body}"),
            None => body,
        },
    }
}

/// Which 412 it was, from the documented `status` field.
fn precondition_hint(body: &str) -> String {
    #[derive(Deserialize)]
    struct Precondition {
        #[serde(default)]
        status: String,
    }
    let status = serde_json::from_str::<Precondition>(body)
        .map(|p| p.status)
        .unwrap_or_default();
    match status.as_str() {
        "version-mismatch" => "version-mismatch: a dashboard with this uid already exists at \
                               another version (an earlier run on the same data dir, or a \
                               concurrent save); the harness sends overwrite:false and never \
                               replaces it"
            .to_owned(),
        "name-exists" => "name-exists: a dashboard with this title already exists in the \
                          folder (titles are unique per folder)"
            .to_owned(),
        "plugin-dashboard" => "plugin-dashboard: the dashboard belongs to a plugin".to_owned(),
        "" => "precondition failed without a status field".to_owned(),
        other => format!("precondition failed: {other}"),
    }
}

/// The first `max` characters of `text` (on a char boundary), trimmed: the
/// start of an answer body says what it is (JSON message, HTML page...).
pub(super) fn head(text: &str, max: usize) -> String {
    let text = text.trim();
    if text.len() <= max {
        return text.to_owned();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}... ({} bytes)", &text[..end], text.len())
}

/// The JSON body as an error shows it: whole when short, else with arrays
/// (the panels) reduced to their length, so the uids stay visible.
fn sent_json(body: &Value) -> String {
    fn shrink(v: &mut Value) {
        match v {
            Value::Array(items) => *v = Value::String(format!("<{} items>", items.len())),
            Value::Object(map) => map.values_mut().for_each(shrink),
            _ => {}
        }
    }
    let whole = body.to_string();
    if whole.len() <= SENT_CHARS {
        return whole;
    }
    let mut short = body.clone();
    shrink(&mut short);
    head(&short.to_string(), SENT_CHARS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[test]
    fn generated_passwords_are_long_random_and_never_the_default() {
        let a = generate_password();
        let b = generate_password();
        assert_eq!(a.len(), PASSWORD_LEN);
        assert_ne!(a, b);
        assert!(a.chars().all(|c| c.is_ascii_alphanumeric()), "{a}");
        assert!(GrafanaClient::new("http://127.0.0.1:3000", a).is_ok());
    }

    #[rstest]
    #[case::default_admin("admin")]
    #[case::empty("")]
    fn client_refuses_default_or_empty_password(#[case] password: &str) {
        let e = GrafanaClient::new("http://127.0.0.1:3000", password).expect_err("refused");
        assert!(e.to_string().contains("GF_SECURITY_ADMIN_PASSWORD"), "{e}");
    }

    #[test]
    fn client_refuses_a_base_url_that_is_not_http() {
        let e = GrafanaClient::new("127.0.0.1:3000", generate_password()).expect_err("bad url");
        assert!(e.to_string().contains("Grafana base URL"), "{e}");
    }

    #[test]
    fn debug_output_never_shows_the_password() {
        let c = GrafanaClient::new("http://127.0.0.1:3000/", "s3cret-generated").expect("client");
        assert_eq!(c.base_url(), "http://127.0.0.1:3000");
        assert!(!format!("{c:?}").contains("s3cret"));
    }

    #[tokio::test]
    async fn wait_healthy_timeout_names_the_refused_connection() {
        // A port nothing listens on: bind, note the port, close.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let c = GrafanaClient::new(
            format!("http://127.0.0.1:{port}"),
            "generated-Secret-password-1",
        )
        .expect("client");
        let e = c
            .wait_healthy(Duration::from_millis(1200))
            .await
            .expect_err("nothing listens");
        let msg = e.to_string();
        assert!(msg.contains("last seen: GET http://127.0.0.1:"), "{msg}");
    }

    #[test]
    fn head_keeps_the_start_on_a_char_boundary() {
        assert_eq!(head(" short ", 10), "short");
        assert_eq!(head("0123456789", 4), "0123... (10 bytes)");
        assert_eq!(head("éé", 3), "é... (4 bytes)");
    }
}
