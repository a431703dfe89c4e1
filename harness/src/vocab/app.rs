//! The applications whose data a cell checks.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The two applications every cell deploys and checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum App {
    /// Prometheus: TSDB blocks, WAL and its `lock` file.
    Prometheus,
    /// Grafana: grafana.db (SQLite).
    Grafana,
}

impl App {
    /// Both apps, in display order.
    pub(crate) const ALL: &'static [Self] = &[Self::Prometheus, Self::Grafana];

    /// `prometheus` / `grafana`.
    pub(crate) fn id(self) -> &'static str {
        match self {
            Self::Prometheus => "prometheus",
            Self::Grafana => "grafana",
        }
    }
}

impl fmt::Display for App {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}
