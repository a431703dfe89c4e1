//! Volume, snapshot and node ids: the leaf vocabulary every other module
//! names.
//!
//! Volume and snapshot ids are derived from the CO's request name with a
//! hash, so a repeated CreateVolume/CreateSnapshot (the CO retries after a
//! timeout, the spec demands idempotency by name) finds the same id without
//! an index to keep consistent. Ids are also file names on the SAN, so an
//! id is only ever accepted in the exact form this driver issues: anything
//! else (`../x`, csi-sanity's `fake-vol-id`) is a volume that does not
//! exist, never a path.

use std::fmt;

use sha2::{Digest as _, Sha256};

/// Hex digits after the prefix: 64 bits, so two names colliding is not a
/// practical concern for a test cluster (and a collision is detected: the
/// metadata records the name).
const HASH_HEX: usize = 16;

fn derive(prefix: &str, kind: &str, name: &str) -> String {
    let digest = Sha256::digest(format!("{kind}\0{name}").as_bytes());
    let hex: String = digest
        .iter()
        .take(HASH_HEX / 2)
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("{prefix}{hex}")
}

fn well_formed(prefix: &str, s: &str) -> bool {
    s.strip_prefix(prefix).is_some_and(|hex| {
        hex.len() == HASH_HEX
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

macro_rules! hashed_id {
    ($(#[$doc:meta])* $name:ident, $prefix:literal, $kind:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(String);

        impl $name {
            /// The id for a CO-chosen name; the same name always gives the
            /// same id.
            pub fn for_name(name: &str) -> Self {
                Self(derive($prefix, $kind, name))
            }

            /// An id from a request, if it has the form this driver issues.
            pub fn parse(s: &str) -> Option<Self> {
                well_formed($prefix, s).then(|| Self(s.to_owned()))
            }

            /// The id as sent over gRPC and used as a file name.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

hashed_id!(
    /// `vol-<16 hex>`: a volume, i.e. `<san>/volumes/<id>.img`.
    VolumeId,
    "vol-",
    "volume"
);
hashed_id!(
    /// `snap-<16 hex>`: a snapshot, i.e. `<san>/snapshots/<id>.img`.
    SnapshotId,
    "snap-",
    "snapshot"
);

/// A node's id: the Kubernetes node name the node plugin is started with.
/// It names `<san>/nodes/<id>.json`, so it is restricted to what a
/// Kubernetes node name may hold (a DNS subdomain, RFC 1123).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeId(String);

/// Longest Kubernetes object name (a DNS subdomain).
pub const NODE_ID_MAX: usize = 253;

impl NodeId {
    /// A node id, if it could be a Kubernetes node name.
    ///
    /// # Errors
    /// Why not, in words fit for a command-line error.
    pub fn parse(s: &str) -> Result<Self, String> {
        if s.is_empty() {
            return Err("is empty".into());
        }
        if s.len() > NODE_ID_MAX {
            return Err(format!("is longer than {NODE_ID_MAX} characters"));
        }
        if let Some(bad) = s
            .chars()
            .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-' || *c == '.'))
        {
            return Err(format!(
                "holds {bad:?}: a node name is lowercase letters, digits, '-' and '.'"
            ));
        }
        if !s.starts_with(|c: char| c.is_ascii_alphanumeric())
            || !s.ends_with(|c: char| c.is_ascii_alphanumeric())
        {
            return Err("must start and end with a letter or digit".into());
        }
        Ok(Self(s.to_owned()))
    }

    /// The id as sent over gRPC and used as a file name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_stable_per_name_and_distinct_per_kind() {
        let a = VolumeId::for_name("pvc-1");
        assert_eq!(a, VolumeId::for_name("pvc-1"));
        assert_ne!(a, VolumeId::for_name("pvc-2"));
        assert!(a.as_str().starts_with("vol-") && a.as_str().len() == 4 + HASH_HEX);
        let s = SnapshotId::for_name("pvc-1");
        assert!(s.as_str().starts_with("snap-"));
        assert_ne!(
            &a.as_str()[4..],
            &s.as_str()[5..],
            "kind is part of the hash"
        );
        // Pinned: ids of existing volumes must not change between versions.
        assert_eq!(
            VolumeId::for_name("sanity").as_str(),
            derive("vol-", "volume", "sanity")
        );
    }

    #[test]
    fn only_issued_forms_parse() {
        let id = VolumeId::for_name("x");
        assert_eq!(VolumeId::parse(id.as_str()), Some(id.clone()));
        for bad in [
            "",
            "fake-vol-id",
            "vol-",
            "vol-0123456789abcdeF",
            "vol-0123456789abcde",
            "vol-0123456789abcdef0",
            "vol-../../etc/passw",
            "snap-0123456789abcdef",
        ] {
            assert_eq!(VolumeId::parse(bad), None, "{bad}");
        }
        assert!(SnapshotId::parse("snap-0123456789abcdef").is_some());
        assert!(SnapshotId::parse(id.as_str()).is_none());
    }

    #[test]
    fn node_ids_are_kubernetes_node_names() {
        for ok in ["kind-worker", "e2e-abc-worker2", "node.example.com", "a"] {
            assert!(NodeId::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "Kind",
            "a_b",
            "../x",
            "-a",
            "a.",
            "a/b",
            &"a".repeat(254),
        ] {
            assert!(NodeId::parse(bad).is_err(), "{bad}");
        }
    }
}
