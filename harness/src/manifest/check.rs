//! Checks across a rendered set that the types alone cannot make: the
//! project's rules (ownership label, namespaced names, pinned images, no
//! data under /tmp) and references between objects (a mount names a volume,
//! a claim volume names a claim that is rendered too).

use std::collections::BTreeSet;

use k8s_openapi::api::core::v1::{PersistentVolume, PodSpec};

use super::{Manifest, Object};
use crate::config::is_pinned_image;
use crate::error::{Error, Result};
use crate::labels::{MANAGED_BY, OWNER};

/// Whether `path` is /tmp or below it: a tmpfs on kind nodes, so data put
/// there vanishes when the node restarts (kubernetes-sigs/kind
/// pkg/cluster/internal/providers/docker/provision.go: `--tmpfs /tmp`).
pub(crate) fn is_under_tmp(path: &str) -> bool {
    let p = path.trim_end_matches('/');
    p == "/tmp" || p.starts_with("/tmp/")
}

/// Check one set of objects (a variant's objects with `namespace`, or an
/// addon's with `None`).
///
/// # Errors
/// [`Error::Manifest`] naming the first object that breaks a rule.
pub(crate) fn check(set: &[Manifest], namespace: Option<&str>) -> Result<()> {
    for m in set {
        check_object(m, set, namespace).map_err(|message| m.error(message))?;
    }
    Ok(())
}

fn check_object(m: &Manifest, set: &[Manifest], namespace: Option<&str>) -> Result<(), String> {
    let o = &m.object;
    if o.name().is_empty() {
        return Err("has no metadata.name".into());
    }
    let owner = o.metadata().labels.as_ref().and_then(|l| l.get(MANAGED_BY));
    if owner.map(String::as_str) != Some(OWNER) {
        return Err(format!(
            "label {MANAGED_BY}: {OWNER} is missing (everything the harness creates carries it, so a sweep can find leftovers)"
        ));
    }
    match (o.is_cluster_scoped(), namespace) {
        (true, Some(ns)) if !o.name().contains(ns) => {
            return Err(format!(
                "is cluster-scoped, so its name must contain the namespace ({ns}) to keep parallel tests apart; use ${{NAMESPACE}} in it"
            ));
        }
        (true, _) if o.namespace().is_some() => {
            return Err("is cluster-scoped but has metadata.namespace".into());
        }
        (false, Some(ns)) if o.namespace() != Some(ns) => {
            return Err(format!(
                "is in namespace {:?}, expected {ns:?}: set metadata.namespace: ${{NAMESPACE}}",
                o.namespace().unwrap_or_default()
            ));
        }
        (false, None) if o.namespace().is_none() => {
            return Err("has no metadata.namespace".into());
        }
        _ => {}
    }
    if let Object::PersistentVolume(pv) = o {
        check_pv_path(pv)?;
    }
    if let Some(spec) = o.pod_spec() {
        let claim_templates: BTreeSet<&str> = match o {
            Object::StatefulSet(s) => s
                .spec
                .iter()
                .flat_map(|s| s.volume_claim_templates.iter().flatten())
                .filter_map(|t| t.metadata.name.as_deref())
                .collect(),
            _ => BTreeSet::new(),
        };
        let ns = o.namespace();
        check_pod(spec, &claim_templates, |kind, name| {
            set.iter().any(|x| {
                x.object.kind() == kind && x.object.name() == name && x.object.namespace() == ns
            })
        })?;
    }
    Ok(())
}

fn check_pv_path(pv: &PersistentVolume) -> Result<(), String> {
    let spec = pv.spec.as_ref();
    let paths = [
        spec.and_then(|s| s.host_path.as_ref())
            .map(|h| h.path.as_str()),
        spec.and_then(|s| s.local.as_ref()).map(|l| l.path.as_str()),
    ];
    match paths.into_iter().flatten().find(|p| is_under_tmp(p)) {
        Some(p) => Err(format!(
            "keeps its data under /tmp ({p}), a tmpfs on kind nodes: use /var/local/..."
        )),
        None => Ok(()),
    }
}

// Over 80 lines: one flat list of checks on a pod's references (each
// volume's claim, ConfigMap or Secret exists; images are pinned; mounts
// name a volume; env refers to objects that exist), each a few lines.
fn check_pod(
    spec: &PodSpec,
    claim_templates: &BTreeSet<&str>,
    exists: impl Fn(&str, &str) -> bool,
) -> Result<(), String> {
    let volumes: BTreeSet<&str> = spec
        .volumes
        .iter()
        .flatten()
        .map(|v| v.name.as_str())
        .chain(claim_templates.iter().copied())
        .collect();
    for v in spec.volumes.iter().flatten() {
        if let Some(h) = &v.host_path
            && is_under_tmp(&h.path)
        {
            return Err(format!(
                "volume {:?} is a hostPath under /tmp ({}), a tmpfs on kind nodes: use /var/local/...",
                v.name, h.path
            ));
        }
        if let Some(c) = &v.persistent_volume_claim
            && !exists("PersistentVolumeClaim", &c.claim_name)
        {
            return Err(format!(
                "volume {:?} uses claim {:?}, which this variant does not define",
                v.name, c.claim_name
            ));
        }
        if let Some(c) = &v.config_map
            && c.optional != Some(true)
            && !exists("ConfigMap", &c.name)
        {
            return Err(format!(
                "volume {:?} uses ConfigMap {:?}, which is not rendered",
                v.name, c.name
            ));
        }
        if let Some(s) = &v.secret {
            let name = s.secret_name.as_deref().unwrap_or_default();
            if s.optional != Some(true) && !exists("Secret", name) {
                return Err(format!(
                    "volume {:?} uses Secret {name:?}, which is not rendered",
                    v.name
                ));
            }
        }
    }
    let containers = spec
        .init_containers
        .iter()
        .flatten()
        .chain(&spec.containers);
    for c in containers {
        let image = c.image.as_deref().unwrap_or_default();
        if !is_pinned_image(image) {
            return Err(format!(
                "container {:?} has image {image:?}, which is not pinned (give a tag other than latest, or a digest)",
                c.name
            ));
        }
        for mount in c.volume_mounts.iter().flatten() {
            if !volumes.contains(mount.name.as_str()) {
                return Err(format!(
                    "container {:?} mounts volume {:?} at {}, which the pod does not define",
                    c.name, mount.name, mount.mount_path
                ));
            }
        }
        for env in c.env.iter().flatten() {
            let Some(from) = &env.value_from else {
                continue;
            };
            if let Some(s) = &from.secret_key_ref
                && s.optional != Some(true)
                && !exists("Secret", &s.name)
            {
                return Err(format!(
                    "container {:?} takes {} from Secret {:?}, which is not rendered",
                    c.name, env.name, s.name
                ));
            }
            if let Some(m) = &from.config_map_key_ref
                && m.optional != Some(true)
                && !exists("ConfigMap", &m.name)
            {
                return Err(format!(
                    "container {:?} takes {} from ConfigMap {:?}, which is not rendered",
                    c.name, env.name, m.name
                ));
            }
        }
    }
    Ok(())
}

impl Manifest {
    /// An [`Error::Manifest`] for this object, at the document it came from.
    pub(crate) fn error(&self, message: impl Into<String>) -> Error {
        Error::Manifest {
            file: self.source.file.clone(),
            doc: self.source.doc,
            object: self.object.id(),
            message: message.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tmp_means_tmp_and_below_only() {
        for p in ["/tmp", "/tmp/", "/tmp/x/y"] {
            assert!(is_under_tmp(p), "{p}");
        }
        for p in ["/var/local/tmp", "/tmpfoo", "/var/tmp"] {
            assert!(!is_under_tmp(p), "{p}");
        }
    }
}
