//! Applying rendered manifests to a cluster, and removing them again.
//!
//! Server-side apply through the typed object's own API resource (no
//! discovery round-trips): the same objects `make render` prints are what
//! the cluster receives.

use std::time::Duration;

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment};
use kube::Client;
use kube::api::{Api, DeleteParams, DynamicObject, Patch, PatchParams};
use kube::core::ApiResource;

use super::{Manifest, Object};
use crate::error::{Error, Result};
use crate::wait::{Check, poll};

/// The field manager name the harness applies with.
pub(crate) const FIELD_MANAGER: &str = "storage-e2e";
/// How long an addon's Deployments and DaemonSets get to become ready.
pub(crate) const ADDON_READY_TIMEOUT: Duration = Duration::from_secs(180);
/// Pause between two readiness checks of an addon.
const ADDON_POLL: Duration = Duration::from_secs(2);

fn api_for(client: &Client, o: &Object, ar: &ApiResource) -> Api<DynamicObject> {
    match o.namespace() {
        Some(ns) if !o.is_cluster_scoped() => Api::namespaced_with(client.clone(), ns, ar),
        _ => Api::all_with(client.clone(), ar),
    }
}

/// Server-side apply every object, in order, forcing ownership of the
/// fields the harness sets.
///
/// # Errors
/// [`Error::Kube`] naming the object and the file it came from.
pub(crate) async fn apply_all<'a>(
    client: &Client,
    objects: impl IntoIterator<Item = &'a Manifest>,
) -> Result<()> {
    let pp = PatchParams::apply(FIELD_MANAGER).force();
    for m in objects {
        let ar = m.object.api_resource();
        let json = m
            .object
            .to_json()
            .map_err(|e| Error::parse(format!("{} as JSON", m.object.id()), e.to_string()))?;
        api_for(client, &m.object, &ar)
            .patch(m.object.name(), &pp, &Patch::Apply(json))
            .await
            .map_err(|e| {
                Error::kube(
                    format!("apply {} from {}", m.object.id(), m.source.file.display()),
                    e,
                )
            })?;
    }
    Ok(())
}

/// Delete the given objects (cluster-scoped ones and namespaces included),
/// ignoring those already gone. Used after a cell, since the cell's PVs and
/// StorageClasses outlive its namespace.
///
/// # Errors
/// The first deletion that failed for another reason than 404.
pub(crate) async fn delete_all<'a>(
    client: &Client,
    objects: impl IntoIterator<Item = &'a Manifest>,
) -> Result<()> {
    let mut first = None;
    for m in objects {
        let ar = m.object.api_resource();
        match api_for(client, &m.object, &ar)
            .delete(m.object.name(), &DeleteParams::background())
            .await
        {
            Ok(_) => {}
            Err(kube::Error::Api(s)) if s.code == 404 => {}
            Err(e) => {
                first.get_or_insert(Error::kube(format!("delete {}", m.object.id()), e));
            }
        }
    }
    first.map_or(Ok(()), Err)
}

/// Wait until every Deployment and DaemonSet among `objects` is fully
/// available (an addon such as csi-driver-nfs is usable only then).
///
/// # Errors
/// [`Error::Timeout`] naming the workloads still not ready.
pub(crate) async fn wait_ready(client: &Client, objects: &[&Manifest]) -> Result<()> {
    let what = format!(
        "{} to be ready",
        objects
            .iter()
            .map(|m| m.object.id())
            .collect::<Vec<_>>()
            .join(", ")
    );
    poll(&what, ADDON_READY_TIMEOUT, ADDON_POLL, || async {
        let mut waiting = Vec::new();
        for m in objects {
            let ns = m.object.namespace().unwrap_or("default");
            let ready = match &m.object {
                Object::Deployment(_) => Api::<Deployment>::namespaced(client.clone(), ns)
                    .get(m.object.name())
                    .await
                    .map(|d| {
                        let want = d.spec.and_then(|s| s.replicas).unwrap_or(1);
                        let have = d.status.and_then(|s| s.available_replicas).unwrap_or(0);
                        (have >= want, format!("{have}/{want} available"))
                    }),
                Object::DaemonSet(_) => Api::<DaemonSet>::namespaced(client.clone(), ns)
                    .get(m.object.name())
                    .await
                    .map(|d| {
                        let s = d.status.unwrap_or_default();
                        (
                            s.desired_number_scheduled > 0
                                && s.number_ready == s.desired_number_scheduled,
                            format!("{}/{} ready", s.number_ready, s.desired_number_scheduled),
                        )
                    }),
                _ => continue,
            };
            match ready {
                Ok((true, _)) => {}
                Ok((false, state)) => waiting.push(format!("{} {state}", m.object.id())),
                Err(e) => waiting.push(format!("{} ({e})", m.object.id())),
            }
        }
        if waiting.is_empty() {
            Check::Ready(())
        } else {
            Check::NotYet(waiting.join("; "))
        }
    })
    .await
}

/// Install an addon: its CustomResourceDefinitions first, then, once the
/// API server serves them (condition Established), everything else; then
/// wait until its workloads are ready and every CSI driver it has a node
/// plugin for is registered with every node's kubelet.
///
/// Why the last wait: a node plugin Pod is Ready as soon as its process
/// runs, but the kubelet calls the plugin's registration socket, then
/// NodeGetInfo, and only then lists the driver in the node's CSINode, which
/// the external-attacher needs. A volume attached before that fails with
/// "driver name ... not found in the list of registered CSI drivers".
///
/// # Errors
/// As [`apply_all`] and [`wait_ready`]; [`Error::Timeout`] naming the
/// CRDs not established or the nodes whose CSINode lacks the driver.
pub(crate) async fn install_addon(client: &Client, objects: &[Manifest]) -> Result<()> {
    let (crds, rest): (Vec<&Manifest>, Vec<&Manifest>) = objects
        .iter()
        .partition(|m| matches!(m.object, Object::CustomResourceDefinition(_)));
    apply_all(client, crds.iter().copied()).await?;
    wait_established(client, &crds).await?;
    apply_all(client, rest.iter().copied()).await?;
    wait_ready(client, &rest).await?;
    let drivers: Vec<&str> = rest
        .iter()
        .filter(|m| matches!(m.object, Object::CsiDriver(_)))
        .map(|m| m.object.name())
        .collect();
    let has_node_plugin = rest
        .iter()
        .any(|m| matches!(m.object, Object::DaemonSet(_)));
    if has_node_plugin {
        for driver in drivers {
            wait_registered(client, driver).await?;
        }
    }
    Ok(())
}

async fn wait_established(client: &Client, crds: &[&Manifest]) -> Result<()> {
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
    if crds.is_empty() {
        return Ok(());
    }
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    let names: Vec<&str> = crds.iter().map(|m| m.object.name()).collect();
    poll(
        &format!(
            "CustomResourceDefinitions {} to be established",
            names.join(", ")
        ),
        ADDON_READY_TIMEOUT,
        ADDON_POLL,
        || async {
            let mut waiting = Vec::new();
            for name in &names {
                let established = api.get(name).await.map(|crd| {
                    crd.status
                        .and_then(|s| s.conditions)
                        .unwrap_or_default()
                        .iter()
                        .any(|c| c.type_ == "Established" && c.status == "True")
                });
                match established {
                    Ok(true) => {}
                    Ok(false) => waiting.push(format!("{name} not Established")),
                    Err(e) => waiting.push(format!("{name} ({e})")),
                }
            }
            if waiting.is_empty() {
                Check::Ready(())
            } else {
                Check::NotYet(waiting.join("; "))
            }
        },
    )
    .await
}

/// Wait until every node's CSINode lists `driver`.
async fn wait_registered(client: &Client, driver: &str) -> Result<()> {
    use k8s_openapi::api::core::v1::Node;
    use k8s_openapi::api::storage::v1::CSINode;
    let nodes: Api<Node> = Api::all(client.clone());
    let csinodes: Api<CSINode> = Api::all(client.clone());
    poll(
        &format!("CSI driver {driver} to be registered on every node (CSINode)"),
        ADDON_READY_TIMEOUT,
        ADDON_POLL,
        || async {
            let (all, registered) = match (
                nodes.list(&Default::default()).await,
                csinodes.list(&Default::default()).await,
            ) {
                (Ok(n), Ok(c)) => (n.items, c.items),
                (Err(e), _) | (_, Err(e)) => return Check::NotYet(format!("listing failed: {e}")),
            };
            let missing: Vec<String> = all
                .iter()
                .filter_map(|n| n.metadata.name.clone())
                .filter(|name| {
                    !registered.iter().any(|c| {
                        c.metadata.name.as_deref() == Some(name.as_str())
                            && c.spec.drivers.iter().any(|d| d.name == driver)
                    })
                })
                .collect();
            if missing.is_empty() {
                Check::Ready(())
            } else {
                Check::NotYet(format!("not yet on {}", missing.join(", ")))
            }
        },
    )
    .await
}

#[cfg(test)]
mod contract_tests {
    //! Contract tests: the requests the harness sends, checked against a
    //! stub API server (wiremock) that answers in the shapes of the
    //! Kubernetes API reference. They prove the URLs, verbs and patch types,
    //! not any cluster's behaviour.
    use super::*;
    use crate::config::Images;
    use crate::config::default_dir;
    use crate::manifest::{Params, render};
    use crate::vocab::Variant;
    use wiremock::matchers::{header, method, path, query_param};
    use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

    /// Answers a server-side apply with the object it was sent, as the API
    /// server does (plus what it would add).
    struct EchoApplied;

    impl Respond for EchoApplied {
        fn respond(&self, req: &Request) -> ResponseTemplate {
            let mut body: serde_json::Value =
                serde_json::from_slice(&req.body).unwrap_or(serde_json::Value::Null);
            body["metadata"]["uid"] = "00000000-0000-0000-0000-000000000001".into();
            body["metadata"]["resourceVersion"] = "1".into();
            ResponseTemplate::new(200).set_body_json(body)
        }
    }

    use crate::stub_api::client;

    #[tokio::test]
    async fn contract_apply_sends_one_forced_server_side_apply_per_object_to_its_resource_path() {
        let server = MockServer::start().await;
        Mock::given(method("PATCH"))
            .and(query_param("fieldManager", FIELD_MANAGER))
            .and(query_param("force", "true"))
            .and(header("content-type", "application/apply-patch+yaml"))
            .respond_with(EchoApplied)
            .mount(&server)
            .await;
        let rendered = render(&default_dir(), Variant::LocalPv, &Params::placeholder())
            .expect("local-pv renders");
        apply_all(&client(&server), rendered.objects())
            .await
            .expect("every apply answered 200");

        let sent = server.received_requests().await.expect("requests recorded");
        let paths: Vec<String> = sent.iter().map(|r| r.url.path().to_owned()).collect();
        assert_eq!(paths.len(), rendered.objects().len(), "{paths:#?}");
        let ns = "e2e-render";
        for expected in [
            format!("/api/v1/namespaces/{ns}"),
            format!("/api/v1/namespaces/{ns}/configmaps/prometheus-config"),
            format!("/apis/apps/v1/namespaces/{ns}/deployments/prometheus"),
            format!("/api/v1/namespaces/{ns}/persistentvolumeclaims/prometheus-data"),
            format!("/apis/storage.k8s.io/v1/storageclasses/{ns}-local"),
        ] {
            assert!(paths.contains(&expected), "{expected} not among {paths:#?}");
        }
        // Cluster-scoped objects never go to a namespaced path.
        for p in &paths {
            if p.contains("/persistentvolumes/") || p.contains("/storageclasses/") {
                assert!(!p.contains("/namespaces/"), "{p}");
            }
        }
    }

    #[tokio::test]
    async fn contract_apply_errors_name_the_object_and_its_file() {
        let server = MockServer::start().await;
        Mock::given(method("PATCH"))
            .respond_with(ResponseTemplate::new(422).set_body_json(serde_json::json!({
                "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "message": "Deployment.apps \"prometheus\" is invalid", "reason": "Invalid", "code": 422
            })))
            .mount(&server)
            .await;
        let rendered = render(
            &default_dir(),
            Variant::EmptyDir,
            &Params::new("e2e-x", Images::default()),
        )
        .expect("empty-dir renders");
        let err = apply_all(&client(&server), rendered.objects())
            .await
            .expect_err("422 is an error")
            .to_string();
        assert!(
            err.starts_with("kubernetes API: apply Namespace/e2e-x from "),
            "{err}"
        );
        assert!(err.ends_with("manifests/base/namespace.yaml"), "{err}");
    }

    #[tokio::test]
    async fn contract_delete_ignores_objects_already_gone() {
        let server = MockServer::start().await;
        Mock::given(method("DELETE"))
            .and(path(
                "/apis/storage.k8s.io/v1/storageclasses/e2e-render-local",
            ))
            .respond_with(ResponseTemplate::new(404).set_body_json(serde_json::json!({
                "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "message": "not found", "reason": "NotFound", "code": 404
            })))
            .mount(&server)
            .await;
        Mock::given(method("DELETE"))
            .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
                "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success"
            })))
            .mount(&server)
            .await;
        let rendered = render(&default_dir(), Variant::LocalPv, &Params::placeholder())
            .expect("local-pv renders");
        let cluster_scoped = rendered
            .objects()
            .iter()
            .filter(|m| m.object.is_cluster_scoped());
        delete_all(&client(&server), cluster_scoped)
            .await
            .expect("404 counts as deleted");
    }
}
