//! Ownership labels and names. Everything the harness creates carries
//! [`MANAGED_BY`] = [`OWNER`] (or, where a label cannot be set, the
//! `NAME_PREFIX`), so a sweep can find what a killed run left behind.

use rand::RngExt as _;

/// The ownership label key (Kubernetes recommended label).
pub const MANAGED_BY: &str = "app.kubernetes.io/managed-by";
/// The ownership label value.
pub const OWNER: &str = "storage-e2e";
/// Label carrying the run id, so one run's leftovers can be told from another's.
pub const RUN_ID: &str = "storage-e2e/run";
/// Label and taint key on the workers of a node pool (value: the pool's
/// name, e.g. `pool-1`): the pairs of workers node-level cells lease, so
/// several of them run side by side (`crate::cluster` `pool`).
pub(crate) const POOL: &str = "storage-e2e/pool";
/// Prefix of every name the harness generates (clusters, containers, networks, namespaces).
pub(crate) const NAME_PREFIX: &str = "e2e-";

/// `MANAGED_BY=OWNER`, as a Docker/kubectl label filter.
pub fn selector() -> String {
    format!("{MANAGED_BY}={OWNER}")
}

/// A unique, DNS-1123-safe name: `e2e-<what>-<6 random lowercase chars>`.
pub fn unique_name(what: &str) -> String {
    let mut rng = rand::rng();
    let suffix: String = (0..6)
        .map(|_| {
            let n: u8 = rng.random_range(0..36);
            char::from(if n < 10 { b'0' + n } else { b'a' + n - 10 })
        })
        .collect();
    format!("{NAME_PREFIX}{what}-{suffix}")
}

/// This process's run id (6 random lowercase letters and digits, fixed for
/// the life of the process): the value of the [`RUN_ID`] label on what this
/// run creates, so a sweep can remove one run's leftovers without touching
/// a run going on in parallel.
pub fn run_id() -> &'static str {
    static ID: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    ID.get_or_init(|| {
        let name = unique_name("run");
        name.rsplit('-').next().unwrap_or_default().to_owned()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unique_names_are_dns_safe_and_differ() {
        let a = unique_name("nfs");
        let b = unique_name("nfs");
        assert_ne!(a, b);
        assert!(a.starts_with("e2e-nfs-") && a.len() == 14, "{a}");
        assert!(
            a.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        );
    }

    #[test]
    fn run_id_is_stable_within_a_process() {
        let id = run_id();
        assert_eq!(id.len(), 6, "{id}");
        assert!(
            id.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        );
        assert_eq!(run_id(), id);
    }
}
