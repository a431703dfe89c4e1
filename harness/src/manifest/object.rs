//! Typed Kubernetes objects: every manifest document becomes one of the
//! k8s-openapi types below, checked strictly.
//!
//! k8s-openapi's deserializers ignore unknown fields and fill in missing
//! required ones with defaults, so a typo such as `volumeMount` would pass
//! silently. [`strict_differences`] catches both by serializing the typed
//! object again and comparing it with the input.

use k8s_openapi::Metadata as _;
use k8s_openapi::Resource as _;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde_json::Value;

macro_rules! objects {
    ($($variant:ident($ty:ty)),* $(,)?) => {
        /// One typed Kubernetes object from a manifest. Only the kinds the
        /// manifests use are known; anything else is rejected with the list.
        #[derive(Debug, Clone, PartialEq)]
        #[non_exhaustive]
        // A render holds a few dozen of these; boxing every variant would
        // only make matching on them clumsier.
        #[allow(clippy::large_enum_variant)]
        pub(crate) enum Object {
            $(
                #[doc = concat!("A `", stringify!($variant), "`.")]
                $variant($ty),
            )*
        }

        impl Object {
            /// `apiVersion kind` of every known kind, for error messages.
            pub(crate) fn known_kinds() -> Vec<String> {
                vec![$(format!(
                    "{} {}",
                    <$ty>::API_VERSION,
                    <$ty>::KIND,
                )),*]
            }

            /// Deserialize `value` as the type named by `api_version`/`kind`:
            /// `None` when that kind is not known.
            pub(crate) fn from_json(
                api_version: &str,
                kind: &str,
                value: Value,
            ) -> Option<Result<Self, serde_json::Error>> {
                $(
                    if api_version == <$ty>::API_VERSION
                        && kind == <$ty>::KIND
                    {
                        return Some(serde_json::from_value(value).map(Self::$variant));
                    }
                )*
                None
            }

            /// The object's kind, e.g. `Deployment`.
            pub(crate) fn kind(&self) -> &'static str {
                match self {
                    $(Self::$variant(_) => <$ty>::KIND,)*
                }
            }

            /// The object's metadata.
            pub(crate) fn metadata(&self) -> &ObjectMeta {
                match self {
                    $(Self::$variant(o) => o.metadata(),)*
                }
            }

            /// The API resource (group, version, plural) to apply it through.
            pub(crate) fn api_resource(&self) -> kube::core::ApiResource {
                match self {
                    $(Self::$variant(_) => kube::core::ApiResource::erase::<$ty>(&()),)*
                }
            }

            /// The object as JSON, as the API server would receive it.
            ///
            /// # Errors
            /// Only if serde_json fails to serialize a k8s-openapi type.
            pub(crate) fn to_json(&self) -> serde_json::Result<Value> {
                match self {
                    $(Self::$variant(o) => serde_json::to_value(o),)*
                }
            }
        }
    };
}

use k8s_openapi::api::{apps, core, rbac, storage};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions;

objects! {
    Namespace(core::v1::Namespace),
    ConfigMap(core::v1::ConfigMap),
    Secret(core::v1::Secret),
    Service(core::v1::Service),
    ServiceAccount(core::v1::ServiceAccount),
    PersistentVolume(core::v1::PersistentVolume),
    PersistentVolumeClaim(core::v1::PersistentVolumeClaim),
    Deployment(apps::v1::Deployment),
    StatefulSet(apps::v1::StatefulSet),
    DaemonSet(apps::v1::DaemonSet),
    StorageClass(storage::v1::StorageClass),
    CsiDriver(storage::v1::CSIDriver),
    ClusterRole(rbac::v1::ClusterRole),
    ClusterRoleBinding(rbac::v1::ClusterRoleBinding),
    Role(rbac::v1::Role),
    RoleBinding(rbac::v1::RoleBinding),
    CustomResourceDefinition(apiextensions::v1::CustomResourceDefinition),
    VolumeSnapshotClass(super::snapshot_class::VolumeSnapshotClass),
    Prometheus(super::prometheus_resource::PrometheusResource),
}

impl Object {
    /// The object's name (empty if it has none, which rendering rejects).
    pub(crate) fn name(&self) -> &str {
        self.metadata().name.as_deref().unwrap_or_default()
    }

    /// The object's namespace, `None` for cluster-scoped objects.
    pub(crate) fn namespace(&self) -> Option<&str> {
        self.metadata().namespace.as_deref()
    }

    /// `Kind/name`, the way errors and reports name an object.
    pub(crate) fn id(&self) -> String {
        format!("{}/{}", self.kind(), self.name())
    }

    /// Whether objects of this kind live outside namespaces.
    pub(crate) fn is_cluster_scoped(&self) -> bool {
        matches!(
            self,
            Self::Namespace(_)
                | Self::PersistentVolume(_)
                | Self::StorageClass(_)
                | Self::CsiDriver(_)
                | Self::ClusterRole(_)
                | Self::ClusterRoleBinding(_)
                | Self::CustomResourceDefinition(_)
                | Self::VolumeSnapshotClass(_)
        )
    }

    /// The pod template's spec of a workload (Deployment, StatefulSet,
    /// DaemonSet); `None` for other kinds.
    pub(crate) fn pod_spec(&self) -> Option<&k8s_openapi::api::core::v1::PodSpec> {
        match self {
            Self::Deployment(d) => d.spec.as_ref()?.template.spec.as_ref(),
            Self::StatefulSet(s) => s.spec.as_ref()?.template.spec.as_ref(),
            Self::DaemonSet(d) => d.spec.as_ref()?.template.spec.as_ref(),
            _ => None,
        }
    }

    /// [`Self::pod_spec`], to change before the object is applied (the
    /// harness adds its seeding init container this way).
    pub(crate) fn pod_spec_mut(&mut self) -> Option<&mut k8s_openapi::api::core::v1::PodSpec> {
        match self {
            Self::Deployment(d) => d.spec.as_mut()?.template.spec.as_mut(),
            Self::StatefulSet(s) => s.spec.as_mut()?.template.spec.as_mut(),
            Self::DaemonSet(d) => d.spec.as_mut()?.template.spec.as_mut(),
            _ => None,
        }
    }

    /// Where `kubectl apply -f` of a single stream wants this kind: things
    /// others refer to first (namespace, classes, volumes, config,
    /// permissions), workloads last.
    pub(crate) fn apply_rank(&self) -> u8 {
        match self {
            Self::Namespace(_) | Self::CustomResourceDefinition(_) => 0,
            Self::CsiDriver(_) | Self::StorageClass(_) | Self::VolumeSnapshotClass(_) => 1,
            Self::ServiceAccount(_) | Self::ClusterRole(_) | Self::Role(_) => 2,
            Self::ClusterRoleBinding(_) | Self::RoleBinding(_) => 3,
            Self::PersistentVolume(_) => 4,
            Self::PersistentVolumeClaim(_) => 5,
            Self::ConfigMap(_) | Self::Secret(_) => 6,
            Self::Service(_) => 7,
            Self::Deployment(_)
            | Self::StatefulSet(_)
            | Self::DaemonSet(_)
            | Self::Prometheus(_) => 8,
        }
    }
}

impl serde::Serialize for Object {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Namespace(o) => o.serialize(s),
            Self::ConfigMap(o) => o.serialize(s),
            Self::Secret(o) => o.serialize(s),
            Self::Service(o) => o.serialize(s),
            Self::ServiceAccount(o) => o.serialize(s),
            Self::PersistentVolume(o) => o.serialize(s),
            Self::PersistentVolumeClaim(o) => o.serialize(s),
            Self::Deployment(o) => o.serialize(s),
            Self::StatefulSet(o) => o.serialize(s),
            Self::DaemonSet(o) => o.serialize(s),
            Self::StorageClass(o) => o.serialize(s),
            Self::CsiDriver(o) => o.serialize(s),
            Self::ClusterRole(o) => o.serialize(s),
            Self::ClusterRoleBinding(o) => o.serialize(s),
            Self::Role(o) => o.serialize(s),
            Self::RoleBinding(o) => o.serialize(s),
            Self::CustomResourceDefinition(o) => o.serialize(s),
            Self::VolumeSnapshotClass(o) => o.serialize(s),
            Self::Prometheus(o) => o.serialize(s),
        }
    }
}

/// Remove `null` values from maps, recursively: YAML `key:` with nothing
/// after it means "not set", which is what the typed object will say too.
pub(crate) fn strip_nulls(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.retain(|_, v| !v.is_null());
            map.values_mut().for_each(strip_nulls);
        }
        Value::Array(items) => items.iter_mut().for_each(strip_nulls),
        _ => {}
    }
}

/// How many differences [`strict_differences`] reports at most.
const MAX_DIFFERENCES: usize = 3;

/// What the typed object lost or invented compared with the `input` it was
/// read from: unknown fields (typos), missing required fields, and values
/// that changed. Empty when the manifest says exactly what the type holds.
pub(crate) fn strict_differences(input: &Value, typed: &Value) -> Vec<String> {
    let mut out = Vec::new();
    diff(input, typed, "", &mut out);
    out
}

fn diff(input: &Value, typed: &Value, path: &str, out: &mut Vec<String>) {
    if out.len() >= MAX_DIFFERENCES {
        return;
    }
    let join = |key: &str| {
        if path.is_empty() {
            key.to_owned()
        } else {
            format!("{path}.{key}")
        }
    };
    match (input, typed) {
        (Value::Object(i), Value::Object(t)) => {
            for (key, iv) in i {
                match t.get(key) {
                    None => out.push(format!(
                        "unknown field `{}` (a typo, or not in this Kubernetes version)",
                        join(key)
                    )),
                    Some(tv) => diff(iv, tv, &join(key), out),
                }
                if out.len() >= MAX_DIFFERENCES {
                    return;
                }
            }
            for key in t.keys().filter(|k| !i.contains_key(*k)) {
                // Embedded objects (a StatefulSet's volumeClaimTemplates)
                // serialize apiVersion/kind though manifests rarely write them.
                if !path.is_empty() && (key == "apiVersion" || key == "kind") {
                    continue;
                }
                out.push(format!("required field `{}` is missing", join(key)));
                if out.len() >= MAX_DIFFERENCES {
                    return;
                }
            }
        }
        (Value::Array(i), Value::Array(t)) if i.len() == t.len() => {
            for (n, (iv, tv)) in i.iter().zip(t).enumerate() {
                diff(iv, tv, &format!("{path}[{n}]"), out);
            }
        }
        (i, t) if i == t => {}
        // 31 and 31.0 are one number (a typed f64 field writes it back
        // with a decimal point: JSONSchemaProps' minimum and maximum).
        (Value::Number(i), Value::Number(t)) if i.as_f64() == t.as_f64() => {}
        (i, t) => out.push(format!("`{path}` was {i} but reads as {t}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn known_kinds_deserialize_and_unknown_ones_do_not() {
        let v = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}});
        let o = Object::from_json("v1", "ConfigMap", v);
        assert!(matches!(o, Some(Ok(Object::ConfigMap(_)))), "{o:?}");
        assert!(Object::from_json("networking.k8s.io/v1", "Ingress", json!({})).is_none());
        assert!(Object::known_kinds().contains(&"apps/v1 Deployment".to_owned()));
    }

    #[test]
    fn strict_differences_find_typos_missing_fields_and_changed_values() {
        let input = json!({"spec": {"volumeMount": [], "replicas": 1, "items": [{"a": 1}]}});
        let typed = json!({"spec": {"replicas": 2, "items": [{"a": 1, "name": ""}]}});
        assert_eq!(
            strict_differences(&input, &typed),
            vec![
                "required field `spec.items[0].name` is missing".to_owned(),
                "`spec.replicas` was 1 but reads as 2".to_owned(),
                "unknown field `spec.volumeMount` (a typo, or not in this Kubernetes version)"
                    .to_owned(),
            ]
        );
        assert!(strict_differences(&json!({"max": 31}), &json!({"max": 31.0})).is_empty());
        assert_eq!(
            strict_differences(&json!({"max": 31}), &json!({"max": 30.5})).len(),
            1
        );
        let same = json!({"a": {"b": [1, "x"]}});
        assert!(strict_differences(&same, &same).is_empty());
    }

    #[test]
    fn nested_api_version_and_kind_may_be_left_out() {
        let input = json!({"kind": "StatefulSet", "spec": {"t": [{"metadata": {}}]}});
        let typed = json!({"kind": "StatefulSet", "spec": {"t": [{"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {}}]}});
        assert!(strict_differences(&input, &typed).is_empty());
    }
}
