//! The interface every app implements (see the module docs).

use std::time::Instant;

use async_trait::async_trait;
use kube::Client;
use kube::api::Api;

use crate::config::Images;
use crate::error::Result;
use crate::exec::PodExec;
use crate::forward::PortForward;
use crate::progress::Progress;
use crate::timeline::LogClassifier;
use crate::vocab::{App, Judgement};
use crate::workload::{Kind, Workload};

/// What a cell knows about one app, whichever it is.
pub(crate) trait AppFacts: Send + Sync {
    /// Which app: the expectation table's column.
    fn app(&self) -> App;
    /// Its workload in the plain setup's manifests (the name its objects
    /// and pods start with; a setup may run it under another, see
    /// `Workload::prometheus_of`).
    fn workload(&self) -> Workload;
    /// How its workload is run where the setup does not say otherwise.
    fn kind(&self) -> Kind;
    /// The image image-upgrade moves it to.
    fn upgrade_image<'i>(&self, images: &'i Images) -> &'i str;
    /// Make `images` deploy it on the release before, where image-upgrade
    /// starts it (the manifests render the slot [`Self::upgrade_image`]
    /// reads).
    fn start_on_previous(&self, images: &mut Images);
    /// Its own storage failures in its log.
    fn classify_log(&self) -> LogClassifier<'static>;
}

/// An app a cell runs beside Prometheus: seeded before the disruption,
/// judged after it.
#[async_trait]
pub(crate) trait Companion: Send + Sync {
    /// The app's facts.
    fn facts(&self) -> &'static dyn AppFacts;
    /// Seed the app in `pod` and read it back: what the judgement compares
    /// with after the disruption.
    async fn seed(&self, cx: &AppCx<'_>, pod: &str) -> Result<Box<dyn Before>>;
}

/// A companion as it was seeded.
#[async_trait]
pub(crate) trait Before: Send + Sync {
    /// Judge the app in `pod`, once it answers after `since` (the
    /// disruption), against what was seeded.
    async fn judge(&self, cx: &AppCx<'_>, pod: &str, since: Instant) -> Result<Judgement>;
}

/// Where a cell's apps run, and how the cell reaches them.
pub(crate) struct AppCx<'a> {
    /// API client.
    pub(crate) client: &'a Client,
    /// The cell's namespace.
    pub(crate) ns: &'a str,
    /// The cell's progress lines.
    pub(crate) progress: &'a Progress,
}

impl AppCx<'_> {
    /// Exec into `pod`'s main container and forward its HTTP port to
    /// 127.0.0.1: how every probe reaches a pod.
    pub(crate) async fn connect(&self, pod: &str, w: &Workload) -> Result<(PodExec, PortForward)> {
        let exec = PodExec::new(self.client.clone(), self.ns, pod, w.container);
        let fwd =
            PortForward::start(Api::namespaced(self.client.clone(), self.ns), pod, w.port).await?;
        Ok((exec, fwd))
    }
}
