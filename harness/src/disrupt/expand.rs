//! [`volume_expand`]: grow a running Prometheus's claim by [`GROW_BY`].
//!
//! Three ways it can go, each an answer the cell reports:
//! - the API server refuses the new size (a class without
//!   `allowVolumeExpansion`, a static volume): recorded as
//!   [`Reason::ExpansionForbidden`], nothing else is done;
//! - the driver grows the volume online: the filesystem in the running pod
//!   grows, no restart;
//! - the driver grows volumes offline only (the CSI resizer says so in a
//!   `VolumeResizeFailed` event): the harness does what the CSI spec leaves
//!   to the user, stops Prometheus (its workload scaled to 0) until the
//!   claim has grown, and starts it again.
//!
//! Either growing way must end with the pod's filesystem grown, or the
//! disruption fails: an expansion that never reaches the filesystem is not
//! a survivor.

use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Event, PersistentVolumeClaim, Pod};
use kube::api::{Api, ListParams, Patch, PatchParams};
use serde_json::json;

use super::data::{replicas, scale};
use super::target::{Applied, Target, data_claim};
use super::volume::{Df, df, quantity_bytes};
use crate::error::{Error, Result, chain};
use crate::exec::PodExec;
use crate::vocab::Reason;
use crate::wait::{Check, poll};
use crate::workload;

/// How much the claim grows.
pub const GROW_BY: u64 = 1 << 30;
/// How long the filesystem gets to grow online, or the resizer to say it
/// cannot while the volume is in use.
pub const EXPAND_TIMEOUT: Duration = Duration::from_secs(180);
/// How long a stopped Prometheus's claim gets to grow offline (the volume
/// must detach first).
pub const OFFLINE_TIMEOUT: Duration = Duration::from_secs(300);
/// How often the filesystem's size and the claim's events are read while
/// waiting (an exec and a list: there is no watch for a filesystem).
const EVERY: Duration = Duration::from_secs(2);

/// What the wait for growth saw first.
enum Grew {
    /// The running pod's filesystem grew.
    Online(Df),
    /// The resizer refused while the volume is in use, in these words.
    OfflineOnly(String),
}

/// Grow the target's data claim by [`GROW_BY`] while Prometheus runs, and
/// see the filesystem grow (online, or offline with a stop).
pub(super) async fn volume_expand(t: &Target<'_>, a: &mut Applied, pod: &Pod) -> Result<()> {
    let (claim_name, claim) = data_claim(t, a.disruption, pod).await?;
    let claims = Api::<PersistentVolumeClaim>::namespaced(t.client.clone(), t.namespace);
    let asked = claim
        .spec
        .as_ref()
        .and_then(|s| s.resources.as_ref())
        .and_then(|r| r.requests.as_ref())
        .and_then(|r| r.get("storage"))
        .map(|q| q.0.clone())
        .unwrap_or_default();
    let asked_bytes = quantity_bytes(&asked).ok_or_else(|| Error::Cannot {
        action: format!("expand claim {claim_name}"),
        why: format!("cannot read its requested size {asked:?} as bytes"),
    })?;
    let grown = asked_bytes + GROW_BY;
    let wanted = if grown.is_multiple_of(1 << 30) {
        format!("{}Gi", grown >> 30)
    } else {
        format!("{}Mi", grown.div_ceil(1 << 20))
    };
    let exec = PodExec::new(
        t.client.clone(),
        t.namespace,
        &a.old_pod,
        t.workload.container,
    );
    let dir = t.workload.data_dir;
    let before = df(&exec, dir).await?;
    let resize = json!({"spec": {"resources": {"requests": {"storage": wanted}}}});
    a.at = Instant::now();
    let patched = claims
        .patch(&claim_name, &PatchParams::default(), &Patch::Merge(&resize))
        .await;
    let said = format!("claim {claim_name} {asked} -> {wanted}");
    match patched {
        Ok(_) => {}
        Err(kube::Error::Api(e)) if e.code == 403 || e.code == 422 => {
            a.refused = Some(Reason::ExpansionForbidden);
            a.figures.expansion = Some(format!("{said}: refused by the API server: {}", e.message));
            a.steps
                .push(format!("{said}: the API server refused: {}", e.message));
            return Ok(());
        }
        Err(e) => return Err(Error::kube(format!("resize {said}"), e)),
    }
    a.steps.push(format!(
        "{said} while {} runs; df before: {before}",
        a.old_pod
    ));
    a.marks.push((a.at, "claim resized".into()));
    t.say(format!(
        "{said}: waiting up to {:.0}s for the filesystem to grow or the resizer to refuse",
        EXPAND_TIMEOUT.as_secs_f64()
    ));
    let grows_to = before.size_kib() + GROW_BY / 1024 * 9 / 10;
    let grew = poll(
        &format!(
            "the filesystem of {} to grow past {grows_to} KiB",
            a.old_pod
        ),
        EXPAND_TIMEOUT,
        EVERY,
        || seen_growth(t, &exec, dir, &claim_name, grows_to),
    )
    .await?;
    match grew {
        Grew::Online(after) => {
            a.marks.push((Instant::now(), "filesystem grown".into()));
            a.figures.expand_seconds = Some(a.at.elapsed().as_secs_f64());
            a.figures.expansion = Some(format!(
                "{said}: grown online, no restart; df {before} -> {after}"
            ));
            a.steps.push(format!(
                "grown online after {:.1}s, {} kept running: df {after}",
                a.at.elapsed().as_secs_f64(),
                a.old_pod
            ));
        }
        Grew::OfflineOnly(message) => {
            a.steps
                .push(format!("the resizer refused while in use: {message}"));
            let after = grow_offline(t, a, &claims, &claim_name, grown, grows_to).await?;
            a.figures.expand_seconds = Some(a.at.elapsed().as_secs_f64());
            a.figures.expansion = Some(format!(
                "{said}: offline only (the resizer: {message}); grown with Prometheus stopped; df \
                 {before} -> {after}"
            ));
        }
    }
    Ok(())
}

/// One look: the filesystem's size in the pod, and the claim's events.
async fn seen_growth(
    t: &Target<'_>,
    exec: &PodExec,
    dir: &str,
    claim: &str,
    grows_to: u64,
) -> Check<Grew> {
    let size = match df(exec, dir).await {
        Ok(d) if d.size_kib() >= grows_to => return Check::Ready(Grew::Online(d)),
        Ok(d) => d.to_string(),
        Err(e) => chain(&e),
    };
    let events = Api::<Event>::namespaced(t.client.clone(), t.namespace)
        .list(&ListParams::default().fields(&format!(
            "involvedObject.kind=PersistentVolumeClaim,involvedObject.name={claim},reason=VolumeResizeFailed"
        )))
        .await;
    match events {
        Ok(list) => match list
            .items
            .iter()
            .filter_map(|e| e.message.clone())
            .find(|m| m.contains("offline"))
        {
            Some(m) => Check::Ready(Grew::OfflineOnly(m)),
            None => Check::NotYet(format!("df {size}; no offline refusal from the resizer")),
        },
        Err(e) => Check::NotYet(format!("df {size}; events: {e}")),
    }
}

/// The offline way: stop Prometheus, wait until the claim's capacity is
/// `bytes`, start it again and read the new pod's filesystem, which must
/// have grown past `grows_to` KiB.
async fn grow_offline(
    t: &Target<'_>,
    a: &mut Applied,
    claims: &Api<PersistentVolumeClaim>,
    claim: &str,
    bytes: u64,
    grows_to: u64,
) -> Result<Df> {
    let n = replicas(t).await?;
    t.say(format!(
        "offline only: stopping {} until claim {claim} has grown",
        t.workload.name
    ));
    a.marks
        .push((Instant::now(), "stopped for an offline expansion".into()));
    scale(t, 0).await?;
    a.scaled_from = Some(n);
    let stopped = Instant::now();
    // The controller's part is done when the claim has the new capacity,
    // or (a filesystem to grow on the node) says FileSystemResizePending:
    // its capacity changes only once the kubelet has grown the filesystem,
    // which needs the pod back.
    let state = crate::wait::watch_object(
        claims.clone(),
        claim,
        &format!("claim {claim} to grow to {bytes} bytes with its pod stopped"),
        OFFLINE_TIMEOUT,
        |c| {
            let status = c.and_then(|c| c.status.as_ref())?;
            let capacity = status
                .capacity
                .as_ref()
                .and_then(|c| c.get("storage"))
                .and_then(|q| quantity_bytes(&q.0));
            if capacity.is_some_and(|b| b >= bytes) {
                return Some("capacity grown".to_owned());
            }
            status
                .conditions
                .iter()
                .flatten()
                .find(|c| c.type_ == "FileSystemResizePending" && c.status == "True")
                .map(|c| {
                    format!(
                        "FileSystemResizePending: {}",
                        c.message.as_deref().unwrap_or("(no message)")
                    )
                })
        },
        |c| {
            c.and_then(|c| c.status.as_ref())
                .map(|s| format!("capacity {:?}, conditions {:?}", s.capacity, s.conditions))
                .unwrap_or_else(|| "no status".into())
        },
    )
    .await?;
    a.marks.push((Instant::now(), "claim grown".into()));
    scale(t, n).await?;
    a.scaled_from = None;
    let pod = workload::watch_pods(
        &t.client,
        t.namespace,
        &t.workload,
        &format!("{} to be Ready again on the grown claim", t.workload.name),
        OFFLINE_TIMEOUT,
        |pods| {
            pods.values()
                .find(|p| {
                    workload::is_ready(p) && p.metadata.uid.as_deref() != Some(a.old_uid.as_str())
                })
                .and_then(|p| p.metadata.name.clone())
        },
    )
    .await?;
    let exec = PodExec::new(t.client.clone(), t.namespace, &pod, t.workload.container);
    let after = df(&exec, t.workload.data_dir).await?;
    if after.size_kib() < grows_to {
        return Err(Error::Cannot {
            action: format!("expand claim {claim} offline"),
            why: format!(
                "the claim reports {bytes} bytes but the filesystem in {pod} is {after} (wanted at \
                 least {grows_to} KiB): the expansion never reached the filesystem"
            ),
        });
    }
    a.steps.push(format!(
        "scaled {} to 0; claim {claim}: {state}; scaled back: {pod} Ready after {:.1}s with df \
         {after}",
        t.workload.name,
        stopped.elapsed().as_secs_f64()
    ));
    Ok(after)
}
