//! A `Prometheus` resource the operator will not act on (a Secret it
//! names is missing, a field combination it refuses): the operator says so
//! in the resource's `Reconciled=False` condition and makes no pods, so
//! the deploy wait would only time out on "no pods". Watching the
//! condition turns that into one line with the operator's own words.

use std::time::Duration;

use kube::{Api, Client};

use crate::error::Error;
use crate::manifest::PROMETHEUS;
use crate::manifest::prometheus_resource::PrometheusResource;
use crate::wait::watch_object;

/// How long `Reconciled=False` must last to count as a rejection: the
/// operator also reports a failed sync it retries at once (a conflicting
/// update), which clears within seconds.
const REJECTED_FOR: Duration = Duration::from_secs(30);

/// Resolves with the operator's reason and message once it has refused
/// the cell's resource for [`REJECTED_FOR`]; never resolves while the
/// resource is being reconciled (the caller races it with the deploy
/// wait, whose own timeout bounds both).
pub(crate) async fn rejected(client: &Client, ns: &str, timeout: Duration) -> String {
    let api: Api<PrometheusResource> = Api::namespaced(client.clone(), ns);
    loop {
        let said = watch_object(
            api.clone(),
            PROMETHEUS,
            "the operator to refuse the Prometheus resource",
            timeout,
            |p| p.and_then(PrometheusResource::rejection),
            |_| String::new(),
        )
        .await;
        let Ok(said) = said else {
            // No refusal within the deploy's own bound: that wait says why.
            return std::future::pending().await;
        };
        let cleared = watch_object(
            api.clone(),
            PROMETHEUS,
            "the operator to reconcile the Prometheus resource",
            REJECTED_FOR,
            |p| p.is_some_and(|p| p.rejection().is_none()).then_some(()),
            |_| String::new(),
        )
        .await;
        match cleared {
            Ok(()) => continue,
            Err(Error::Timeout { .. }) => return said,
            Err(_) => return std::future::pending().await,
        }
    }
}

/// The deploy's error for a refused resource: the operator's words and
/// where the resource comes from.
pub(crate) fn rejection_error(ns: &str, variant: &str, said: &str) -> Error {
    Error::Cannot {
        action: format!("run Prometheus {ns}/{PROMETHEUS} (variant {variant})"),
        why: format!(
            "prometheus-operator refused the resource for {}s: {said}; fix \
             manifests/storage/{variant}/ or manifests/base-operator/",
            REJECTED_FOR.as_secs()
        ),
    }
}
