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
pub const FIELD_MANAGER: &str = "storage-e2e";
/// How long an addon's Deployments and DaemonSets get to become ready.
pub const ADDON_READY_TIMEOUT: Duration = Duration::from_secs(180);
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
pub async fn apply_all<'a>(
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
pub async fn delete_all<'a>(
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
pub async fn wait_ready(client: &Client, objects: &[&Manifest]) -> Result<()> {
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
