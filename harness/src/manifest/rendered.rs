//! What rendering gives: typed objects with their origin, the Prometheus
//! workload, and the whole variant ready to apply or print.

#[cfg(test)]
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::PersistentVolume;
#[cfg(test)]
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, PodSpec};
#[cfg(test)]
use k8s_openapi::api::storage::v1::StorageClass;

use super::Object;
use super::names::{APP_NAME_LABEL, VOLUME_LABEL};
use super::prometheus_resource::PrometheusResource;
use crate::error::Result;
use crate::vocab::{App, NamedId, Variant};

/// Where a rendered object came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Source {
    /// The manifest file that defines it (patches applied on top are listed
    /// in [`Source::patched_by`]).
    pub(crate) file: PathBuf,
    /// Zero-based index of its YAML document in that file.
    pub(crate) doc: usize,
    /// The patch files that changed it, in the order applied.
    pub(crate) patched_by: Vec<PathBuf>,
}

/// One rendered object with its origin.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Manifest {
    /// Where it came from, for errors and for people reading the output.
    pub(crate) source: Source,
    /// The typed object.
    pub(crate) object: Object,
}

impl Manifest {
    /// The app the object serves, when it serves only one: by its
    /// `app.kubernetes.io/name` label, or for a PersistentVolume by the
    /// `storage-e2e/volume` label naming the claim it is for. Namespaces
    /// and StorageClasses serve both and answer `None`.
    pub(crate) fn app(&self) -> Option<App> {
        let labels = self.object.metadata().labels.as_ref()?;
        let by_name = labels.get(APP_NAME_LABEL).map(String::as_str);
        let by_volume = labels.get(VOLUME_LABEL).map(String::as_str);
        App::ALL.iter().copied().find(|app| {
            by_name == Some(app.id()) || by_volume == Some(format!("{}-data", app.id()).as_str())
        })
    }
}

/// How a workload is run: the one home of this fact (the cell's stages and
/// the disruptions take it from here, through `workload::Kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// apps/v1 Deployment.
    Deployment,
    /// apps/v1 StatefulSet (the statefulset variant's Prometheus).
    StatefulSet,
}

/// The rendered Prometheus workload object: a Deployment in most variants,
/// a StatefulSet in `statefulset`. (The workload's static facts, its name,
/// container, port and data dir, are `workload::Workload`.)
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum RenderedWorkload<'a> {
    /// A Deployment.
    Deployment(&'a Deployment),
    /// A StatefulSet.
    StatefulSet(&'a StatefulSet),
    /// prometheus-operator's resource, which the operator turns into a
    /// StatefulSet.
    Operator(&'a PrometheusResource),
}

impl<'a> RenderedWorkload<'a> {
    /// How it is run.
    pub(crate) fn kind(&self) -> Kind {
        match self {
            Self::Deployment(_) => Kind::Deployment,
            Self::StatefulSet(_) | Self::Operator(_) => Kind::StatefulSet,
        }
    }

    /// The workload's name (for the operator's, its resource's).
    #[cfg(test)]
    pub(crate) fn name(&self) -> &'a str {
        let meta = match self {
            Self::Deployment(d) => &d.metadata,
            Self::StatefulSet(s) => &s.metadata,
            Self::Operator(p) => &p.metadata,
        };
        meta.name.as_deref().unwrap_or_default()
    }

    /// The replica count the manifest asks for (Kubernetes defaults to 1).
    pub(crate) fn replicas(&self) -> i32 {
        match self {
            Self::Deployment(d) => d.spec.as_ref().and_then(|s| s.replicas),
            Self::StatefulSet(s) => s.spec.as_ref().and_then(|s| s.replicas),
            Self::Operator(p) => p.spec.replicas,
        }
        .unwrap_or(1)
    }

    /// The pod template's spec ([`render`](super::render()) guarantees there is one;
    /// the operator's resource has none: the operator writes it).
    #[cfg(test)]
    pub(crate) fn pod_spec(&self) -> &'a PodSpec {
        let spec = match self {
            Self::Deployment(d) => d.spec.as_ref().and_then(|s| s.template.spec.as_ref()),
            Self::StatefulSet(s) => s.spec.as_ref().and_then(|s| s.template.spec.as_ref()),
            Self::Operator(_) => None,
        };
        spec.expect("render() only accepts workloads with a pod spec")
    }

    /// The claims a StatefulSet makes per replica (empty for a Deployment).
    #[cfg(test)]
    pub(crate) fn volume_claim_templates(&self) -> &'a [PersistentVolumeClaim] {
        match self {
            Self::Deployment(_) | Self::Operator(_) => &[],
            Self::StatefulSet(s) => s
                .spec
                .as_ref()
                .and_then(|s| s.volume_claim_templates.as_deref())
                .unwrap_or_default(),
        }
    }
}

/// One storage variant, rendered: typed objects in apply order.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub(super) variant: Variant,
    pub(super) namespace: String,
    pub(super) manifests_dir: PathBuf,
    pub(super) objects: Vec<Manifest>,
    pub(super) addons: Vec<(String, Vec<Manifest>)>,
    pub(super) prometheus: usize,
    /// None where the setup has no Grafana.
    #[cfg(test)]
    pub(super) grafana: Option<usize>,
}

impl Rendered {
    /// The namespace everything namespaced is in.
    #[cfg(test)]
    pub(crate) fn namespace(&self) -> &str {
        &self.namespace
    }

    /// The variant's own objects (base + variant, patches applied), in
    /// apply order: namespace, classes, volumes, claims, config, services,
    /// workloads.
    #[cfg(test)]
    pub(crate) fn objects(&self) -> &[Manifest] {
        &self.objects
    }

    /// [`Self::objects`] without those of apps not in `apps` (E2E_APPS):
    /// what a cell applies when it runs only some apps.
    pub(crate) fn objects_for(&self, apps: &[App]) -> Vec<Manifest> {
        self.objects
            .iter()
            .filter(|m| m.app().is_none_or(|a| apps.contains(&a)))
            .cloned()
            .collect()
    }

    /// The cluster-wide prerequisites ([`addons_for`](super::addons_for)) by addon name, each
    /// in apply order; install them once per cluster, before [`Self::objects`].
    pub(crate) fn addons(&self) -> &[(String, Vec<Manifest>)] {
        &self.addons
    }

    /// Addon objects first, then the variant's objects.
    #[cfg(test)]
    pub(crate) fn all(&self) -> impl Iterator<Item = &Manifest> {
        self.addons.iter().flat_map(|(_, m)| m).chain(&self.objects)
    }

    /// The variant object of `kind` named `name`.
    #[cfg(test)]
    pub(crate) fn find(&self, kind: &str, name: &str) -> Option<&Object> {
        self.objects
            .iter()
            .map(|m| &m.object)
            .find(|o| o.kind() == kind && o.name() == name)
    }

    /// The Prometheus workload.
    pub(crate) fn prometheus(&self) -> RenderedWorkload<'_> {
        match &self.objects[self.prometheus].object {
            Object::StatefulSet(s) => RenderedWorkload::StatefulSet(s),
            Object::Deployment(d) => RenderedWorkload::Deployment(d),
            Object::Prometheus(p) => RenderedWorkload::Operator(p),
            other => unreachable!("render() picked {} as the Prometheus workload", other.id()),
        }
    }

    /// The Prometheus pod spec.
    #[cfg(test)]
    pub(crate) fn prometheus_pod_spec(&self) -> &PodSpec {
        self.prometheus().pod_spec()
    }

    /// The Grafana Deployment.
    #[cfg(test)]
    pub(crate) fn grafana(&self) -> &Deployment {
        let i = self.grafana.expect("the plain setup's render has Grafana");
        match &self.objects[i].object {
            Object::Deployment(d) => d,
            other => unreachable!("render() picked {} as the Grafana Deployment", other.id()),
        }
    }

    /// The Grafana pod spec.
    #[cfg(test)]
    pub(crate) fn grafana_pod_spec(&self) -> &PodSpec {
        RenderedWorkload::Deployment(self.grafana()).pod_spec()
    }

    /// The claims the variant creates directly (a StatefulSet's per-replica
    /// claims are in [`RenderedWorkload::volume_claim_templates`]).
    #[cfg(test)]
    pub(crate) fn pvcs(&self) -> Vec<&PersistentVolumeClaim> {
        self.objects
            .iter()
            .filter_map(|m| match &m.object {
                Object::PersistentVolumeClaim(c) => Some(c),
                _ => None,
            })
            .collect()
    }

    /// The PersistentVolumes the variant creates (static provisioning).
    pub(crate) fn pvs(&self) -> Vec<&PersistentVolume> {
        self.objects
            .iter()
            .filter_map(|m| match &m.object {
                Object::PersistentVolume(v) => Some(v),
                _ => None,
            })
            .collect()
    }

    /// The StorageClasses the variant creates.
    #[cfg(test)]
    pub(crate) fn storage_classes(&self) -> Vec<&StorageClass> {
        self.objects
            .iter()
            .filter_map(|m| match &m.object {
                Object::StorageClass(c) => Some(c),
                _ => None,
            })
            .collect()
    }

    /// Every workload pod spec (variant and addons) with its object.
    #[cfg(test)]
    pub(crate) fn pod_specs(&self) -> Vec<(&Object, &PodSpec)> {
        self.all()
            .filter_map(|m| Some((&m.object, m.object.pod_spec()?)))
            .collect()
    }

    /// Every container image the rendered objects use (init containers and
    /// addons included): what must be preloaded into an air-gapped cluster.
    #[cfg(test)]
    pub(crate) fn images(&self) -> BTreeSet<&str> {
        self.pod_specs()
            .into_iter()
            .flat_map(|(_, spec)| {
                spec.init_containers
                    .iter()
                    .flatten()
                    .chain(&spec.containers)
            })
            .filter_map(|c| c.image.as_deref())
            .collect()
    }

    /// The multi-document YAML `kubectl apply -f -` takes: the addons (if
    /// any) first, then the variant's objects, each with a comment naming
    /// its source file.
    ///
    /// # Errors
    /// [`Error::Manifest`](crate::Error::Manifest) if an object cannot be written as YAML (not
    /// expected for k8s-openapi types).
    pub fn to_yaml(&self) -> Result<String> {
        let mut out = format!(
            "# storage-e2e: storage variant {} in namespace {}\n# Apply with: kubectl apply -f -\n",
            self.variant.id(),
            self.namespace
        );
        for (name, set) in &self.addons {
            out.push_str(&format!(
                "#\n# Cluster-wide prerequisite, install once per cluster: addons/{name}\n"
            ));
            self.write_docs(&mut out, set)?;
        }
        if !self.addons.is_empty() {
            out.push_str("#\n# The variant's own objects\n");
        }
        self.write_docs(&mut out, &self.objects)?;
        Ok(out)
    }

    fn write_docs(&self, out: &mut String, set: &[Manifest]) -> Result<()> {
        for m in set {
            let yaml = serde_yaml_ng::to_string(&m.object)
                .map_err(|e| m.error(format!("cannot be written as YAML: {e}")))?;
            out.push_str("---\n# source: ");
            out.push_str(&self.relative(&m.source.file));
            for p in &m.source.patched_by {
                out.push_str(" + ");
                out.push_str(&self.relative(p));
            }
            out.push('\n');
            out.push_str(&yaml);
        }
        Ok(())
    }

    fn relative(&self, file: &Path) -> String {
        file.strip_prefix(&self.manifests_dir)
            .unwrap_or(file)
            .display()
            .to_string()
    }
}
