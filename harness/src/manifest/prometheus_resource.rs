//! `Prometheus` (monitoring.coreos.com/v1), prometheus-operator's custom
//! resource, typed here with only the fields the operator setup's
//! manifests use (the operator's pkg/apis/monitoring/v1/prometheus_types.go
//! defines them all), so the renderer's strict check catches a typo in them
//! as it does for built-in kinds. The API server checks the rest against
//! the CRD's schema.

use k8s_openapi::api::apps::v1::StatefulSetPersistentVolumeClaimRetentionPolicy;
use k8s_openapi::api::core::v1::{
    Container, EmptyDirVolumeSource, PersistentVolumeClaimSpec, PodSecurityContext,
    ResourceRequirements, SecretKeySelector, Toleration, Volume,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use serde::{Deserialize, Serialize};

/// A Prometheus the operator runs as the StatefulSet `prometheus-<name>`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PrometheusResource {
    /// Always `monitoring.coreos.com/v1` (written back out as read).
    pub(crate) api_version: String,
    /// Always `Prometheus`.
    pub(crate) kind: String,
    /// Standard object metadata.
    pub(crate) metadata: ObjectMeta,
    /// What the operator makes of it.
    pub(crate) spec: PrometheusSpec,
    /// What the operator says about it (read back, never written).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) status: Option<PrometheusStatus>,
}

/// `status`: only its conditions are read.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub(crate) struct PrometheusStatus {
    /// `Available` and `Reconciled` (pkg/apis/monitoring/v1 ConditionType).
    #[serde(default)]
    pub(crate) conditions: Vec<ResourceCondition>,
}

/// One status condition, as the operator writes it (its `reason` and
/// `message` are empty when the condition holds).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub(crate) struct ResourceCondition {
    /// `Available`, `Reconciled`.
    #[serde(rename = "type")]
    pub(crate) type_: String,
    /// `True`, `False`, `Unknown`.
    pub(crate) status: String,
    /// `ReconciliationFailed` when the operator could not act on the resource.
    #[serde(default)]
    pub(crate) reason: Option<String>,
    /// The operator's error, word for word.
    #[serde(default)]
    pub(crate) message: Option<String>,
}

impl PrometheusResource {
    /// The operator's error when it could not reconcile the resource
    /// (`Reconciled=False`, pkg/operator/operator.go ReconciliationStatus):
    /// its reason and message.
    pub(crate) fn rejection(&self) -> Option<String> {
        let c = self
            .status
            .as_ref()?
            .conditions
            .iter()
            .find(|c| c.type_ == "Reconciled" && c.status == "False")?;
        Some(format!(
            "{}: {}",
            c.reason.as_deref().unwrap_or("Reconciled=False"),
            c.message.as_deref().unwrap_or("(no message)")
        ))
    }
}

macro_rules! optional_fields {
    ($(#[$m:meta])* pub(crate) struct $name:ident { $($(#[$fm:meta])* $field:ident: $ty:ty,)* }) => {
        $(#[$m])*
        #[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
        #[serde(rename_all = "camelCase")]
        pub(crate) struct $name {
            $(
                $(#[$fm])*
                #[serde(default, skip_serializing_if = "Option::is_none")]
                pub(crate) $field: Option<$ty>,
            )*
        }
    };
}

optional_fields! {
    /// The part of `spec` the setup uses.
    pub(crate) struct PrometheusSpec {
        /// The Prometheus image (the run's, not the operator's default).
        image: String,
        /// Its version, from which the operator decides which flags it may pass.
        version: String,
        /// Pods of the StatefulSet.
        replicas: i32,
        /// The global scrape interval.
        scrape_interval: String,
        /// `--storage.tsdb.retention.time` (the operator's default is 24h).
        retention: String,
        /// `--web.enable-admin-api` (snapshots, TSDB status).
        #[serde(rename = "enableAdminAPI")]
        enable_admin_api: bool,
        /// `--web.enable-remote-write-receiver` (the harness writes the head this way).
        enable_remote_write_receiver: bool,
        /// Which ServiceMonitors it selects; `{}` makes the operator manage the config.
        service_monitor_selector: LabelSelector,
        /// Scrape configs appended to the generated ones (a Secret's key).
        additional_scrape_configs: SecretKeySelector,
        /// The pod's security context.
        security_context: PodSecurityContext,
        /// The Prometheus container's resources.
        resources: ResourceRequirements,
        /// Where the TSDB lives: an emptyDir (the default) or a claim per pod.
        storage: StorageSpec,
        /// Init containers, run after the operator's own.
        init_containers: Vec<Container>,
        /// Extra pod volumes.
        volumes: Vec<Volume>,
        /// Pod tolerations.
        tolerations: Vec<Toleration>,
        /// Pod node selector (a node pool's label, when the cell leases one).
        node_selector: std::collections::BTreeMap<String, String>,
        /// What happens to the claims when the StatefulSet is deleted or scaled down.
        persistent_volume_claim_retention_policy: StatefulSetPersistentVolumeClaimRetentionPolicy,
    }
}

optional_fields! {
    /// `spec.storage`.
    pub(crate) struct StorageSpec {
        /// The emptyDir the operator uses when nothing else is given.
        empty_dir: EmptyDirVolumeSource,
        /// A claim template for the StatefulSet.
        volume_claim_template: EmbeddedClaim,
    }
}

/// `spec.storage.volumeClaimTemplate`: a claim without namespace or status.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct EmbeddedClaim {
    /// The claim's spec.
    pub(crate) spec: PersistentVolumeClaimSpec,
}

impl k8s_openapi::Resource for PrometheusResource {
    const API_VERSION: &'static str = "monitoring.coreos.com/v1";
    const GROUP: &'static str = "monitoring.coreos.com";
    const KIND: &'static str = "Prometheus";
    const VERSION: &'static str = "v1";
    const URL_PATH_SEGMENT: &'static str = "prometheuses";
    type Scope = k8s_openapi::NamespaceResourceScope;
}

impl k8s_openapi::Metadata for PrometheusResource {
    type Ty = ObjectMeta;

    fn metadata(&self) -> &Self::Ty {
        &self.metadata
    }

    fn metadata_mut(&mut self) -> &mut Self::Ty {
        &mut self.metadata
    }
}

/// The StatefulSet the operator makes for the resource `name`.
#[cfg(test)]
pub(crate) fn statefulset_name(name: &str) -> String {
    format!("prometheus-{name}")
}

/// The volume holding the TSDB in the operator's pod spec (an emptyDir or
/// the claim template's volume: the same name either way).
pub(crate) fn data_volume(name: &str) -> String {
    format!("prometheus-{name}-db")
}

/// The subPath of that volume the operator mounts at /prometheus.
pub(crate) const DATA_SUB_PATH: &str = "prometheus-db";

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_resource_reads_and_writes_back_the_same_json() {
        let v = json!({
            "apiVersion": "monitoring.coreos.com/v1",
            "kind": "Prometheus",
            "metadata": {"name": "prometheus", "namespace": "e2e-x"},
            "spec": {
                "image": "local/prometheus-debian:2.53",
                "enableAdminAPI": true,
                "serviceMonitorSelector": {},
                "storage": {"volumeClaimTemplate": {"spec": {"accessModes": ["ReadWriteOnce"]}}}
            }
        });
        let r: PrometheusResource =
            serde_json::from_value(v.clone()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(r.spec.enable_admin_api, Some(true));
        let back = serde_json::to_value(&r).unwrap_or_else(|e| panic!("{e}"));
        assert!(super::super::object::strict_differences(&v, &back).is_empty());
    }

    #[test]
    fn the_operators_rejection_is_read_from_its_reconciled_condition() {
        let with = |conditions: serde_json::Value| -> PrometheusResource {
            serde_json::from_value(json!({
                "apiVersion": "monitoring.coreos.com/v1",
                "kind": "Prometheus",
                "metadata": {"name": "prometheus"},
                "spec": {},
                "status": {"conditions": conditions}
            }))
            .unwrap_or_else(|e| panic!("{e}"))
        };
        // Waiting for pods is not a rejection (Available=False), nor is a
        // resource the operator has not looked at yet.
        assert_eq!(
            with(json!([
                {"type": "Available", "status": "False", "reason": "NoPodReady", "message": "0/1"},
                {"type": "Reconciled", "status": "True"}
            ]))
            .rejection(),
            None
        );
        assert_eq!(PrometheusResource::default().rejection(), None);
        assert_eq!(
            with(json!([{
                "type": "Reconciled", "status": "False", "reason": "ReconciliationFailed",
                "message": "failed to get additional scrape configs: key scrape.yml could not be found"
            }]))
            .rejection()
            .as_deref(),
            Some(
                "ReconciliationFailed: failed to get additional scrape configs: key scrape.yml \
                 could not be found"
            )
        );
    }

    #[test]
    fn a_typo_in_the_spec_is_a_difference() {
        let v = json!({
            "apiVersion": "monitoring.coreos.com/v1",
            "kind": "Prometheus",
            "metadata": {"name": "prometheus"},
            "spec": {"enableAdminApi": true}
        });
        let r: PrometheusResource =
            serde_json::from_value(v.clone()).unwrap_or_else(|e| panic!("{e}"));
        let back = serde_json::to_value(&r).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            super::super::object::strict_differences(&v, &back),
            vec!["unknown field `spec.enableAdminApi` (a typo, or not in this Kubernetes version)"]
        );
    }
}
