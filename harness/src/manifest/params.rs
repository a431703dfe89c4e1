//! The run's parameters and the `${NAME}` placeholders they fill in.
//!
//! Placeholders are replaced inside YAML string values after parsing, never
//! in the raw text, so a value with `: ` or `#` in it (a password) cannot
//! change the document's structure, and a value such as `123` stays a string.

use std::borrow::Cow;

use rand::RngExt as _;

use crate::config::Images;
use crate::error::{Error, Result};

/// Every placeholder the manifests may use, in the order the docs list them.
pub(crate) const PLACEHOLDERS: &[&str] = &[
    "NAMESPACE",
    "NFS_SERVER",
    "NFS_PATH",
    "NODE_NAME",
    "STORAGE_CLASS",
    "PROMETHEUS_IMAGE",
    "GRAFANA_IMAGE",
    "INIT_IMAGE",
    "CSI_DRIVER_IMAGE",
    "CSI_SIDECARS_IMAGE",
    "OPERATOR_IMAGE",
    "OPERATOR_RELOADER_IMAGE",
    "THANOS_IMAGE",
    "S3_IMAGE",
    "PROMETHEUS_VERSION",
    "GRAFANA_PASSWORD",
];

/// What one test (or one `make render`) fills into the manifests.
///
/// The optional fields are needed only by some variants (NFS ones, node
/// pinned ones, custom-class); rendering a variant that uses one that is not
/// set fails with the placeholder's name.
#[derive(Clone, PartialEq, Eq)]
pub struct Params {
    /// `${NAMESPACE}`: the test's namespace; also part of every
    /// cluster-scoped name (PV, StorageClass) and host directory.
    pub(crate) namespace: String,
    /// `${NFS_SERVER}`: address of the NFS server as the nodes reach it
    /// (an IP: kubelet mounts from the node's network namespace).
    pub(crate) nfs_server: Option<String>,
    /// `${NFS_PATH}`: the export path on that server, absolute, no trailing `/`.
    pub(crate) nfs_path: Option<String>,
    /// `${NODE_NAME}`: the node that node-local variants pin their data to.
    pub(crate) node_name: Option<String>,
    /// `${STORAGE_CLASS}`: the user's StorageClass (custom-class).
    pub storage_class: Option<String>,
    /// `${PROMETHEUS_IMAGE}`, `${GRAFANA_IMAGE}`, `${INIT_IMAGE}`,
    /// `${CSI_DRIVER_IMAGE}`, `${CSI_SIDECARS_IMAGE}`.
    pub images: Images,
    /// `${GRAFANA_PASSWORD}`: Grafana's admin password (goes into a Secret).
    pub(crate) grafana_password: String,
}

// Hand-written so the password never lands in a log or an assertion message.
impl std::fmt::Debug for Params {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Params")
            .field("namespace", &self.namespace)
            .field("nfs_server", &self.nfs_server)
            .field("nfs_path", &self.nfs_path)
            .field("node_name", &self.node_name)
            .field("storage_class", &self.storage_class)
            .field("images", &self.images)
            .field("grafana_password", &"<hidden>")
            .finish()
    }
}

impl Params {
    /// Parameters for `namespace` with the given images and a fresh random
    /// Grafana password; add the optional ones with the `with_*` methods.
    pub(crate) fn new(namespace: impl Into<String>, images: Images) -> Self {
        Self {
            namespace: namespace.into(),
            nfs_server: None,
            nfs_path: None,
            node_name: None,
            storage_class: None,
            images,
            grafana_password: random_password(),
        }
    }

    /// Obviously made-up values for `make render`, valid enough to apply to
    /// a kind cluster: namespace `e2e-render`, NFS server `192.0.2.10` (a
    /// documentation address, RFC 5737) exporting `/exports`, node
    /// `kind-worker`, class `my-storage-class`, password `change-me`, and the
    /// default images.
    pub fn placeholder() -> Self {
        Self {
            namespace: "e2e-render".into(),
            nfs_server: Some("192.0.2.10".into()),
            nfs_path: Some("/exports".into()),
            node_name: Some("kind-worker".into()),
            storage_class: Some("my-storage-class".into()),
            images: Images::default(),
            grafana_password: "change-me".into(),
        }
    }

    /// Set the NFS server address and export path (nfs-static, nfs-dynamic).
    pub(crate) fn with_nfs(mut self, server: impl Into<String>, path: impl Into<String>) -> Self {
        self.nfs_server = Some(server.into());
        self.nfs_path = Some(path.into());
        self
    }

    /// Set the node that node-local variants pin to (host-path, local-pv).
    pub(crate) fn with_node(mut self, node: impl Into<String>) -> Self {
        self.node_name = Some(node.into());
        self
    }

    /// Set the user's StorageClass (custom-class).
    pub(crate) fn with_storage_class(mut self, class: impl Into<String>) -> Self {
        self.storage_class = Some(class.into());
        self
    }

    /// The value of placeholder `name`: `None` if `name` is not a
    /// placeholder at all, `Some(None)` if it is one but not set.
    pub(crate) fn value(&self, name: &str) -> Option<Option<Cow<'_, str>>> {
        let borrowed = match name {
            "NAMESPACE" => Some(self.namespace.as_str()),
            "NFS_SERVER" => self.nfs_server.as_deref(),
            "NFS_PATH" => self.nfs_path.as_deref(),
            "NODE_NAME" => self.node_name.as_deref(),
            "STORAGE_CLASS" => self.storage_class.as_deref(),
            "PROMETHEUS_IMAGE" => Some(self.images.prometheus.as_str()),
            "GRAFANA_IMAGE" => Some(self.images.grafana.as_str()),
            "INIT_IMAGE" => Some(self.images.init.as_str()),
            "CSI_DRIVER_IMAGE" => Some(self.images.csi_driver.as_str()),
            "CSI_SIDECARS_IMAGE" => Some(self.images.csi_sidecars.as_str()),
            "OPERATOR_IMAGE" => Some(self.images.operator.as_str()),
            "OPERATOR_RELOADER_IMAGE" => Some(self.images.operator_reloader.as_str()),
            "THANOS_IMAGE" => Some(self.images.thanos.as_str()),
            "S3_IMAGE" => Some(self.images.s3.as_str()),
            "PROMETHEUS_VERSION" => {
                return Some(prometheus_version(&self.images.prometheus).map(Cow::Owned));
            }
            "GRAFANA_PASSWORD" => Some(self.grafana_password.as_str()),
            _ => return None,
        };
        Some(borrowed.map(Cow::Borrowed))
    }

    /// Check the values that end up in names and paths, so a bad one fails
    /// here and not as a puzzling API-server rejection later.
    ///
    /// # Errors
    /// [`Error::Config`] naming the placeholder, its value and what is allowed.
    pub(crate) fn validate(&self) -> Result<()> {
        let bad = |var: &'static str, value: &str, allowed: &str| Error::Config {
            var,
            value: value.to_owned(),
            allowed: allowed.to_owned(),
        };
        if !is_dns_label(&self.namespace) {
            return Err(bad(
                "NAMESPACE",
                &self.namespace,
                "a DNS label: at most 63 lowercase letters, digits and '-'",
            ));
        }
        if let Some(path) = &self.nfs_path
            && (!path.starts_with('/') || path.ends_with('/') || path.contains(char::is_whitespace))
        {
            return Err(bad(
                "NFS_PATH",
                path,
                "an absolute export path without a trailing '/', e.g. /exports",
            ));
        }
        for (var, value) in [
            ("NFS_SERVER", &self.nfs_server),
            ("NODE_NAME", &self.node_name),
            ("STORAGE_CLASS", &self.storage_class),
        ] {
            if let Some(v) = value
                && (v.is_empty() || v.contains(char::is_whitespace) || v.contains('/'))
            {
                return Err(bad(
                    var,
                    v,
                    "a non-empty name or address without spaces or '/'",
                ));
            }
        }
        if self.grafana_password.is_empty() {
            return Err(bad("GRAFANA_PASSWORD", "", "a non-empty password"));
        }
        Ok(())
    }
}

/// Why a placeholder could not be filled in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Unfilled {
    /// `${NAME}` is not one of [`PLACEHOLDERS`].
    Unknown(String),
    /// `${NAME}` is known but [`Params`] has no value for it.
    Unset(String),
}

impl std::fmt::Display for Unfilled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Unknown(name) => write!(
                f,
                "unknown placeholder ${{{name}}}: known ones are {}",
                PLACEHOLDERS.join(", ")
            ),
            Self::Unset(name) => write!(
                f,
                "placeholder ${{{name}}} has no value: set Params::{} for this variant",
                name.to_ascii_lowercase()
            ),
        }
    }
}

/// Replace every `${NAME}` (NAME = uppercase letters, digits, `_`) in `s`.
/// Anything else that merely starts with `${` (such as csi-driver-nfs's
/// `${pvc.metadata.name}`) is left alone.
pub(crate) fn substitute(s: &str, params: &Params) -> Result<String, Unfilled> {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let name_len = after
            .find(|c: char| !(c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'))
            .unwrap_or(after.len());
        let name = &after[..name_len];
        let is_placeholder = after[name_len..].starts_with('}')
            && name.starts_with(|c: char| c.is_ascii_uppercase());
        if !is_placeholder {
            out.push_str("${");
            rest = after;
            continue;
        }
        match params.value(name) {
            None => return Err(Unfilled::Unknown(name.to_owned())),
            Some(None) => return Err(Unfilled::Unset(name.to_owned())),
            Some(Some(v)) => out.push_str(&v),
        }
        rest = &after[name_len + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

fn random_password() -> String {
    const CHARS: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::rng();
    (0..24)
        .map(|_| char::from(CHARS[rng.random_range(0..CHARS.len())]))
        .collect()
}

/// RFC 1123 label, as Kubernetes requires for namespace names.
fn is_dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn substitutes_known_placeholders_and_leaves_other_dollars_alone() {
        let p = Params::placeholder();
        assert_eq!(
            substitute("/var/local/storage-e2e/${NAMESPACE}/x", &p).as_deref(),
            Ok("/var/local/storage-e2e/e2e-render/x")
        );
        for literal in [
            "$(ADDRESS)",
            "${pvc.metadata.name}",
            "${",
            "$NAMESPACE",
            "${1X}",
        ] {
            assert_eq!(substitute(literal, &p).as_deref(), Ok(literal));
        }
        assert_eq!(
            substitute("${NAMESPACE}-${NAMESPACE}", &p).as_deref(),
            Ok("e2e-render-e2e-render")
        );
    }

    #[test]
    fn unknown_and_unset_placeholders_are_named() {
        let p = Params::new("e2e-x", Images::default());
        assert_eq!(
            substitute("${NFS_SERVER}", &p).map_err(|e| e.to_string()),
            Err(
                "placeholder ${NFS_SERVER} has no value: set Params::nfs_server for this variant"
                    .to_owned()
            )
        );
        let e = substitute("${NAMESPCE}", &p).map_err(|e| e.to_string());
        assert!(
            matches!(&e, Err(m) if m.starts_with("unknown placeholder ${NAMESPCE}: known ones are NAMESPACE, NFS_SERVER")),
            "{e:?}"
        );
    }

    #[test]
    fn validation_names_the_bad_parameter() {
        let e = Params::new("E2E_Bad", Images::default())
            .validate()
            .map_err(|e| e.to_string());
        assert!(
            matches!(&e, Err(m) if m.starts_with("NAMESPACE=\"E2E_Bad\"")),
            "{e:?}"
        );
        let e = Params::placeholder()
            .with_nfs("10.0.0.1", "/exports/")
            .validate();
        assert!(
            matches!(
                &e,
                Err(Error::Config {
                    var: "NFS_PATH",
                    ..
                })
            ),
            "{e:?}"
        );
        assert!(Params::placeholder().validate().is_ok());
    }

    #[test]
    fn passwords_are_random_and_hidden_from_debug() {
        let a = Params::new("e2e-a", Images::default());
        let b = Params::new("e2e-a", Images::default());
        assert_ne!(a.grafana_password, b.grafana_password);
        assert_eq!(a.grafana_password.len(), 24);
        assert!(!format!("{a:?}").contains(&a.grafana_password));
    }
}

/// The Prometheus version an image tag says (`prom/prometheus:v3.7.3` ->
/// `v3.7.3`, the Debian stand-in `local/prometheus-debian:2.53` ->
/// `v2.53.0`), for prometheus-operator's `spec.version`, from which it
/// decides which flags that Prometheus takes. `None` (so rendering says
/// the placeholder has no value) for a tag that is no version, such as a
/// digest.
pub(crate) fn prometheus_version(image: &str) -> Option<String> {
    let tag = image.rsplit_once(':').map(|(_, t)| t)?;
    let bare = tag.strip_prefix('v').unwrap_or(tag);
    let parts: Vec<&str> = bare.split('.').collect();
    if !(2..=3).contains(&parts.len()) || parts.iter().any(|p| p.parse::<u32>().is_err()) {
        return None;
    }
    Some(if parts.len() == 2 {
        format!("v{bare}.0")
    } else {
        format!("v{bare}")
    })
}

#[cfg(test)]
mod version_tests {
    use super::prometheus_version;

    #[test]
    fn versions_from_tags() {
        assert_eq!(
            prometheus_version("prom/prometheus:v3.7.3").as_deref(),
            Some("v3.7.3")
        );
        assert_eq!(
            prometheus_version("local/prometheus-debian:2.53").as_deref(),
            Some("v2.53.0")
        );
        assert_eq!(
            prometheus_version("localhost:5000/prometheus:2.42").as_deref(),
            Some("v2.42.0")
        );
        assert_eq!(prometheus_version("prom/prometheus:latest"), None);
        assert_eq!(prometheus_version("prom/prometheus"), None);
    }
}
