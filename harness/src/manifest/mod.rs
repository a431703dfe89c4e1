//! The manifests in `manifests/`: load the base and one storage variant,
//! fill in the run's parameters, check every document against the
//! Kubernetes types, and hand out typed objects (for the harness) or the
//! final YAML (for `make render` and for people).
//!
//! Layout (see manifests/README.md):
//! - `base/*.yaml`: objects every variant has (namespace, Prometheus,
//!   Grafana); their `data` volumes use the claims `prometheus-data` and
//!   `grafana-data`, which the variant provides or patches away;
//! - `storage/<id>/*.yaml`: objects the variant adds (claims, PVs, classes,
//!   a StatefulSet);
//! - `storage/<id>/*.patch.yaml`: strategic-merge patches on base objects,
//!   read as `kubectl patch --type strategic` reads them (the subset the
//!   variants use: maps merge, containers/volumes/env merge by name,
//!   `key: null` removes, `$patch: delete` removes an item or the object);
//! - `addons/<name>/*.yaml`: cluster-wide prerequisites a variant needs
//!   (csi-driver-nfs for nfs-dynamic), installed once per cluster.
//!
//! Every document must deserialize into its k8s-openapi type *exactly*: a
//! field the type does not know (a typo such as `volumeMount`) or a missing
//! required field is an error naming the file, the document, the object and
//! the field.
//!
//! ```no_run
//! use harness::config::Images;
//! use harness::manifest::{self, Params};
//! use harness::variant::Variant;
//!
//! let params = Params::new("e2e-abc123", Images::default()).with_node("kind-worker");
//! let rendered = manifest::render(&manifest::default_dir(), Variant::LocalPv, &params)?;
//! let spec = rendered.prometheus_pod_spec();
//! assert_eq!(spec.containers[0].name, manifest::PROMETHEUS);
//! print!("{}", rendered.to_yaml()?);
//! # Ok::<(), harness::Error>(())
//! ```

pub mod apply;
mod check;
mod load;
mod object;
mod params;
mod patch;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim, PodSpec};
use k8s_openapi::api::storage::v1::StorageClass;

pub use object::Object;
pub use params::{PLACEHOLDERS, Params};

use crate::error::{Error, Result};
use crate::expect::App;
use crate::ids::NamedId;
use crate::variant::Variant;

/// Name of the Prometheus workload (Deployment or StatefulSet), its main
/// container and its Service.
pub const PROMETHEUS: &str = "prometheus";
/// Name of the Grafana Deployment, its main container and its Service.
pub const GRAFANA: &str = "grafana";
/// The volume holding each workload's data, in every variant.
pub const DATA_VOLUME: &str = "data";
/// Where Prometheus keeps its TSDB (`--storage.tsdb.path`).
pub const PROMETHEUS_DATA_DIR: &str = "/prometheus";
/// Where Grafana keeps grafana.db.
pub const GRAFANA_DATA_DIR: &str = "/var/lib/grafana";
/// Prometheus's HTTP port (container and Service).
pub const PROMETHEUS_PORT: u16 = 9090;
/// Grafana's HTTP port (container and Service).
pub const GRAFANA_PORT: u16 = 3000;
/// Grafana's admin user.
pub const GRAFANA_ADMIN_USER: &str = "admin";
/// The Secret holding Grafana's admin password.
pub const GRAFANA_ADMIN_SECRET: &str = "grafana-admin";
/// The key of the password in [`GRAFANA_ADMIN_SECRET`].
pub const GRAFANA_ADMIN_PASSWORD_KEY: &str = "admin-password";
/// Where host-path and local-pv keep data on a node: under /var, never
/// /tmp (kind's /tmp is a tmpfs that a node restart empties; FACTS.md).
pub const HOST_DIR: &str = "/var/local/storage-e2e";

/// Environment variable that points the harness at another manifests folder
/// (parsed by [`crate::config::Config`]).
pub const MANIFESTS_DIR_VAR: &str = "HARNESS_MANIFESTS_DIR";

/// The `manifests/` folder of this checkout (the default of
/// `HARNESS_MANIFESTS_DIR`).
pub fn default_dir() -> PathBuf {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    crate_dir.parent().unwrap_or(crate_dir).join("manifests")
}

/// The addons (folders under `manifests/addons/`) a variant needs installed
/// in the cluster before its objects work.
pub fn addons_for(variant: Variant) -> &'static [&'static str] {
    match variant {
        Variant::NfsDynamic => &["csi-driver-nfs"],
        _ => &[],
    }
}

/// Where a rendered object came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    /// The manifest file that defines it (patches applied on top are listed
    /// in [`Source::patched_by`]).
    pub file: PathBuf,
    /// Zero-based index of its YAML document in that file.
    pub doc: usize,
    /// The patch files that changed it, in the order applied.
    pub patched_by: Vec<PathBuf>,
}

/// One rendered object with its origin.
#[derive(Debug, Clone, PartialEq)]
pub struct Manifest {
    /// Where it came from, for errors and for people reading the output.
    pub source: Source,
    /// The typed object.
    pub object: Object,
}

impl Manifest {
    /// The app the object serves, when it serves only one: by its
    /// `app.kubernetes.io/name` label, or for a PersistentVolume by the
    /// `storage-e2e/volume` label naming the claim it is for. Namespaces
    /// and StorageClasses serve both and answer `None`.
    pub fn app(&self) -> Option<App> {
        let labels = self.object.metadata().labels.as_ref()?;
        let by_name = labels.get(APP_NAME_LABEL).map(String::as_str);
        let by_volume = labels.get(VOLUME_LABEL).map(String::as_str);
        App::ALL.iter().copied().find(|app| {
            by_name == Some(app.id()) || by_volume == Some(format!("{}-data", app.id()).as_str())
        })
    }
}

/// The label every app object carries with its app's name.
pub const APP_NAME_LABEL: &str = "app.kubernetes.io/name";
/// The label static PersistentVolumes carry with the claim they are for.
pub const VOLUME_LABEL: &str = "storage-e2e/volume";

/// The Prometheus workload: a Deployment in most variants, a StatefulSet in
/// `statefulset`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Workload<'a> {
    /// A Deployment.
    Deployment(&'a Deployment),
    /// A StatefulSet.
    StatefulSet(&'a StatefulSet),
}

impl<'a> Workload<'a> {
    /// `Deployment` or `StatefulSet`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Deployment(_) => "Deployment",
            Self::StatefulSet(_) => "StatefulSet",
        }
    }

    /// The workload's name.
    pub fn name(&self) -> &'a str {
        let meta = match self {
            Self::Deployment(d) => &d.metadata,
            Self::StatefulSet(s) => &s.metadata,
        };
        meta.name.as_deref().unwrap_or_default()
    }

    /// The replica count the manifest asks for (Kubernetes defaults to 1).
    pub fn replicas(&self) -> i32 {
        match self {
            Self::Deployment(d) => d.spec.as_ref().and_then(|s| s.replicas),
            Self::StatefulSet(s) => s.spec.as_ref().and_then(|s| s.replicas),
        }
        .unwrap_or(1)
    }

    /// The pod template's spec ([`render`] guarantees there is one).
    pub fn pod_spec(&self) -> &'a PodSpec {
        let spec = match self {
            Self::Deployment(d) => d.spec.as_ref().and_then(|s| s.template.spec.as_ref()),
            Self::StatefulSet(s) => s.spec.as_ref().and_then(|s| s.template.spec.as_ref()),
        };
        spec.expect("render() only accepts workloads with a pod spec")
    }

    /// The claims a StatefulSet makes per replica (empty for a Deployment).
    pub fn volume_claim_templates(&self) -> &'a [PersistentVolumeClaim] {
        match self {
            Self::Deployment(_) => &[],
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
    variant: Variant,
    namespace: String,
    manifests_dir: PathBuf,
    objects: Vec<Manifest>,
    addons: Vec<(String, Vec<Manifest>)>,
    prometheus: usize,
    grafana: usize,
}

impl Rendered {
    /// The variant this is.
    pub fn variant(&self) -> Variant {
        self.variant
    }

    /// The namespace everything namespaced is in.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// The variant's own objects (base + variant, patches applied), in
    /// apply order: namespace, classes, volumes, claims, config, services,
    /// workloads.
    pub fn objects(&self) -> &[Manifest] {
        &self.objects
    }

    /// [`Self::objects`] without those of apps not in `apps` (E2E_APPS):
    /// what a cell applies when it runs only some apps.
    pub fn objects_for(&self, apps: &[App]) -> Vec<Manifest> {
        self.objects
            .iter()
            .filter(|m| m.app().is_none_or(|a| apps.contains(&a)))
            .cloned()
            .collect()
    }

    /// The cluster-wide prerequisites ([`addons_for`]) by addon name, each
    /// in apply order; install them once per cluster, before [`Self::objects`].
    pub fn addons(&self) -> &[(String, Vec<Manifest>)] {
        &self.addons
    }

    /// Addon objects first, then the variant's objects.
    pub fn all(&self) -> impl Iterator<Item = &Manifest> {
        self.addons.iter().flat_map(|(_, m)| m).chain(&self.objects)
    }

    /// The variant object of `kind` named `name`.
    pub fn find(&self, kind: &str, name: &str) -> Option<&Object> {
        self.objects
            .iter()
            .map(|m| &m.object)
            .find(|o| o.kind() == kind && o.name() == name)
    }

    /// The Prometheus workload.
    pub fn prometheus(&self) -> Workload<'_> {
        match &self.objects[self.prometheus].object {
            Object::StatefulSet(s) => Workload::StatefulSet(s),
            Object::Deployment(d) => Workload::Deployment(d),
            other => unreachable!("render() picked {} as the Prometheus workload", other.id()),
        }
    }

    /// The Prometheus pod spec.
    pub fn prometheus_pod_spec(&self) -> &PodSpec {
        self.prometheus().pod_spec()
    }

    /// The Grafana Deployment.
    pub fn grafana(&self) -> &Deployment {
        match &self.objects[self.grafana].object {
            Object::Deployment(d) => d,
            other => unreachable!("render() picked {} as the Grafana Deployment", other.id()),
        }
    }

    /// The Grafana pod spec.
    pub fn grafana_pod_spec(&self) -> &PodSpec {
        Workload::Deployment(self.grafana()).pod_spec()
    }

    /// The claims the variant creates directly (a StatefulSet's per-replica
    /// claims are in [`Workload::volume_claim_templates`]).
    pub fn pvcs(&self) -> Vec<&PersistentVolumeClaim> {
        self.objects
            .iter()
            .filter_map(|m| match &m.object {
                Object::PersistentVolumeClaim(c) => Some(c),
                _ => None,
            })
            .collect()
    }

    /// The PersistentVolumes the variant creates (static provisioning).
    pub fn pvs(&self) -> Vec<&PersistentVolume> {
        self.objects
            .iter()
            .filter_map(|m| match &m.object {
                Object::PersistentVolume(v) => Some(v),
                _ => None,
            })
            .collect()
    }

    /// The StorageClasses the variant creates.
    pub fn storage_classes(&self) -> Vec<&StorageClass> {
        self.objects
            .iter()
            .filter_map(|m| match &m.object {
                Object::StorageClass(c) => Some(c),
                _ => None,
            })
            .collect()
    }

    /// Every workload pod spec (variant and addons) with its object.
    pub fn pod_specs(&self) -> Vec<(&Object, &PodSpec)> {
        self.all()
            .filter_map(|m| Some((&m.object, m.object.pod_spec()?)))
            .collect()
    }

    /// Every container image the rendered objects use (init containers and
    /// addons included): what must be preloaded into an air-gapped cluster.
    pub fn images(&self) -> BTreeSet<&str> {
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
    /// [`Error::Manifest`] if an object cannot be written as YAML (not
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

/// Render `variant` from `manifests_dir` with `params`.
///
/// # Errors
/// - [`Error::Config`] for a parameter with a value that cannot be used;
/// - [`Error::Io`] when a folder or file cannot be read (e.g. no
///   `storage/<id>/` for the variant);
/// - [`Error::Manifest`] naming the file, document index, `Kind/name` and
///   what is wrong: YAML that does not parse, an unknown or unset
///   `${PLACEHOLDER}`, an unknown kind, a field the Kubernetes type does not
///   have, a patch without a target, a broken reference, a rule of the
///   project (ownership label, pinned image, nothing under /tmp, namespaced
///   names).
pub fn render(manifests_dir: &Path, variant: Variant, params: &Params) -> Result<Rendered> {
    params.validate()?;
    let mut raw = Vec::new();
    for file in load::yaml_files(&manifests_dir.join("base"), "listing manifests")? {
        if load::is_patch_file(&file) {
            return Err(Error::Manifest {
                file,
                doc: 0,
                object: "?".into(),
                message: "patches belong in storage/<id>/, base/ holds whole objects".into(),
            });
        }
        raw.extend(load::read_docs(&file, params)?);
    }
    let variant_dir = manifests_dir.join("storage").join(variant.id());
    let mut patches = Vec::new();
    for file in load::yaml_files(&variant_dir, "listing the storage variant's manifests")? {
        let docs = load::read_docs(&file, params)?;
        if load::is_patch_file(&file) {
            patches.extend(docs);
        } else {
            raw.extend(docs);
        }
    }
    let mut raw: Vec<(load::RawDoc, Vec<PathBuf>)> = reject_duplicates(raw)?
        .into_iter()
        .map(|d| (d, Vec::new()))
        .collect();
    for p in &patches {
        let key = p.key();
        let Some(i) = raw.iter().position(|(d, _)| d.key() == key) else {
            return Err(p.error(format!(
                "patches {}, which no base or variant manifest defines (in namespace {:?})",
                p.object(),
                key.1
            )));
        };
        match patch::apply(&mut raw[i].0.value, &p.value).map_err(|e| p.error(e))? {
            patch::Outcome::Delete => {
                raw.remove(i);
            }
            patch::Outcome::Merged => raw[i].1.push(p.file.clone()),
        }
    }
    let mut objects = raw
        .into_iter()
        .map(|(d, patched_by)| typed(d, patched_by))
        .collect::<Result<Vec<_>>>()?;
    objects.sort_by_key(|m| m.object.apply_rank());
    check::check(&objects, Some(&params.namespace))?;

    let mut addons = Vec::new();
    for name in addons_for(variant) {
        let dir = manifests_dir.join("addons").join(name);
        let mut set = Vec::new();
        for file in load::yaml_files(&dir, "listing an addon's manifests")? {
            for d in load::read_docs(&file, params)? {
                set.push(typed(d, Vec::new())?);
            }
        }
        let set = reject_duplicates_typed(set)?;
        check::check(&set, None)?;
        addons.push(((*name).to_owned(), set));
    }

    let prometheus = find_workload(&objects, PROMETHEUS, &variant_dir)?;
    let grafana = find_workload(&objects, GRAFANA, &variant_dir)?;
    if !matches!(objects[grafana].object, Object::Deployment(_)) {
        return Err(objects[grafana].error("Grafana must be a Deployment"));
    }
    Ok(Rendered {
        variant,
        namespace: params.namespace.clone(),
        manifests_dir: manifests_dir.to_owned(),
        objects,
        addons,
        prometheus,
        grafana,
    })
}

/// Type one raw document, strictly.
fn typed(mut d: load::RawDoc, patched_by: Vec<PathBuf>) -> Result<Manifest> {
    object::strip_nulls(&mut d.value);
    let field = |k: &str| {
        d.value
            .get(k)
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .to_owned()
    };
    let (api_version, kind) = (field("apiVersion"), field("kind"));
    if api_version.is_empty() || kind.is_empty() {
        return Err(d.error("needs apiVersion and kind"));
    }
    let value = d.value.clone();
    let obj = match Object::from_json(&api_version, &kind, value) {
        None => {
            return Err(d.error(format!(
                "kind {kind} ({api_version}) is not one the harness knows; known: {}",
                Object::known_kinds().join(", ")
            )));
        }
        Some(Err(e)) => return Err(d.error(format!("is not a valid {kind}: {e}"))),
        Some(Ok(o)) => o,
    };
    let back = obj
        .to_json()
        .map_err(|e| d.error(format!("cannot be serialized again: {e}")))?;
    let differences = object::strict_differences(&d.value, &back);
    if !differences.is_empty() {
        return Err(d.error(differences.join("; ")));
    }
    Ok(Manifest {
        source: Source {
            file: d.file,
            doc: d.doc,
            patched_by,
        },
        object: obj,
    })
}

fn reject_duplicates(raw: Vec<load::RawDoc>) -> Result<Vec<load::RawDoc>> {
    let mut seen: BTreeMap<(String, String, String), (PathBuf, usize)> = BTreeMap::new();
    for d in &raw {
        if let Some((file, doc)) = seen.insert(d.key(), (d.file.clone(), d.doc)) {
            return Err(d.error(format!(
                "is defined twice: also in {} document {doc} (a variant changes a base object with a *.patch.yaml file)",
                file.display()
            )));
        }
    }
    Ok(raw)
}

fn reject_duplicates_typed(set: Vec<Manifest>) -> Result<Vec<Manifest>> {
    let mut set = set;
    set.sort_by_key(|m| m.object.apply_rank());
    for (i, m) in set.iter().enumerate() {
        let twin = set[..i].iter().find(|x| {
            x.object.kind() == m.object.kind()
                && x.object.name() == m.object.name()
                && x.object.namespace() == m.object.namespace()
        });
        if let Some(t) = twin {
            return Err(m.error(format!(
                "is defined twice: also in {}",
                t.source.file.display()
            )));
        }
    }
    Ok(set)
}

/// The index of the workload named `name`, which must exist once, with a pod
/// spec and a container of the same name.
fn find_workload(objects: &[Manifest], name: &str, variant_dir: &Path) -> Result<usize> {
    let found: Vec<usize> = objects
        .iter()
        .enumerate()
        .filter(|(_, m)| {
            matches!(m.object, Object::Deployment(_) | Object::StatefulSet(_))
                && m.object.name() == name
        })
        .map(|(i, _)| i)
        .collect();
    let [i] = found[..] else {
        return Err(Error::Manifest {
            file: variant_dir.to_owned(),
            doc: 0,
            object: format!("?/{name}"),
            message: format!(
                "base + variant must define exactly one Deployment or StatefulSet named {name:?}, found {}",
                found.len()
            ),
        });
    };
    let m = &objects[i];
    let spec = m
        .object
        .pod_spec()
        .ok_or_else(|| m.error("has no pod template spec"))?;
    if !spec.containers.iter().any(|c| c.name == name) {
        return Err(m.error(format!("has no container named {name:?}")));
    }
    Ok(i)
}
