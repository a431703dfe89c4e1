//! Named ids (storage variants, disruptions, providers) share one parser, so
//! every "unknown id" error lists the valid ones in the same way.

/// An id that is not one of its kind's; lists the valid ones. The harness's
/// [`crate::Error`] wraps it, so `?` works on every parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} {given:?}: valid ones are {valid}")]
pub struct UnknownId {
    /// What kind of id, e.g. `storage variant`.
    pub(crate) what: &'static str,
    /// The id that was given.
    pub(crate) given: String,
    /// The valid ids, comma separated.
    pub(crate) valid: String,
}

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
    /// [`UnknownId`] when `given` is not an id of this set.
    fn parse_id(given: &str) -> Result<Self, UnknownId> {
        let given = given.trim();
        Self::ALL
            .iter()
            .copied()
            .find(|v| v.id() == given)
            .ok_or_else(|| UnknownId {
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
    /// [`UnknownId`] naming the first id that is not valid.
    fn parse_list(given: &str) -> Result<Vec<Self>, UnknownId> {
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
                f.write_str($crate::vocab::id::NamedId::id(*self))
            }
        }
        impl std::str::FromStr for $t {
            type Err = $crate::vocab::id::UnknownId;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                <$t as $crate::vocab::id::NamedId>::parse_id(s)
            }
        }
        impl serde::Serialize for $t {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str($crate::vocab::id::NamedId::id(*self))
            }
        }
    };
}
pub(crate) use named_id_traits;

/// Serde for [`NamedId`] types as their id string (the shared macro only
/// derives `Serialize`; the report also reads cells back).
pub(crate) mod named_id {
    use serde::{Deserialize as _, Deserializer, Serializer, de::Error as _};

    use super::NamedId;

    /// Serialize as the id string.
    ///
    /// # Errors
    /// Whatever the serializer returns.
    pub(crate) fn serialize<S: Serializer, T: NamedId>(v: &T, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(v.id())
    }

    /// Deserialize from the id string; unknown ids list the valid ones.
    ///
    /// # Errors
    /// When the string is not an id of `T`.
    pub(crate) fn deserialize<'de, D: Deserializer<'de>, T: NamedId>(d: D) -> Result<T, D::Error> {
        let s = String::deserialize(d)?;
        T::parse_id(&s).map_err(D::Error::custom)
    }
}
