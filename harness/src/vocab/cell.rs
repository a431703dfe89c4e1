//! One cell of the matrix: a variant, a disruption, a provider.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::id::{NamedId, named_id};
use super::{Disruption, Provider, Variant};

/// One cell of the matrix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Cell {
    /// The storage variant.
    #[serde(with = "named_id")]
    pub(crate) variant: Variant,
    /// What is done to it.
    #[serde(with = "named_id")]
    pub(crate) disruption: Disruption,
    /// Where the cluster comes from.
    #[serde(with = "named_id")]
    pub provider: Provider,
}

impl Cell {
    /// The cell for these three ids.
    pub(crate) fn new(variant: Variant, disruption: Disruption, provider: Provider) -> Self {
        Self {
            variant,
            disruption,
            provider,
        }
    }

    /// Every cell, variant-major, in the ids' display order.
    pub fn all() -> impl Iterator<Item = Cell> {
        Variant::ALL.iter().flat_map(|&v| {
            Disruption::ALL
                .iter()
                .flat_map(move |&d| Provider::ALL.iter().map(move |&p| Cell::new(v, d, p)))
        })
    }

    /// `variant/disruption`, the label progress lines and test names use.
    pub(crate) fn short(&self) -> String {
        format!("{}/{}", self.variant, self.disruption)
    }

    /// A file-name-safe id, e.g. `nfs-static__pod-delete__kind`.
    pub(crate) fn file_stem(&self) -> String {
        format!("{}__{}__{}", self.variant, self.disruption, self.provider)
    }
}

impl fmt::Display for Cell {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}/{} on {}",
            self.variant, self.disruption, self.provider
        )
    }
}
