//! Kubernetes minor versions, the unit node images and support are chosen by.

/// Text that is not a Kubernetes minor; the caller says which setting held it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a Kubernetes minor such as 1.35")]
pub(crate) struct BadMinor(pub String);

/// A Kubernetes minor version such as `1.35`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct Minor(pub u32);

impl std::fmt::Display for Minor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "1.{}", self.0)
    }
}

impl std::str::FromStr for Minor {
    type Err = BadMinor;

    /// Accepts `1.35`, `v1.35` and `1.35.0` (the patch is ignored: node
    /// images are chosen per minor).
    fn from_str(s: &str) -> Result<Self, BadMinor> {
        let bad = || BadMinor(s.to_owned());
        let t = s.trim().trim_start_matches('v');
        let mut parts = t.split('.');
        let (Some("1"), Some(minor)) = (parts.next(), parts.next()) else {
            return Err(bad());
        };
        if parts.clone().count() > 1 || parts.any(|p| p.parse::<u32>().is_err()) {
            return Err(bad());
        }
        minor.parse().map(Minor).map_err(|_| bad())
    }
}
