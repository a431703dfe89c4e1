//! Contract tests: the harness against a stub HTTP server that answers with
//! the request and response shapes of Grafana's HTTP API documentation
//! (Dashboard, Folder, Data source and Health API pages: `POST
//! /api/dashboards/db`, `GET /api/dashboards/uid/:uid`, `POST /api/folders`,
//! `GET /api/folders/:uid`, `POST /api/datasources`, `GET
//! /api/datasources/uid/:uid`, `GET /api/health`). They check that the
//! harness sends what the docs describe and reads and reports what the docs
//! say comes back. They say nothing about how Grafana behaves: that is what
//! the tier-1 tests with a real grafana/grafana container are for.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use wiremock::matchers::{basic_auth, body_partial_json, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::*;
use crate::error::{Error, Result};
use crate::exec::Exec;
use crate::vocab::{Part, PartKind, Verdict};

const PASSWORD: &str = "generated-Secret-password-1";

fn client(server: &MockServer) -> GrafanaClient {
    GrafanaClient::new(server.uri(), PASSWORD).expect("client")
}

fn spec() -> SeedSpec {
    SeedSpec::unique("http://prometheus.e2e.invalid:9090")
}

/// `GET /api/health`, as documented.
async fn mount_health(server: &MockServer, database: &str, status: u16) {
    Mock::given(method("GET"))
        .and(path("/api/health"))
        .respond_with(ResponseTemplate::new(status).set_body_json(json!({
            "commit": "087143285",
            "database": database,
            "version": "12.2.1",
        })))
        .mount(server)
        .await;
}

/// The three create calls answering as the docs show, each matching only
/// the documented request shape sent with the generated password.
async fn mount_creates(server: &MockServer, s: &SeedSpec) {
    Mock::given(method("POST"))
        .and(path("/api/folders"))
        .and(basic_auth(ADMIN_USER, PASSWORD))
        .and(body_partial_json(
            json!({"uid": s.folder_uid, "title": s.folder_title}),
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": 1,
            "uid": s.folder_uid,
            "title": s.folder_title,
            "url": format!("/dashboards/f/{}/e2e", s.folder_uid),
            "hasAcl": false,
            "canSave": true,
            "canEdit": true,
            "canAdmin": true,
            "createdBy": "admin",
            "created": "2026-11-22T10:00:00Z",
            "updatedBy": "admin",
            "updated": "2026-11-22T10:00:00Z",
            "version": 1,
        })))
        .expect(1)
        .mount(server)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/datasources"))
        .and(basic_auth(ADMIN_USER, PASSWORD))
        .and(body_partial_json(json!({
            "uid": s.datasource_uid,
            "name": s.datasource_name,
            "type": "prometheus",
            "url": s.prometheus_url,
            "access": "proxy",
        })))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "datasource": {
                "id": 7,
                "uid": s.datasource_uid,
                "orgId": 1,
                "name": s.datasource_name,
                "type": "prometheus",
                "access": "proxy",
                "url": s.prometheus_url,
                "version": 1,
                "readOnly": false,
            },
            "id": 7,
            "message": "Datasource added",
            "name": s.datasource_name,
        })))
        .expect(1)
        .mount(server)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/dashboards/db"))
        .and(basic_auth(ADMIN_USER, PASSWORD))
        .and(body_partial_json(json!({
            "dashboard": {"id": null, "uid": s.dashboard_uid, "title": s.dashboard_title},
            "folderUid": s.folder_uid,
            "overwrite": false,
        })))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": 11,
            "uid": s.dashboard_uid,
            "url": format!("/d/{}/e2e", s.dashboard_uid),
            "status": "success",
            "version": 1,
            "slug": "e2e",
        })))
        .expect(1)
        .mount(server)
        .await;
}

/// The three reads answering with the stored objects; `dashboard` is the
/// stored dashboard JSON and `version` its `meta.version`.
async fn mount_reads(server: &MockServer, s: &SeedSpec, dashboard: Value, version: i64) {
    Mock::given(method("GET"))
        .and(path(format!("/api/dashboards/uid/{}", s.dashboard_uid)))
        .and(basic_auth(ADMIN_USER, PASSWORD))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "dashboard": dashboard,
            "meta": {
                "isStarred": false,
                "url": format!("/d/{}/e2e", s.dashboard_uid),
                "folderId": 1,
                "folderUid": s.folder_uid,
                "slug": "e2e",
                "version": version,
            },
        })))
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("/api/datasources/uid/{}", s.datasource_uid)))
        .and(basic_auth(ADMIN_USER, PASSWORD))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": 7,
            "uid": s.datasource_uid,
            "orgId": 1,
            "name": s.datasource_name,
            "type": "prometheus",
            "typeLogoUrl": "",
            "access": "proxy",
            "url": s.prometheus_url,
            "user": "",
            "database": "",
            "basicAuth": false,
            "isDefault": false,
            "jsonData": {},
            "secureJsonFields": {},
            "version": 1,
            "readOnly": false,
        })))
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("/api/folders/{}", s.folder_uid)))
        .and(basic_auth(ADMIN_USER, PASSWORD))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": 1,
            "uid": s.folder_uid,
            "title": s.folder_title,
            "url": format!("/dashboards/f/{}/e2e", s.folder_uid),
            "version": 1,
        })))
        .mount(server)
        .await;
}

/// The stored dashboard as Grafana returns it: what was sent plus `version`.
fn stored(s: &SeedSpec, version: i64) -> Value {
    let mut d = s.dashboard_json();
    d["id"] = json!(11);
    d["version"] = json!(version);
    d
}

/// A Grafana whose database holds the seed, seeded and snapshotted through it.
async fn seeded_snapshot(s: &SeedSpec) -> (MockServer, Seeded, Snapshot) {
    let server = MockServer::start().await;
    mount_health(&server, "ok", 200).await;
    mount_creates(&server, s).await;
    mount_reads(&server, s, stored(s, 1), 1).await;
    let c = client(&server);
    let seeded = c.seed(s).await.expect("seed");
    let snap = c.snapshot(&seeded.uids(), None).await.expect("snapshot");
    (server, seeded, snap)
}

#[tokio::test]
async fn contract_seed_sends_documented_bodies_and_snapshot_reads_them_back() {
    let s = spec();
    let (_server, seeded, snap) = seeded_snapshot(&s).await;
    assert_eq!(seeded.dashboard_version, 1);
    assert_eq!(seeded.dashboard_id, Some(11));
    assert_eq!(seeded.datasource_id, Some(7));
    assert_eq!(seeded.folder_id, Some(1));

    assert_eq!(snap.health.database, "ok");
    let d = snap.dashboard.as_ref().expect("dashboard read back");
    assert_eq!(d.title, s.dashboard_title);
    assert_eq!(d.version, 1);
    assert_eq!(d.folder_uid.as_deref(), Some(s.folder_uid.as_str()));
    assert_eq!(d.panels.len(), 2);
    let ds = snap.datasource.as_ref().expect("datasource read back");
    assert_eq!(
        (ds.kind.as_str(), ds.url.as_str()),
        ("prometheus", s.prometheus_url.as_str())
    );
    assert_eq!(
        snap.folder.as_ref().map(|f| f.title.as_str()),
        Some(s.folder_title.as_str())
    );
    assert_eq!(snap.db_file, DbFile::NotChecked);

    let j = compare(&snap, &snap);
    assert_eq!(j.verdict, Verdict::Survived, "{j:?}");
}

#[tokio::test]
async fn contract_compare_says_lost_naming_each_object_that_answers_404() {
    let s = spec();
    let (_before_server, _seeded, before) = seeded_snapshot(&s).await;

    // A fresh Grafana (empty database): every read is the documented 404.
    let after_server = MockServer::start().await;
    mount_health(&after_server, "ok", 200).await;
    for (p, message) in [
        (
            format!("/api/dashboards/uid/{}", s.dashboard_uid),
            "Dashboard not found",
        ),
        (
            format!("/api/datasources/uid/{}", s.datasource_uid),
            "Data source not found",
        ),
        (format!("/api/folders/{}", s.folder_uid), "folder not found"),
    ] {
        Mock::given(method("GET"))
            .and(path(p))
            .respond_with(ResponseTemplate::new(404).set_body_json(json!({"message": message})))
            .mount(&after_server)
            .await;
    }
    let after = client(&after_server)
        .snapshot(&before.uids, None)
        .await
        .expect("a 404 is evidence, not an error");
    let j = compare(&before, &after);
    assert_eq!(
        j.verdict,
        Verdict::Lost {
            parts: vec![
                Part::object(PartKind::Dashboard, &s.dashboard_uid),
                Part::object(PartKind::Datasource, &s.datasource_uid),
                Part::object(PartKind::Folder, &s.folder_uid),
            ]
        }
    );
}

#[tokio::test]
async fn contract_compare_says_changed_for_version_and_panels() {
    let s = spec();
    let (_before_server, _seeded, before) = seeded_snapshot(&s).await;

    let after_server = MockServer::start().await;
    mount_health(&after_server, "ok", 200).await;
    let mut d = stored(&s, 2);
    d["panels"].as_array_mut().expect("panels").truncate(1);
    mount_reads(&after_server, &s, d, 2).await;
    let after = client(&after_server)
        .snapshot(&before.uids, None)
        .await
        .expect("snapshot");
    let j = compare(&before, &after);
    let Verdict::Changed { parts } = &j.verdict else {
        panic!("expected Changed, got {j:?}");
    };
    assert_eq!(parts.len(), 2, "{parts:?}");
    assert_eq!(
        parts[0],
        Part::object(PartKind::Dashboard, &s.dashboard_uid).with_evidence("version 1 -> 2")
    );
    let panels = parts[1].evidence.as_deref().unwrap_or_default();
    assert!(
        parts[1].kind == PartKind::Dashboard && panels.starts_with("panels [1 "),
        "{}",
        parts[1]
    );
}

#[tokio::test]
async fn contract_judge_after_measures_recovery_from_the_disruption() {
    let s = spec();
    let (server, _seeded, before) = seeded_snapshot(&s).await;
    let disrupted_at = Instant::now()
        .checked_sub(Duration::from_secs(2))
        .expect("monotonic clock is older than 2s");
    let (j, after) = client(&server)
        .judge_after(&before, disrupted_at, Duration::from_secs(5), None)
        .await
        .expect("judge");
    assert_eq!(j.verdict, Verdict::Survived);
    assert!(
        j.recovery.is_some_and(|r| r >= Duration::from_secs(2)),
        "{j:?}"
    );
    assert_eq!(after, before);
}

#[tokio::test]
async fn contract_401_says_the_generated_password_was_rejected() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/folders"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({
            "message": "Invalid username or password",
            "messageId": "password-auth.failed",
            "statusCode": 401,
        })))
        .mount(&server)
        .await;
    let e = client(&server).seed(&spec()).await.expect_err("401");
    assert!(matches!(e, Error::HttpStatus { status: 401, .. }), "{e:?}");
    let msg = e.to_string();
    assert!(
        msg.starts_with(&format!(
            "POST {}/api/folders sent basic auth admin:<generated password> and JSON {{",
            server.uri()
        )),
        "{msg}"
    );
    assert!(
        msg.contains("password from the generated Secret was rejected"),
        "{msg}"
    );
    assert!(msg.contains("grafana#4923"), "{msg}");
    assert!(msg.contains("Invalid username or password"), "{msg}");
    assert!(
        !msg.contains(PASSWORD),
        "the password must never be shown: {msg}"
    );
}

#[tokio::test]
async fn contract_404_on_create_says_what_was_sent_and_what_came_back() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/folders"))
        .respond_with(ResponseTemplate::new(404).set_body_json(json!({"message": "Not found"})))
        .mount(&server)
        .await;
    let s = spec();
    let e = client(&server).seed(&s).await.expect_err("404");
    let msg = e.to_string();
    assert!(matches!(e, Error::HttpStatus { status: 404, .. }), "{e:?}");
    assert!(
        msg.contains(&format!("\"uid\":\"{}\"", s.folder_uid)),
        "{msg}"
    );
    assert!(msg.contains("got 404: not found"), "{msg}");
    assert!(msg.contains("sub-path"), "{msg}");
    assert!(
        msg.ends_with(r#"Grafana answered {"message":"Not found"}"#),
        "{msg}"
    );
}

/// Folder and datasource succeed; the dashboard create answers `answer`.
async fn dashboard_create_fails_with(answer: ResponseTemplate) -> (SeedSpec, Error) {
    let s = spec();
    let server = MockServer::start().await;
    let ok = |body: Value| ResponseTemplate::new(200).set_body_json(body);
    Mock::given(method("POST"))
        .and(path("/api/folders"))
        .respond_with(ok(
            json!({"id": 1, "uid": s.folder_uid, "title": s.folder_title}),
        ))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/datasources"))
        .respond_with(ok(
            json!({"id": 7, "message": "Datasource added", "name": s.datasource_name}),
        ))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/dashboards/db"))
        .respond_with(answer)
        .mount(&server)
        .await;
    let e = client(&server)
        .seed(&s)
        .await
        .expect_err("dashboard create fails");
    (s, e)
}

#[tokio::test]
async fn contract_412_version_mismatch_is_named() {
    let (s, e) = dashboard_create_fails_with(ResponseTemplate::new(412).set_body_json(json!({
        "message": "The dashboard has been changed by someone else",
        "status": "version-mismatch",
    })))
    .await;
    assert!(matches!(e, Error::HttpStatus { status: 412, .. }), "{e:?}");
    let msg = e.to_string();
    assert!(msg.contains("/api/dashboards/db"), "{msg}");
    assert!(
        msg.contains(&s.dashboard_uid),
        "the sent dashboard uid is shown: {msg}"
    );
    assert!(
        msg.contains("got 412: version-mismatch: a dashboard with this uid already exists"),
        "{msg}"
    );
    assert!(msg.contains("changed by someone else"), "{msg}");
}

#[tokio::test]
async fn contract_412_name_exists_is_named() {
    let (_s, e) = dashboard_create_fails_with(ResponseTemplate::new(412).set_body_json(json!({
        "message": "A dashboard with the same name in the folder already exists",
        "status": "name-exists",
    })))
    .await;
    let msg = e.to_string();
    assert!(
        msg.contains("got 412: name-exists: a dashboard with this title already exists"),
        "{msg}"
    );
    assert!(!msg.contains("version-mismatch"), "{msg}");
}

#[tokio::test]
async fn contract_non_json_answer_is_a_parse_error_showing_the_body() {
    // A reverse proxy or the UI's index page answering instead of the API.
    let (_s, e) = dashboard_create_fails_with(ResponseTemplate::new(200).set_body_raw(
        "<!doctype html><html><head><title>Grafana</title></head></html>",
        "text/html",
    ))
    .await;
    assert!(matches!(e, Error::Parse { .. }), "{e:?}");
    let msg = e.to_string();
    assert!(msg.contains("the answer to POST"), "{msg}");
    assert!(
        msg.contains("/api/dashboards/db (sent basic auth admin:<generated password> and JSON"),
        "{msg}"
    );
    assert!(msg.contains("not JSON"), "{msg}");
    assert!(msg.contains("status 200, content-type text/html"), "{msg}");
    assert!(msg.contains("<title>Grafana</title>"), "{msg}");
}

#[tokio::test]
async fn contract_non_json_health_is_a_parse_error() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/health"))
        .respond_with(ResponseTemplate::new(200).set_body_string("OK"))
        .mount(&server)
        .await;
    let e = client(&server).health().await.expect_err("not JSON");
    let msg = e.to_string();
    assert!(msg.contains("/api/health (sent no credentials)"), "{msg}");
    assert!(
        msg.contains("not JSON") && msg.ends_with("body: OK"),
        "{msg}"
    );
}

#[tokio::test]
async fn contract_unexpected_read_status_is_an_error_not_a_loss() {
    let s = spec();
    let server = MockServer::start().await;
    mount_health(&server, "ok", 200).await;
    Mock::given(method("GET"))
        .and(path(format!("/api/dashboards/uid/{}", s.dashboard_uid)))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({"message": "Unauthorized"})))
        .mount(&server)
        .await;
    let e = client(&server)
        .snapshot(&s.uids(), None)
        .await
        .expect_err("401 on read");
    assert!(
        e.to_string().contains("GET ") && e.to_string().contains("got 401"),
        "{e}"
    );
}

#[tokio::test]
async fn contract_wait_healthy_times_out_saying_the_database_status() {
    let server = MockServer::start().await;
    mount_health(&server, "failing", 503).await;
    let e = client(&server)
        .wait_healthy(Duration::from_millis(1200))
        .await
        .expect_err("never ok");
    let msg = e.to_string();
    assert!(matches!(e, Error::Timeout { .. }), "{e:?}");
    assert!(msg.ends_with(r#"last seen: database "failing""#), "{msg}");
}

/// An [`Exec`] stub answering `stat` like the image's busybox would.
struct StubExec {
    code: i32,
    stdout: &'static str,
    stderr: &'static str,
}

#[async_trait::async_trait]
impl Exec for StubExec {
    async fn exec(&self, argv: &[&str], _stdin: Option<&[u8]>) -> Result<crate::cmd::Output> {
        assert_eq!(argv, ["stat", "-c", "%u %g %s %a", DB_FILE]);
        Ok(crate::cmd::Output {
            code: Some(self.code),
            stdout: self.stdout.into(),
            stderr: self.stderr.into(),
        })
    }

    fn target(&self) -> String {
        "stub".into()
    }
}

#[tokio::test]
async fn contract_snapshot_records_the_db_file_through_exec() {
    let s = spec();
    let (server, seeded, _) = seeded_snapshot(&s).await;
    let c = client(&server);
    let present = StubExec {
        code: 0,
        stdout: "472 0 1040384 640\n",
        stderr: "",
    };
    let before = c
        .snapshot(&seeded.uids(), Some(&present))
        .await
        .expect("snapshot");
    assert_eq!(
        before.db_file,
        DbFile::Present {
            uid: 472,
            gid: 0,
            size: 1_040_384,
            mode: "640".into()
        }
    );
    let missing = StubExec {
        code: 1,
        stdout: "",
        stderr: "stat: can't stat '/var/lib/grafana/grafana.db': No such file or directory",
    };
    let after = c
        .snapshot(&seeded.uids(), Some(&missing))
        .await
        .expect("snapshot");
    let j = compare(&before, &after);
    assert_eq!(
        j.verdict,
        Verdict::Lost {
            parts: vec![Part::object(PartKind::GrafanaDb, "/var/lib/grafana")]
        }
    );
    assert!(
        j.details.iter().any(|d| d.contains("No such file")),
        "{:?}",
        j.details
    );
}
