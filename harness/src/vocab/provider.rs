//! Where a run's cluster comes from.

use super::id::{NamedId, named_id_traits};

/// Where the cluster comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum Provider {
    /// A throw-away kind cluster (the default).
    #[default]
    Kind,
    /// A throw-away k3d cluster.
    K3d,
    /// A cluster the user owns, reached through E2E_KUBECONFIG; never created or deleted.
    Existing,
}

impl NamedId for Provider {
    const WHAT: &'static str = "provider";
    const ALL: &'static [Self] = &[Self::Kind, Self::K3d, Self::Existing];

    fn id(self) -> &'static str {
        match self {
            Self::Kind => "kind",
            Self::K3d => "k3d",
            Self::Existing => "existing",
        }
    }
}

named_id_traits!(Provider);
