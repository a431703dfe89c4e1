//! Tier 0: every variant in manifests/ renders, types strictly and keeps the
//! promises its header makes; broken input fails with a clear message.

use std::path::{Path, PathBuf};

use k8s_openapi::api::core::v1::{PodSpec, Volume};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use rstest::rstest;
use serde::Deserialize as _;

use super::*;
use crate::config::{Images, default_dir};
use crate::grafana::{DATA_DIR as GRAFANA_DATA_DIR, PORT as GRAFANA_PORT};
use crate::prometheus::{DATA_DIR as PROMETHEUS_DATA_DIR, PORT as PROMETHEUS_PORT};
use crate::vocab::{App, NamedId, Variant};

/// Declare an rstest test with one case per storage variant, named after it.
macro_rules! per_variant {
    ($(#[$meta:meta])* fn $name:ident($v:ident: Variant) $body:block) => {
        #[rstest]
        #[case::empty_dir(Variant::EmptyDir)]
        #[case::host_path(Variant::HostPath)]
        #[case::local_pv(Variant::LocalPv)]
        #[case::nfs_static(Variant::NfsStatic)]
        #[case::nfs_dynamic(Variant::NfsDynamic)]
        #[case::default_class(Variant::DefaultClass)]
        #[case::statefulset(Variant::Statefulset)]
        #[case::rwop(Variant::Rwop)]
        #[case::custom_class(Variant::CustomClass)]
        $(#[$meta])*
        fn $name(#[case] $v: Variant) $body
    };
}

const NS: &str = "e2e-test01";

/// Parameters with every value set, distinct from the placeholder ones so a
/// test can tell they were used.
fn params() -> Params {
    Params::new(NS, Images::default())
        .with_nfs("10.89.0.7", "/srv/nfs")
        .with_node("kind-worker2")
        .with_storage_class("fast-ssd")
}

fn rendered(variant: Variant) -> Rendered {
    render(&default_dir(), variant, &params()).unwrap_or_else(|e| panic!("{variant}: {e}"))
}

fn data_volume<'a>(spec: &'a PodSpec, what: &str) -> &'a Volume {
    spec.volumes
        .iter()
        .flatten()
        .find(|v| v.name == DATA_VOLUME)
        .unwrap_or_else(|| panic!("{what}: no volume named {DATA_VOLUME}"))
}

fn mount_path<'a>(spec: &'a PodSpec, container: &str, volume: &str) -> Option<&'a str> {
    spec.containers
        .iter()
        .find(|c| c.name == container)?
        .volume_mounts
        .iter()
        .flatten()
        .find(|m| m.name == volume)
        .map(|m| m.mount_path.as_str())
}

fn labels_of(o: &Object) -> std::collections::BTreeMap<String, String> {
    o.metadata().labels.clone().unwrap_or_default()
}

per_variant! {
    /// The YAML `make render` prints reads back into exactly the typed
    /// objects render() produced: nothing is lost on the way to kubectl.
    fn every_document_types_and_the_yaml_reads_back(variant: Variant) {
        let r = rendered(variant);
        let yaml = r.to_yaml().unwrap_or_else(|e| panic!("{e}"));
        let mut back = Vec::new();
        for de in serde_yaml_ng::Deserializer::from_str(&yaml) {
            let v = serde_yaml_ng::Value::deserialize(de).unwrap_or_else(|e| panic!("{e}\n{yaml}"));
            if v.is_null() {
                continue;
            }
            let json = serde_json::to_value(&v).unwrap_or_else(|e| panic!("{e}"));
            let kind = json["kind"].as_str().unwrap_or_default().to_owned();
            let api = json["apiVersion"].as_str().unwrap_or_default().to_owned();
            let o = Object::from_json(&api, &kind, json)
                .unwrap_or_else(|| panic!("unknown kind {kind}"))
                .unwrap_or_else(|e| panic!("{kind}: {e}"));
            back.push(o);
        }
        let expected: Vec<&Object> = r.all().map(|m| &m.object).collect();
        assert_eq!(back.iter().collect::<Vec<_>>(), expected);
        assert!(r.objects().iter().any(|m| matches!(m.object, Object::Namespace(_))));
        assert!(yaml.contains("# source: base/prometheus.yaml"), "{yaml}");
    }
}

per_variant! {
    fn prometheus_keeps_its_tsdb_on_the_data_volume(variant: Variant) {
        let r = rendered(variant);
        let w = r.prometheus();
        let spec = r.prometheus_pod_spec();
        assert_eq!(mount_path(spec, PROMETHEUS, DATA_VOLUME), Some(PROMETHEUS_DATA_DIR));
        let from_template = w.volume_claim_templates().iter().any(|t| t.metadata.name.as_deref() == Some(DATA_VOLUME));
        let from_volume = spec.volumes.iter().flatten().any(|v| v.name == DATA_VOLUME);
        assert!(from_template ^ from_volume, "data must come from exactly one of a volume or a claim template");
        let c = spec.containers.iter().find(|c| c.name == PROMETHEUS).unwrap_or_else(|| panic!("no container"));
        let args = c.args.clone().unwrap_or_default();
        for want in [
            "--storage.tsdb.path=/prometheus",
            "--web.enable-admin-api",
            "--web.enable-lifecycle",
            "--web.enable-remote-write-receiver",
        ] {
            assert!(args.iter().any(|a| a == want), "{want} missing from {args:?}");
        }
        assert!(args.iter().any(|a| a.starts_with("--config.file=")), "{args:?}");
        assert!(!args.iter().any(|a| a.contains("no-lockfile")), "clean_start needs the lock file");
        let probe = c.readiness_probe.as_ref().and_then(|p| p.http_get.as_ref()).unwrap_or_else(|| panic!("no readiness probe"));
        assert_eq!(probe.path.as_deref(), Some("/-/ready"));
        assert_eq!(probe.port, IntOrString::Int(i32::from(PROMETHEUS_PORT)));
        let sc = spec.security_context.as_ref().unwrap_or_else(|| panic!("no pod securityContext"));
        assert_eq!((sc.run_as_user, sc.run_as_group, sc.fs_group), (Some(65534), Some(65534), Some(65534)));
        assert!(c.resources.as_ref().and_then(|r| r.requests.as_ref()).is_some(), "resource requests");
        assert_eq!(c.image.as_deref(), Some(params().images.prometheus.as_str()));
    }
}

per_variant! {
    fn grafana_keeps_its_database_on_the_data_volume(variant: Variant) {
        let r = rendered(variant);
        let spec = r.grafana_pod_spec();
        assert_eq!(mount_path(spec, GRAFANA, DATA_VOLUME), Some(GRAFANA_DATA_DIR));
        data_volume(spec, "grafana");
        let c = spec.containers.iter().find(|c| c.name == GRAFANA).unwrap_or_else(|| panic!("no container"));
        let probe = c.readiness_probe.as_ref().and_then(|p| p.http_get.as_ref()).unwrap_or_else(|| panic!("no readiness probe"));
        assert_eq!(probe.path.as_deref(), Some("/api/health"));
        assert_eq!(probe.port, IntOrString::Int(i32::from(GRAFANA_PORT)));
        let sc = spec.security_context.as_ref().unwrap_or_else(|| panic!("no pod securityContext"));
        assert_eq!((sc.run_as_user, sc.run_as_group, sc.fs_group), (Some(472), Some(0), Some(472)));
        let password = c.env.iter().flatten().find(|e| e.name == "GF_SECURITY_ADMIN_PASSWORD")
            .and_then(|e| e.value_from.as_ref()?.secret_key_ref.as_ref())
            .unwrap_or_else(|| panic!("admin password not from a Secret"));
        assert_eq!((password.name.as_str(), password.key.as_str()), (GRAFANA_ADMIN_SECRET, GRAFANA_ADMIN_PASSWORD_KEY));
        let Some(Object::Secret(secret)) = r.find("Secret", GRAFANA_ADMIN_SECRET) else { panic!("no Secret") };
        let value = secret.string_data.as_ref().and_then(|d| d.get(GRAFANA_ADMIN_PASSWORD_KEY));
        assert_eq!(value, Some(&params_password(&r)));
        assert_eq!(c.image.as_deref(), Some(Images::default().grafana.as_str()));
    }
}

/// The password render() put into the Secret is the one from the params it
/// was given; fresh `params()` have a new random one, so read it back.
fn params_password(r: &Rendered) -> String {
    let Some(Object::Secret(s)) = r.find("Secret", GRAFANA_ADMIN_SECRET) else {
        return String::new();
    };
    let p = s
        .string_data
        .as_ref()
        .and_then(|d| d.get(GRAFANA_ADMIN_PASSWORD_KEY))
        .cloned()
        .unwrap_or_default();
    assert_eq!(p.len(), 24, "a generated password");
    p
}

per_variant! {
    /// The seed's Deployment behaviour is what the harness observes.
    fn deployments_keep_one_replica_rolling_update_and_a_deadline(variant: Variant) {
        let r = rendered(variant);
        let mut seen = 0;
        for m in r.objects() {
            let Object::Deployment(d) = &m.object else { continue };
            seen += 1;
            let spec = d.spec.as_ref().unwrap_or_else(|| panic!("no spec"));
            assert_eq!(spec.replicas, Some(1), "{}", m.object.id());
            assert_eq!(spec.strategy.as_ref().and_then(|s| s.type_.as_deref()), Some("RollingUpdate"));
            assert_eq!(spec.progress_deadline_seconds, Some(120));
        }
        let expected = if variant == Variant::Statefulset { 1 } else { 2 };
        assert_eq!(seen, expected);
    }
}

per_variant! {
    fn nothing_keeps_data_under_tmp(variant: Variant) {
        let r = rendered(variant);
        let mut paths = Vec::new();
        for (_, spec) in r.pod_specs() {
            paths.extend(spec.volumes.iter().flatten().filter_map(|v| Some(v.host_path.as_ref()?.path.clone())));
        }
        for pv in r.pvs() {
            let spec = pv.spec.as_ref().unwrap_or_else(|| panic!("PV without spec"));
            paths.extend(spec.host_path.as_ref().map(|h| h.path.clone()));
            paths.extend(spec.local.as_ref().map(|l| l.path.clone()));
        }
        for p in &paths {
            assert!(!p.starts_with("/tmp"), "{variant}: {p} is under /tmp");
        }
        if matches!(variant, Variant::HostPath | Variant::LocalPv) {
            assert_eq!(paths.len(), 2, "{paths:?}");
            for p in &paths {
                assert!(p.starts_with(&format!("/var/local/storage-e2e/{NS}/")), "{p}");
            }
        }
    }
}

per_variant! {
    fn every_image_has_a_pinned_tag(variant: Variant) {
        let r = rendered(variant);
        let images = r.images();
        assert!(images.len() >= 2, "{images:?}");
        for image in images {
            let last = image.rsplit('/').next().unwrap_or(image);
            let tag = last.split_once(':').map(|(_, t)| t).unwrap_or_default();
            assert!(
                image.contains("@sha256:") || (!tag.is_empty() && tag != "latest"),
                "{variant}: {image} is not pinned"
            );
        }
    }
}

per_variant! {
    fn every_object_is_labelled_and_cluster_scoped_names_carry_the_namespace(variant: Variant) {
        let r = rendered(variant);
        for m in r.all() {
            let o = &m.object;
            assert_eq!(labels_of(o).get("app.kubernetes.io/managed-by").map(String::as_str), Some("storage-e2e"), "{}", o.id());
        }
        for m in r.objects() {
            let o = &m.object;
            if o.is_cluster_scoped() {
                assert!(o.name().contains(NS), "{}", o.id());
            } else {
                assert_eq!(o.namespace(), Some(NS), "{}", o.id());
            }
        }
        for (o, _) in r.pod_specs() {
            let template_labels = match o {
                Object::Deployment(d) => d.spec.as_ref().and_then(|s| s.template.metadata.as_ref()?.labels.clone()),
                Object::StatefulSet(s) => s.spec.as_ref().and_then(|s| s.template.metadata.as_ref()?.labels.clone()),
                Object::DaemonSet(d) => d.spec.as_ref().and_then(|s| s.template.metadata.as_ref()?.labels.clone()),
                _ => None,
            }.unwrap_or_default();
            assert_eq!(template_labels.get("app.kubernetes.io/managed-by").map(String::as_str), Some("storage-e2e"), "pods of {}", o.id());
            assert_eq!(template_labels.get("app.kubernetes.io/part-of").map(String::as_str), Some("storage-e2e"), "pods of {}", o.id());
            if o.namespace() == Some(NS) {
                assert_eq!(template_labels.get("app.kubernetes.io/name").map(String::as_str), Some(o.name()), "pods of {}", o.id());
            }
        }
    }
}

#[test]
fn empty_dir_really_uses_empty_dir() {
    let r = rendered(Variant::EmptyDir);
    for (what, spec) in [
        ("prometheus", r.prometheus_pod_spec()),
        ("grafana", r.grafana_pod_spec()),
    ] {
        let v = data_volume(spec, what);
        assert!(v.empty_dir.is_some(), "{what}: {v:?}");
        assert!(
            v.persistent_volume_claim.is_none(),
            "{what}: the base claim must be patched away"
        );
    }
    assert!(r.pvcs().is_empty() && r.pvs().is_empty() && r.storage_classes().is_empty());
}

#[test]
fn host_path_is_pinned_to_the_node_and_chowned() {
    let r = rendered(Variant::HostPath);
    for (what, spec, owner) in [
        ("prometheus", r.prometheus_pod_spec(), "65534:65534"),
        ("grafana", r.grafana_pod_spec(), "472:472"),
    ] {
        let v = data_volume(spec, what);
        let hp = v
            .host_path
            .as_ref()
            .unwrap_or_else(|| panic!("{what}: not a hostPath"));
        assert_eq!(hp.path, format!("/var/local/storage-e2e/{NS}/{what}"));
        assert_eq!(hp.type_.as_deref(), Some("DirectoryOrCreate"));
        let node = spec
            .node_selector
            .as_ref()
            .and_then(|n| n.get("kubernetes.io/hostname"));
        assert_eq!(node.map(String::as_str), Some("kind-worker2"));
        let init = spec
            .init_containers
            .iter()
            .flatten()
            .find(|c| c.name == "chown-data")
            .unwrap_or_else(|| panic!("{what}: no chown init container"));
        assert!(
            init.command.iter().flatten().any(|a| a == owner),
            "{:?}",
            init.command
        );
        assert_eq!(
            init.security_context.as_ref().and_then(|s| s.run_as_user),
            Some(0)
        );
        assert_eq!(init.image.as_deref(), Some(Images::default().init.as_str()));
    }
}

#[test]
fn local_pv_has_node_affinity_and_waits_for_first_consumer() {
    let r = rendered(Variant::LocalPv);
    let [sc] = r.storage_classes()[..] else {
        panic!("one StorageClass")
    };
    assert_eq!(sc.provisioner, "kubernetes.io/no-provisioner");
    assert_eq!(
        sc.volume_binding_mode.as_deref(),
        Some("WaitForFirstConsumer")
    );
    let class = sc.metadata.name.clone();
    assert_eq!(r.pvs().len(), 2);
    for pv in r.pvs() {
        let spec = pv.spec.as_ref().unwrap_or_else(|| panic!("PV spec"));
        assert!(spec.local.is_some());
        assert_eq!(
            spec.persistent_volume_reclaim_policy.as_deref(),
            Some("Retain")
        );
        assert_eq!(spec.storage_class_name, class);
        let terms = &spec
            .node_affinity
            .as_ref()
            .and_then(|a| a.required.as_ref())
            .unwrap_or_else(|| panic!("PV without required nodeAffinity"))
            .node_selector_terms;
        let exprs = terms[0].match_expressions.clone().unwrap_or_default();
        assert_eq!(exprs[0].key, "kubernetes.io/hostname");
        assert_eq!(exprs[0].values, Some(vec!["kind-worker2".to_owned()]));
    }
    for pvc in r.pvcs() {
        assert_eq!(
            pvc.spec.as_ref().and_then(|s| s.storage_class_name.clone()),
            class
        );
    }
}

#[test]
fn nfs_static_claims_select_their_pv_and_have_no_class() {
    let r = rendered(Variant::NfsStatic);
    assert_eq!(r.pvcs().len(), 2);
    for pvc in r.pvcs() {
        let spec = pvc.spec.as_ref().unwrap_or_else(|| panic!("PVC spec"));
        assert_eq!(
            spec.storage_class_name.as_deref(),
            Some(""),
            "\"\" means no class"
        );
        let wanted = spec
            .selector
            .as_ref()
            .and_then(|s| s.match_labels.clone())
            .unwrap_or_else(|| panic!("PVC without selector"));
        assert_eq!(
            wanted.get("storage-e2e/namespace").map(String::as_str),
            Some(NS)
        );
        let matching: Vec<_> = r
            .pvs()
            .into_iter()
            .filter(|pv| {
                wanted
                    .iter()
                    .all(|(k, v)| pv.metadata.labels.as_ref().and_then(|l| l.get(k)) == Some(v))
            })
            .collect();
        assert_eq!(
            matching.len(),
            1,
            "selector {wanted:?} must match exactly one PV"
        );
        let pv = matching[0]
            .spec
            .as_ref()
            .unwrap_or_else(|| panic!("PV spec"));
        let nfs = pv.nfs.as_ref().unwrap_or_else(|| panic!("not an NFS PV"));
        assert_eq!(nfs.server, "10.89.0.7");
        assert!(
            nfs.path.starts_with(&format!("/srv/nfs/{NS}/")),
            "{}",
            nfs.path
        );
        assert_eq!(pv.mount_options, Some(vec!["nfsvers=4.1".to_owned()]));
        assert_eq!(
            pv.persistent_volume_reclaim_policy.as_deref(),
            Some("Retain")
        );
        assert_eq!(pv.storage_class_name.as_deref(), Some(""));
    }
}

#[test]
fn nfs_dynamic_uses_csi_driver_nfs_and_brings_it_along() {
    let r = rendered(Variant::NfsDynamic);
    let [sc] = r.storage_classes()[..] else {
        panic!("one StorageClass")
    };
    assert_eq!(sc.provisioner, "nfs.csi.k8s.io");
    let p = sc.parameters.clone().unwrap_or_default();
    assert_eq!(p.get("server").map(String::as_str), Some("10.89.0.7"));
    assert_eq!(p.get("share").map(String::as_str), Some("/srv/nfs"));
    assert_eq!(sc.mount_options, Some(vec!["nfsvers=4.1".to_owned()]));
    for pvc in r.pvcs() {
        assert_eq!(
            pvc.spec.as_ref().and_then(|s| s.storage_class_name.clone()),
            sc.metadata.name
        );
    }
    let [(name, addon)] = r.addons() else {
        panic!("one addon")
    };
    assert_eq!(name, "csi-driver-nfs");
    let driver = addon
        .iter()
        .find_map(|m| match &m.object {
            Object::CsiDriver(d) => Some(d),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no CSIDriver"));
    assert_eq!(
        driver.metadata.name.as_deref(),
        Some(sc.provisioner.as_str())
    );
    assert_eq!(driver.spec.fs_group_policy.as_deref(), Some("File"));
    assert!(
        r.images()
            .iter()
            .any(|i| i.starts_with("registry.k8s.io/sig-storage/nfsplugin:v"))
    );
}

#[rstest]
#[case::default_class(Variant::DefaultClass, None, "ReadWriteOnce")]
#[case::rwop(Variant::Rwop, None, "ReadWriteOncePod")]
#[case::custom_class(Variant::CustomClass, Some("fast-ssd"), "ReadWriteOnce")]
fn claim_variants_ask_for_their_class_and_access_mode(
    #[case] variant: Variant,
    #[case] class: Option<&str>,
    #[case] mode: &str,
) {
    let r = rendered(variant);
    assert_eq!(r.pvcs().len(), 2);
    assert!(r.pvs().is_empty() && r.storage_classes().is_empty());
    for pvc in r.pvcs() {
        let spec = pvc.spec.as_ref().unwrap_or_else(|| panic!("PVC spec"));
        assert_eq!(spec.storage_class_name.as_deref(), class);
        assert_eq!(spec.access_modes, Some(vec![mode.to_owned()]));
    }
}

#[test]
fn statefulset_has_two_spread_replicas_with_their_own_claims() {
    let r = rendered(Variant::Statefulset);
    let w = r.prometheus();
    assert_eq!(
        (w.kind(), w.name(), w.replicas()),
        (Kind::StatefulSet, PROMETHEUS, 2)
    );
    assert!(
        r.find("Deployment", PROMETHEUS).is_none(),
        "the base Deployment is patched away"
    );
    let [t] = w.volume_claim_templates() else {
        panic!("one claim template")
    };
    assert_eq!(t.metadata.name.as_deref(), Some(DATA_VOLUME));
    let spec = w.pod_spec();
    let anti = spec
        .affinity
        .as_ref()
        .and_then(|a| a.pod_anti_affinity.as_ref());
    assert!(anti.is_some_and(|a| {
        a.preferred_during_scheduling_ignored_during_execution
            .is_some()
    }));
    assert!(
        spec.init_containers
            .iter()
            .flatten()
            .any(|c| c.name == "chown-data")
    );
    let RenderedWorkload::StatefulSet(s) = w else {
        panic!("not a StatefulSet")
    };
    let service = s
        .spec
        .as_ref()
        .and_then(|s| s.service_name.clone())
        .unwrap_or_default();
    assert!(
        matches!(r.find("Service", &service), Some(Object::Service(_))),
        "{service}"
    );
    assert_eq!(r.pvcs().len(), 1, "Grafana's claim");
}

#[test]
fn every_storage_folder_is_a_variant_and_every_variant_has_one() {
    let mut dirs: Vec<String> = std::fs::read_dir(default_dir().join("storage"))
        .unwrap_or_else(|e| panic!("{e}"))
        .map(|e| {
            e.unwrap_or_else(|e| panic!("{e}"))
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    dirs.sort();
    let mut ids: Vec<String> = Variant::ALL.iter().map(|v| v.id().to_owned()).collect();
    ids.sort();
    assert_eq!(dirs, ids);
}

#[test]
fn every_variant_and_addon_file_says_what_it_shows_and_where_it_comes_from() {
    let root = default_dir();
    let mut files = Vec::new();
    for sub in ["storage", "addons"] {
        for dir in std::fs::read_dir(root.join(sub)).unwrap_or_else(|e| panic!("{e}")) {
            let dir = dir.unwrap_or_else(|e| panic!("{e}")).path();
            files.extend(load::yaml_files(&dir, "test").unwrap_or_else(|e| panic!("{e}")));
        }
    }
    {
        let dir = "base";
        files.extend(load::yaml_files(&root.join(dir), "test").unwrap_or_else(|e| panic!("{e}")));
    }
    assert!(files.len() > 15, "{files:?}");
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap_or_else(|e| panic!("{e}"));
        let header: String = text
            .lines()
            .take_while(|l| l.starts_with('#'))
            .collect::<Vec<_>>()
            .join("\n");
        assert!(
            header.lines().count() >= 3,
            "{}: no header comment",
            f.display()
        );
        let cites_seed = header
            .split(|c: char| c.is_whitespace() || c == ',' || c == '(' || c == ')' || c == ':')
            .any(|w| w.len() == 24 && w.ends_with(".txt") && w.as_bytes()[3] == b'_');
        assert!(
            cites_seed,
            "{}: the header must name the seed article",
            f.display()
        );
        if !f.starts_with(root.join("base")) {
            assert!(
                header.contains("Documented behaviour"),
                "{}: say which documented behaviour",
                f.display()
            );
        }
    }
}

#[test]
fn every_variant_is_in_the_readme_table() {
    let readme = default_dir().with_file_name("README.md");
    let text = std::fs::read_to_string(&readme).unwrap_or_else(|e| panic!("{e}"));
    for v in Variant::ALL {
        assert!(
            text.contains(&format!("| `{}` |", v.id())),
            "README.md has no row for {v}"
        );
    }
}

#[test]
fn image_overrides_reach_every_container() {
    let mut p = params();
    p.images.prometheus = "local/prometheus-debian:2.42".into();
    p.images.init = "registry.local:5000/busybox@sha256:0123".into();
    let r = render(&default_dir(), Variant::Statefulset, &p).unwrap_or_else(|e| panic!("{e}"));
    let images = r.images();
    assert!(
        images.contains("local/prometheus-debian:2.42"),
        "{images:?}"
    );
    assert!(
        images.contains("registry.local:5000/busybox@sha256:0123"),
        "{images:?}"
    );
    assert!(!images.contains(Images::default().prometheus.as_str()));
}

#[test]
fn placeholder_params_render_every_variant() {
    for v in Variant::ALL {
        let r = render(&default_dir(), *v, &Params::placeholder())
            .unwrap_or_else(|e| panic!("{v}: {e}"));
        assert_eq!(r.namespace(), "e2e-render");
    }
}

// ---- bad input: each a clear error, asserted on its message ----

/// A copy of manifests/ in a temp dir, to break on purpose.
struct Scratch {
    _dir: tempfile::TempDir,
    root: PathBuf,
}

impl Scratch {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let root = dir.path().join("manifests");
        copy_dir(&default_dir(), &root);
        Self { _dir: dir, root }
    }

    /// Replace `from` with `to` in `file` (relative to manifests/); the
    /// text must be there, so the test cannot silently test nothing.
    fn edit(&self, file: &str, from: &str, to: &str) -> &Self {
        let path = self.root.join(file);
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{e}"));
        assert!(text.contains(from), "{file} does not contain {from:?}");
        std::fs::write(&path, text.replacen(from, to, 1)).unwrap_or_else(|e| panic!("{e}"));
        self
    }

    fn write(&self, file: &str, text: &str) -> &Self {
        std::fs::write(self.root.join(file), text).unwrap_or_else(|e| panic!("{e}"));
        self
    }

    fn error(&self, variant: Variant, params: &Params) -> String {
        match render(&self.root, variant, params) {
            Ok(_) => panic!("rendering {variant} should have failed"),
            Err(e) => e.to_string(),
        }
    }

    fn path(&self, file: &str) -> String {
        self.root.join(file).display().to_string()
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap_or_else(|e| panic!("{e}"));
    for entry in std::fs::read_dir(from).unwrap_or_else(|e| panic!("{e}")) {
        let path = entry.unwrap_or_else(|e| panic!("{e}")).path();
        let target = to.join(path.file_name().unwrap_or_default());
        if path.is_dir() {
            copy_dir(&path, &target);
        } else {
            std::fs::copy(&path, &target).unwrap_or_else(|e| panic!("{e}"));
        }
    }
}

#[test]
fn unknown_variant_lists_the_valid_ones() {
    let e = "nfs"
        .parse::<Variant>()
        .map(|_| ())
        .map_err(|e| e.to_string());
    assert_eq!(
        e,
        Err("unknown storage variant \"nfs\": valid ones are empty-dir, host-path, local-pv, nfs-static, \
             nfs-dynamic, default-class, statefulset, rwop, custom-class, csi-rwo, operator-default, \
             operator-claim, operator-claim-delete, operator-claim-csi, thanos-empty-dir, thanos-claim, \
             thanos-compacting"
            .to_owned())
    );
}

#[test]
fn a_missing_variant_folder_is_named() {
    let s = Scratch::new();
    std::fs::remove_dir_all(s.root.join("storage/rwop")).unwrap_or_else(|e| panic!("{e}"));
    let e = s.error(Variant::Rwop, &params());
    assert!(
        e.starts_with("listing the storage variant's manifests "),
        "{e}"
    );
    assert!(e.contains("storage/rwop"), "{e}");
}

#[test]
fn malformed_yaml_names_file_and_document() {
    let s = Scratch::new();
    s.write(
        "storage/rwop/broken.yaml",
        "# header\napiVersion: v1\nkind: ConfigMap\n---\nkind: [unclosed\n",
    );
    let e = s.error(Variant::Rwop, &params());
    let want = format!(
        "{}: document 1 (?): not valid YAML: ",
        s.path("storage/rwop/broken.yaml")
    );
    assert!(e.starts_with(&want), "{e}");
}

#[test]
fn a_missing_parameter_names_file_placeholder_and_field() {
    let s = Scratch::new();
    let p = Params::new(NS, Images::default());
    let e = s.error(Variant::HostPath, &p);
    assert_eq!(
        e,
        format!(
            "{}: document 0 (Deployment/prometheus): placeholder ${{NODE_NAME}} has no value: \
             set Params::node_name for this variant (at `spec.template.spec.nodeSelector.kubernetes.io/hostname`)",
            s.path("storage/host-path/workloads.patch.yaml")
        )
    );
    let e = s.error(Variant::NfsStatic, &p);
    assert!(
        e.contains("document 0 (PersistentVolume/e2e-test01-prometheus-nfs): placeholder ${NFS_PATH} has no value: set Params::nfs_path"),
        "{e}"
    );
    let e = s.error(Variant::CustomClass, &p);
    assert!(
        e.contains("placeholder ${STORAGE_CLASS} has no value"),
        "{e}"
    );
}

#[test]
fn an_unknown_placeholder_is_named() {
    let s = Scratch::new();
    s.edit(
        "base/grafana.yaml",
        "namespace: ${NAMESPACE}",
        "namespace: ${NAMESPCE}",
    );
    let e = s.error(Variant::EmptyDir, &params());
    assert!(e.starts_with(&format!("{}: document 0 (Secret/grafana-admin): unknown placeholder ${{NAMESPCE}}: known ones are NAMESPACE,", s.path("base/grafana.yaml"))), "{e}");
}

#[test]
fn an_unknown_field_is_a_typo_not_silence() {
    let s = Scratch::new();
    s.edit(
        "base/prometheus.yaml",
        "          volumeMounts:",
        "          volumeMount:",
    );
    let e = s.error(Variant::DefaultClass, &params());
    assert_eq!(
        e,
        format!(
            "{}: document 1 (Deployment/prometheus): unknown field `spec.template.spec.containers[0].volumeMount` \
             (a typo, or not in this Kubernetes version)",
            s.path("base/prometheus.yaml")
        )
    );
}

#[test]
fn a_wrong_type_and_a_missing_required_field_are_named() {
    let s = Scratch::new();
    s.edit("base/prometheus.yaml", "replicas: 1", "replicas: one");
    let e = s.error(Variant::DefaultClass, &params());
    assert!(e.contains("document 1 (Deployment/prometheus): is not a valid Deployment: invalid type: string \"one\""), "{e}");
    let s = Scratch::new();
    s.edit(
        "base/prometheus.yaml",
        "        - name: prometheus\n          image: ${PROMETHEUS_IMAGE}\n",
        "        - image: ${PROMETHEUS_IMAGE}\n",
    );
    let e = s.error(Variant::Rwop, &params());
    assert!(
        e.contains("required field `spec.template.spec.containers[0].name` is missing"),
        "{e}"
    );
}

#[test]
fn an_unknown_kind_is_rejected_with_the_known_ones() {
    let s = Scratch::new();
    s.write(
        "storage/rwop/ingress.yaml",
        "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: x\n",
    );
    let e = s.error(Variant::Rwop, &params());
    assert!(e.contains("document 0 (Ingress/x): kind Ingress (networking.k8s.io/v1) is not one the harness knows; known: v1 Namespace"), "{e}");
}

#[test]
fn project_rules_are_enforced() {
    let cases: &[(&str, &str, &str, Variant, &str)] = &[
        (
            "base/grafana.yaml",
            "    app.kubernetes.io/managed-by: storage-e2e\ntype: Opaque",
            "type: Opaque",
            Variant::EmptyDir,
            "(Secret/grafana-admin): label app.kubernetes.io/managed-by: storage-e2e is missing",
        ),
        (
            "storage/host-path/workloads.patch.yaml",
            "path: /var/local/storage-e2e/${NAMESPACE}/prometheus",
            "path: /tmp/prometheus",
            Variant::HostPath,
            "volume \"data\" is a hostPath under /tmp (/tmp/prometheus)",
        ),
        (
            "storage/local-pv/storage.yaml",
            "path: /var/local/storage-e2e/${NAMESPACE}/grafana",
            "path: /tmp/grafana",
            Variant::LocalPv,
            "keeps its data under /tmp (/tmp/grafana)",
        ),
        (
            "storage/host-path/workloads.patch.yaml",
            "image: ${INIT_IMAGE}",
            "image: busybox",
            Variant::HostPath,
            "container \"chown-data\" has image \"busybox\", which is not pinned",
        ),
        (
            "storage/local-pv/storage.yaml",
            "name: ${NAMESPACE}-local",
            "name: local-storage",
            Variant::LocalPv,
            "(StorageClass/local-storage): is cluster-scoped, so its name must contain the namespace",
        ),
        (
            "storage/rwop/storage.yaml",
            "  name: grafana-data\n  namespace: ${NAMESPACE}\n",
            "  name: grafana-data\n",
            Variant::Rwop,
            "(PersistentVolumeClaim/grafana-data): is in namespace \"\", expected \"e2e-test01\"",
        ),
        (
            "storage/rwop/storage.yaml",
            "  name: grafana-data\n",
            "  name: grafana-claim\n",
            Variant::Rwop,
            "(Deployment/grafana): volume \"data\" uses claim \"grafana-data\", which this variant does not define",
        ),
        (
            "base/prometheus.yaml",
            "            - name: config\n              mountPath",
            "            - name: konfig\n              mountPath",
            Variant::Rwop,
            "container \"prometheus\" mounts volume \"konfig\" at /etc/prometheus-config, which the pod does not define",
        ),
    ];
    for (file, from, to, variant, want) in cases {
        let s = Scratch::new();
        s.edit(file, from, to);
        let e = s.error(*variant, &params());
        assert!(e.contains(want), "{file}: {e}");
    }
}

#[test]
fn patches_need_a_target_and_objects_are_defined_once() {
    let s = Scratch::new();
    s.edit(
        "storage/empty-dir/workloads.patch.yaml",
        "  name: grafana\n",
        "  name: grafnaa\n",
    );
    let e = s.error(Variant::EmptyDir, &params());
    assert!(e.contains("document 1 (Deployment/grafnaa): patches Deployment/grafnaa, which no base or variant manifest defines"), "{e}");
    let s = Scratch::new();
    let base = std::fs::read_to_string(s.root.join("base/namespace.yaml"))
        .unwrap_or_else(|e| panic!("{e}"));
    s.write("storage/rwop/namespace.yaml", &base);
    let e = s.error(Variant::Rwop, &params());
    assert!(
        e.contains("(Namespace/e2e-test01): is defined twice: also in"),
        "{e}"
    );
}

#[test]
fn bad_parameters_are_named_before_any_file_is_read() {
    let p = Params::new("Not_A_Namespace", Images::default());
    let e = render(Path::new("/nonexistent"), Variant::EmptyDir, &p)
        .map(|_| ())
        .map_err(|e| e.to_string());
    assert!(
        matches!(&e, Err(m) if m.starts_with("NAMESPACE=\"Not_A_Namespace\" is not valid")),
        "{e:?}"
    );
    let mut p = params();
    p.images.grafana = "grafana/grafana:latest".into();
    let e = render(&default_dir(), Variant::EmptyDir, &p)
        .map(|_| ())
        .map_err(|e| e.to_string());
    assert!(
        matches!(&e, Err(m) if m.contains("has image \"grafana/grafana:latest\", which is not pinned")),
        "{e:?}"
    );
}

per_variant! {
    /// E2E_APPS=prometheus applies everything Prometheus needs and nothing
    /// of Grafana's: no object named or labelled for it, no claim or volume
    /// left waiting for a pod that never comes.
    fn prometheus_alone_leaves_out_every_grafana_object(v: Variant) {
        let r = rendered(v);
        let only = r.objects_for(&[App::Prometheus]);
        let names: Vec<String> = only.iter().map(|m| m.object.id()).collect();
        assert!(
            names.iter().all(|n| !n.contains("grafana")),
            "{v}: Grafana objects left in: {names:?}"
        );
        assert!(
            only.iter().any(|m| m.object.id() == r.objects()[0].object.id()),
            "{v}: the shared objects (namespace first) stay"
        );
        let prometheus = r.prometheus();
        assert!(
            names.iter().any(|n| n.ends_with(&format!("/{}", prometheus.name()))),
            "{v}: the Prometheus workload stays: {names:?}"
        );
        let both = r.objects_for(&[App::Prometheus, App::Grafana]);
        assert_eq!(both.len(), r.objects().len(), "{v}");
    }
}

/// The operator setup renders its own base: one Prometheus resource with
/// the run's image and its version, no Grafana, the operator as an addon,
/// and the claim template only in operator-claim.
#[test]
fn the_operator_variants_render_a_prometheus_resource() {
    for v in [Variant::OperatorDefault, Variant::OperatorClaim] {
        let r = render(&default_dir(), v, &Params::placeholder())
            .unwrap_or_else(|e| panic!("{v}: {e}"));
        let RenderedWorkload::Operator(p) = r.prometheus() else {
            panic!("{v}: Prometheus is not the operator's resource");
        };
        assert_eq!(r.prometheus().kind(), Kind::StatefulSet);
        assert_eq!(
            p.spec.image.as_deref(),
            Some(crate::config::default_images::PROMETHEUS)
        );
        assert_eq!(p.spec.version.as_deref(), Some("v3.7.3"));
        assert_eq!(
            p.spec.retention.as_deref(),
            Some("15d"),
            "{v}: the operator's 24h would drop the seed"
        );
        assert!(
            p.spec.service_monitor_selector.is_some(),
            "{v}: an unmanaged config is empty"
        );
        assert_eq!(
            p.spec
                .storage
                .as_ref()
                .and_then(|s| s.volume_claim_template.as_ref())
                .is_some(),
            v == Variant::OperatorClaim,
            "{v}"
        );
        assert!(
            r.objects().iter().all(|m| m.app() != Some(App::Grafana)),
            "{v}: no Grafana"
        );
        let addons: Vec<&str> = r.addons().iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(addons, ["prometheus-operator"], "{v}");
    }
}

/// The Thanos setup renders the seed's StatefulSet with its sidecar and an
/// S3 store, its TSDB on an emptyDir or a claim template, and no Grafana.
#[test]
fn the_thanos_variants_render_the_seeds_statefulset_and_a_store() {
    for v in [Variant::ThanosEmptyDir, Variant::ThanosClaim] {
        let r = render(&default_dir(), v, &Params::placeholder())
            .unwrap_or_else(|e| panic!("{v}: {e}"));
        let w = r.prometheus();
        assert_eq!(w.kind(), Kind::StatefulSet, "{v}");
        let spec = w.pod_spec();
        let names: Vec<&str> = spec.containers.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["prometheus", "thanos-sidecar"], "{v}");
        let args = spec.containers[0].args.clone().unwrap_or_default();
        assert!(
            args.iter().any(|a| a == "--storage.tsdb.no-lockfile"),
            "{v}: {args:?}"
        );
        let on_empty_dir = spec
            .volumes
            .iter()
            .flatten()
            .any(|vol| vol.name == "data" && vol.empty_dir.is_some());
        assert_eq!(on_empty_dir, v == Variant::ThanosEmptyDir, "{v}");
        assert_eq!(
            w.volume_claim_templates().len(),
            usize::from(v == Variant::ThanosClaim),
            "{v}"
        );
        assert!(r.find("Deployment", "s3").is_some(), "{v}: no S3 store");
        assert!(
            r.objects().iter().all(|m| m.app() != Some(App::Grafana)),
            "{v}: no Grafana"
        );
    }
}
