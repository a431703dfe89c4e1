//! A stub Kubernetes API server for contract tests (test builds only):
//! wiremock answering list + watch requests in the shapes of the Kubernetes
//! API reference. It checks the requests the harness sends and how it
//! follows a watch, never a cluster's behaviour.

use kube::Client;
use serde_json::{Value, json};
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// A kube client talking to `server`.
pub(crate) fn client(server: &MockServer) -> Client {
    let url = server.uri().parse().expect("stub API server URL");
    Client::try_from(kube::Config::new(url)).expect("client for the stub API server")
}

/// Serve `items` as the list at `url_path` (a `kind` list at
/// resourceVersion 1) and `events` (`{"type": .., "object": ..}`) as its watch stream, one
/// JSON document per line, as the API server streams them.
pub(crate) async fn list_and_watch(
    server: &MockServer,
    url_path: &str,
    kind: &str,
    items: Vec<Value>,
    events: &[Value],
) {
    let body: String = events.iter().map(|e| format!("{e}\n")).collect();
    Mock::given(method("GET"))
        .and(path(url_path))
        .and(query_param("watch", "true"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(body, "application/json"))
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path(url_path))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "kind": kind, "apiVersion": "v1", "metadata": {"resourceVersion": "1"}, "items": items
        })))
        .mount(server)
        .await;
}
