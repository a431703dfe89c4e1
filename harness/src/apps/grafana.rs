//! Grafana as a companion app of a cell ([`Companion`]):
//! seeded through its HTTP API after Prometheus, judged after the
//! disruption on the objects it created (crate::grafana's docs say why
//! objects created through the API, not provisioned ones).

use std::time::{Duration, Instant};

use async_trait::async_trait;

use super::interface::{AppCx, AppFacts, Before, Companion};
use crate::config::Images;
use crate::error::Result;
use crate::grafana::{GrafanaClient, HEALTH_TIMEOUT, SeedSpec, Snapshot};
use crate::timeline::LogClassifier;
use crate::vocab::{App, Judgement};
use crate::workload::{GRAFANA, Kind, PROMETHEUS, Workload};

/// How long Grafana gets to answer healthy again after recovering.
pub(crate) const AFTER_TIMEOUT: Duration = Duration::from_secs(60);

/// Grafana's facts.
pub(crate) struct GrafanaApp;

impl AppFacts for GrafanaApp {
    fn app(&self) -> App {
        App::Grafana
    }

    fn workload(&self) -> Workload {
        GRAFANA
    }

    fn kind(&self) -> Kind {
        Kind::Deployment
    }

    fn upgrade_image<'i>(&self, images: &'i Images) -> &'i str {
        &images.grafana
    }

    fn start_on_previous(&self, images: &mut Images) {
        images.grafana = images.grafana_previous.clone();
    }

    fn classify_log(&self) -> LogClassifier<'static> {
        &crate::grafana::classify_log
    }
}

/// Grafana in one cell: logs in with the admin password the cell's
/// Secret was rendered with.
pub(crate) struct GrafanaCompanion {
    /// The admin password (manifest Params).
    pub(crate) password: String,
}

#[async_trait]
impl Companion for GrafanaCompanion {
    fn facts(&self) -> &'static dyn AppFacts {
        &GrafanaApp
    }

    /// A folder, a datasource pointing at the cell's Prometheus Service (as
    /// a user's would) and a dashboard, created through the API and read
    /// back with the database file's facts.
    async fn seed(&self, cx: &AppCx<'_>, pod: &str) -> Result<Box<dyn Before>> {
        let (exec, fwd) = cx.connect(pod, &GRAFANA).await?;
        let client = GrafanaClient::new(fwd.url(), self.password.clone())?;
        client.wait_healthy(HEALTH_TIMEOUT).await?;
        let spec = SeedSpec::unique(format!(
            "http://prometheus.{}.svc:{}",
            cx.ns, PROMETHEUS.port
        ));
        cx.progress.step(format!(
            "seeding Grafana dashboard {}",
            spec.uids().dashboard
        ));
        let seeded = client.seed(&spec).await?;
        let snapshot = client.snapshot(&seeded.uids(), Some(&exec)).await?;
        Ok(Box::new(GrafanaBefore {
            snapshot,
            password: self.password.clone(),
        }))
    }
}

/// What Grafana held before the disruption.
struct GrafanaBefore {
    snapshot: Snapshot,
    password: String,
}

#[async_trait]
impl Before for GrafanaBefore {
    async fn judge(&self, cx: &AppCx<'_>, pod: &str, since: Instant) -> Result<Judgement> {
        let (exec, fwd) = cx.connect(pod, &GRAFANA).await?;
        let client = GrafanaClient::new(fwd.url(), self.password.clone())?;
        let (j, _) = client
            .judge_after(&self.snapshot, since, AFTER_TIMEOUT, Some(&exec))
            .await?;
        Ok(j)
    }
}
