//! Every app the harness knows.

use super::interface::AppFacts;
use crate::vocab::App;

/// Every app the harness knows, Prometheus first.
pub(crate) const ALL: &[&dyn AppFacts] = &[
    &super::prometheus::PrometheusApp,
    &super::grafana::GrafanaApp,
];

/// The facts of `app`.
pub(crate) fn facts(app: App) -> &'static dyn AppFacts {
    match app {
        App::Prometheus => ALL[0],
        App::Grafana => ALL[1],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Images;

    /// The list and the lookup agree, and every app's facts are its own.
    #[test]
    fn every_app_is_listed_once_under_its_own_facts() {
        for app in App::ALL {
            assert_eq!(facts(*app).app(), *app);
            assert_eq!(facts(*app).workload().app, *app);
        }
        assert_eq!(ALL.len(), App::ALL.len());
        let images = Images::default();
        assert_eq!(
            facts(App::Grafana).upgrade_image(&images),
            crate::config::default_images::GRAFANA
        );
        let mut before = images.clone();
        for a in ALL {
            a.start_on_previous(&mut before);
        }
        assert_eq!(
            facts(App::Prometheus).upgrade_image(&before),
            crate::config::default_images::PROMETHEUS_PREVIOUS
        );
        assert_eq!(
            facts(App::Grafana).upgrade_image(&before),
            crate::config::default_images::GRAFANA_PREVIOUS
        );
    }
}
