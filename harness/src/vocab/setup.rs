//! The ways Prometheus is run on Kubernetes that the harness deploys: the
//! seed's own manifests, or prometheus-operator's custom resource. Each
//! variant belongs to one setup; the setup decides which base manifests it
//! is rendered from, which apps it has, and which workload holds
//! Prometheus (docs/setups.md).

use super::app::App;

/// How Prometheus is deployed in a cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Setup {
    /// The project's own manifests (manifests/base): a Prometheus
    /// Deployment or StatefulSet and Grafana, as the seed articles run them.
    Plain,
    /// prometheus-operator v0.85.0 (an addon of the run) and one
    /// `Prometheus` custom resource per cell (manifests/base-operator); the
    /// operator makes its StatefulSet. No Grafana.
    Operator,
    /// The seed 003 StatefulSet: Prometheus with a Thanos sidecar shipping
    /// its blocks to an S3 store in the namespace (manifests/base-thanos).
    /// No Grafana.
    Thanos,
}

impl Setup {
    /// `plain` / `prometheus-operator`, as docs and reports name it.
    pub fn id(self) -> &'static str {
        match self {
            Self::Plain => "plain",
            Self::Operator => "prometheus-operator",
            Self::Thanos => "thanos-sidecar",
        }
    }

    /// The folder under `manifests/` holding its base objects.
    pub(crate) fn base_dir(self) -> &'static str {
        match self {
            Self::Plain => "base",
            Self::Operator => "base-operator",
            Self::Thanos => "base-thanos",
        }
    }

    /// The apps it deploys.
    pub(crate) fn apps(self) -> &'static [App] {
        match self {
            Self::Plain => App::ALL,
            Self::Operator | Self::Thanos => &[App::Prometheus],
        }
    }
}

impl std::fmt::Display for Setup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.id())
    }
}
