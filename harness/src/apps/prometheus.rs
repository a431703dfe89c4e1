//! Prometheus as one of the harness's apps: the facts
//! every stage reads. Its seed and judgement are the cell's own stages
//! (it is the app every disruption targets).

use super::interface::AppFacts;
use crate::config::Images;
use crate::timeline::LogClassifier;
use crate::vocab::App;
use crate::workload::{Kind, PROMETHEUS, Workload};

/// Prometheus's facts.
pub(crate) struct PrometheusApp;

impl AppFacts for PrometheusApp {
    fn app(&self) -> App {
        App::Prometheus
    }

    fn workload(&self) -> Workload {
        PROMETHEUS
    }

    fn kind(&self) -> Kind {
        Kind::Deployment
    }

    fn upgrade_image<'i>(&self, images: &'i Images) -> &'i str {
        &images.prometheus
    }

    fn start_on_previous(&self, images: &mut Images) {
        images.prometheus = images.prometheus_previous.clone();
    }

    fn classify_log(&self) -> LogClassifier<'static> {
        &crate::prometheus::classify_log
    }
}
