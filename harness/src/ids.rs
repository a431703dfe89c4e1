//! Named ids (storage variants, disruptions, providers) share one parser, so
//! every "unknown id" error lists the valid ones in the same way.

use crate::error::{Error, Result};

/// A closed set of values with stable string ids, used in test names,
/// reports, manifest paths and environment variables.
pub trait NamedId: Copy + Eq + 'static {
    /// What the ids name, for error messages (e.g. `storage variant`).
    const WHAT: &'static str;
    /// Every value, in display order.
    const ALL: &'static [Self];
    /// The stable id, e.g. `nfs-static`.
    fn id(self) -> &'static str;

    /// Parse an id; the error lists every valid one.
    ///
    /// # Errors
    /// [`Error::Unknown`] when `given` is not an id of this set.
    fn parse_id(given: &str) -> Result<Self> {
        let given = given.trim();
        Self::ALL
            .iter()
            .copied()
            .find(|v| v.id() == given)
            .ok_or_else(|| Error::Unknown {
                what: Self::WHAT,
                given: given.to_owned(),
                valid: Self::ALL
                    .iter()
                    .map(|v| v.id())
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }

    /// Parse a comma-separated list; `all` or an empty string means every value.
    ///
    /// # Errors
    /// [`Error::Unknown`] naming the first id that is not valid.
    fn parse_list(given: &str) -> Result<Vec<Self>> {
        let given = given.trim();
        if given.is_empty() || given == "all" {
            return Ok(Self::ALL.to_vec());
        }
        let mut out = Vec::new();
        for part in given.split(',').filter(|p| !p.trim().is_empty()) {
            let v = Self::parse_id(part)?;
            if !out.contains(&v) {
                out.push(v);
            }
        }
        Ok(out)
    }
}

/// Implement `Display` and `FromStr` for a [`NamedId`] type.
macro_rules! named_id_traits {
    ($t:ty) => {
        impl std::fmt::Display for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str($crate::ids::NamedId::id(*self))
            }
        }
        impl std::str::FromStr for $t {
            type Err = $crate::error::Error;
            fn from_str(s: &str) -> $crate::error::Result<Self> {
                <$t as $crate::ids::NamedId>::parse_id(s)
            }
        }
        impl serde::Serialize for $t {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str($crate::ids::NamedId::id(*self))
            }
        }
    };
}
pub(crate) use named_id_traits;
