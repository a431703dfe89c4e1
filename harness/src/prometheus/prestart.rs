//! Prometheus history written before Prometheus starts, so it is queryable
//! as soon as the server is ready.
//!
//! Why: blocks moved into the data dir of a running Prometheus become
//! queryable only at the next block reload, which the TSDB runs once a
//! minute (`tsdb/db.go`, `DB.run`). Seeding that way cost every cell about
//! 60 s of waiting. At start, the TSDB opens every block already in its data
//! dir (`tsdb.Open` -> `reloadBlocks`), so blocks written before the
//! server starts are there from its first query on, with no restart and no
//! disruption before the before-snapshot.
//!
//! How: the history is put into a ConfigMap (`CONFIGMAP`), mounted
//! `optional` into an init container (`INIT_CONTAINER`) that runs
//! [`script`]: promtool writes the blocks next to the data and moves them
//! in. Once the cell has seen the seed queryable it deletes the ConfigMap
//! (`delete_configmap`), so every later pod of the workload finds the
//! optional volume empty and writes nothing. That matters: a replacement
//! pod that seeded again would hide exactly the loss the emptyDir negative
//! control must show. The init container logs which of the two it did.
//!
//! Tier 1 runs the same [`script`] in a one-shot container of the same
//! image before starting Prometheus (tests/containers/seed.rs).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{
    Capabilities, ConfigMap, ConfigMapVolumeSource, Container, Pod, PodSpec, ResourceRequirements,
    SecurityContext, Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::Client;
use kube::api::{Api, DeleteParams, LogParams, PostParams};

use crate::error::{Error, Result};
use crate::labels::{MANAGED_BY, OWNER};
use crate::prometheus::api::PrometheusProbe;
use crate::prometheus::history::History;
use crate::prometheus::seed::{Seeded, await_queryable, list_blocks};

/// The ConfigMap holding the history while it is to be written.
pub(crate) const CONFIGMAP: &str = "prometheus-seed";
/// Its key: the history in OpenMetrics text, as promtool reads it.
pub const KEY: &str = "history.om";
/// Where the init container sees the ConfigMap.
pub const MOUNT: &str = "/seed";
/// The pod volume for the ConfigMap.
pub(crate) const VOLUME: &str = "seed";
/// The init container's name.
pub(crate) const INIT_CONTAINER: &str = "seed-history";
/// What the init container prints when it wrote blocks.
pub const WROTE: &str = "storage-e2e seed: wrote";
/// What it prints when there was nothing to write.
pub const NOTHING: &str = "storage-e2e seed: nothing to write";
/// The API server refuses ConfigMaps over 1 MiB (`MaxSecretSize`-like limit
/// on `data`, k8s.io/api core/v1 ConfigMap docs); stay clearly below.
const MAX_CONFIGMAP_BYTES: usize = 1_000_000;

/// The init container's shell script, with the data dir as `$1`: when the
/// seed file is there, promtool writes the blocks into a scratch dir on the
/// data's filesystem and they are moved in (a rename, so the TSDB never
/// sees half a block); when it is not, nothing is touched. Uses only `sh`,
/// `mv`, `rm`, `ls` and `promtool`, which both Prometheus images have.
pub fn script() -> String {
    format!(
        r#"set -eu
seed="{MOUNT}/{KEY}"
if [ ! -f "$seed" ]; then
  echo "{NOTHING}: no $seed (the seed ConfigMap is deleted once seeded)"
  exit 0
fi
work="$1/e2e-seed-prestart"
rm -rf "$work"
promtool tsdb create-blocks-from openmetrics "$seed" "$work"
mv "$work"/* "$1"/
rm -rf "$work"
echo "{WROTE}: $(ls "$1" | tr '\n' ' ')"
"#
    )
}

/// The ConfigMap with `history` for namespace `ns`.
///
/// # Errors
/// [`Error::Parse`] when the history is too large for a ConfigMap (the
/// fix: fewer hours, or a shorter run id).
pub(crate) fn configmap(ns: &str, history: &History) -> Result<ConfigMap> {
    let text = history.openmetrics();
    if text.len() > MAX_CONFIGMAP_BYTES {
        return Err(Error::Parse {
            what: format!("the seed history of {}", history.run()),
            message: format!(
                "{} bytes of OpenMetrics do not fit a ConfigMap (at most {MAX_CONFIGMAP_BYTES}); seed fewer hours",
                text.len()
            ),
        });
    }
    Ok(ConfigMap {
        metadata: ObjectMeta {
            name: Some(CONFIGMAP.into()),
            namespace: Some(ns.into()),
            labels: Some(BTreeMap::from([
                (MANAGED_BY.to_owned(), OWNER.to_owned()),
                ("app.kubernetes.io/name".to_owned(), "prometheus".to_owned()),
                ("app.kubernetes.io/part-of".to_owned(), OWNER.to_owned()),
            ])),
            ..ObjectMeta::default()
        },
        data: Some(BTreeMap::from([(KEY.to_owned(), text)])),
        ..ConfigMap::default()
    })
}

/// Add the seeding init container and its ConfigMap volume to Prometheus's
/// pod `spec`: last among the init containers (after any that chown the
/// data dir), with the main container's image (so promtool matches the
/// server), user, security context and mount of `data_dir`.
///
/// # Errors
/// [`Error::Parse`] when the spec has no container named `container`, or
/// it mounts nothing at `data_dir`.
pub(crate) fn add_init_container(
    spec: &mut PodSpec,
    container: &str,
    data_dir: &str,
) -> Result<()> {
    let main = spec
        .containers
        .iter()
        .find(|c| c.name == container)
        .ok_or_else(|| Error::Parse {
            what: "the Prometheus pod spec".into(),
            message: format!("no container named {container:?} to seed for"),
        })?;
    let data = main
        .volume_mounts
        .iter()
        .flatten()
        .find(|m| m.mount_path == data_dir)
        .cloned()
        .ok_or_else(|| Error::Parse {
            what: "the Prometheus pod spec".into(),
            message: format!("container {container:?} mounts nothing at {data_dir}"),
        })?;
    let init = Container {
        name: INIT_CONTAINER.into(),
        image: main.image.clone(),
        image_pull_policy: main.image_pull_policy.clone(),
        command: Some(vec![
            "sh".into(),
            "-c".into(),
            script(),
            "sh".into(),
            data_dir.into(),
        ]),
        security_context: Some(SecurityContext {
            allow_privilege_escalation: Some(false),
            capabilities: Some(Capabilities {
                drop: Some(vec!["ALL".into()]),
                ..Capabilities::default()
            }),
            ..SecurityContext::default()
        }),
        resources: Some(ResourceRequirements {
            requests: Some(BTreeMap::from([
                ("cpu".to_owned(), Quantity("10m".into())),
                ("memory".to_owned(), Quantity("32Mi".into())),
            ])),
            ..ResourceRequirements::default()
        }),
        volume_mounts: Some(vec![
            data,
            VolumeMount {
                name: VOLUME.into(),
                mount_path: MOUNT.into(),
                read_only: Some(true),
                ..VolumeMount::default()
            },
        ]),
        ..Container::default()
    };
    spec.init_containers.get_or_insert_with(Vec::new).push(init);
    spec.volumes.get_or_insert_with(Vec::new).push(Volume {
        name: VOLUME.into(),
        config_map: Some(ConfigMapVolumeSource {
            name: CONFIGMAP.into(),
            optional: Some(true),
            ..ConfigMapVolumeSource::default()
        }),
        ..Volume::default()
    });
    Ok(())
}

/// Create the seed ConfigMap in `ns`.
///
/// # Errors
/// [`Error::Kube`] naming the ConfigMap.
pub(crate) async fn create_configmap(client: &Client, ns: &str, history: &History) -> Result<()> {
    let cm = configmap(ns, history)?;
    Api::<ConfigMap>::namespaced(client.clone(), ns)
        .create(&PostParams::default(), &cm)
        .await
        .map_err(|source| Error::Kube {
            action: format!("create ConfigMap {ns}/{CONFIGMAP}"),
            source,
        })?;
    Ok(())
}

/// Delete the seed ConfigMap and make sure it is gone, so no later pod of
/// the workload seeds again.
///
/// # Errors
/// [`Error::Kube`] when the delete or the check fails, or the ConfigMap is
/// still there afterwards.
pub(crate) async fn delete_configmap(client: &Client, ns: &str) -> Result<()> {
    let api = Api::<ConfigMap>::namespaced(client.clone(), ns);
    let action = format!("delete ConfigMap {ns}/{CONFIGMAP} once seeded");
    api.delete(CONFIGMAP, &DeleteParams::default())
        .await
        .map_err(|source| Error::Kube {
            action: action.clone(),
            source,
        })?;
    match api.get_opt(CONFIGMAP).await {
        Ok(None) => Ok(()),
        Ok(Some(_)) => Err(Error::Cannot {
            action,
            why: "it is still there after the delete: later pods would seed again".into(),
        }),
        Err(source) => Err(Error::Kube { action, source }),
    }
}

/// How long [`confirm`] waits for the seed to answer once Prometheus is
/// ready. The blocks are open from the start, so this is slack only; a
/// seed that needed the minute-long block reload would show here.
pub(crate) const QUERYABLE_TIMEOUT: Duration = Duration::from_secs(30);

/// Once Prometheus in `pod` is ready: check every seeded sample answers
/// (at most [`QUERYABLE_TIMEOUT`]) and list the blocks in the data dir.
/// `queryable_in` is measured from this call, i.e. from readiness.
///
/// # Errors
/// The wait's [`Error::Timeout`] with the init container's log attached
/// (as [`Error::WaitFailed`]), so a seed that was never written says why;
/// [`Error::Kube`]/[`Error::Command`] when the pod or the listing fails.
pub(crate) async fn confirm(
    client: &Client,
    ns: &str,
    pod: &str,
    probe: &PrometheusProbe<'_>,
    history: &History,
) -> Result<Seeded> {
    let started = Instant::now();
    if let Err(e) = await_queryable(probe, history, QUERYABLE_TIMEOUT).await {
        let log = init_log(client, ns, pod)
            .await
            .unwrap_or_else(|l| format!("(its log could not be read: {l})"));
        return Err(Error::WaitFailed {
            what: format!("the seed written by {INIT_CONTAINER} in pod {ns}/{pod}"),
            reason: format!("{e}; {INIT_CONTAINER} logged: {}", log.trim()),
        });
    }
    let queryable_in = started.elapsed();
    let blocks = list_blocks(probe.exec(), probe.data_dir()).await?;
    let written = Api::<Pod>::namespaced(client.clone(), ns)
        .get(pod)
        .await
        .map_err(|source| Error::Kube {
            action: format!("read pod {ns}/{pod}"),
            source,
        })?;
    Ok(Seeded {
        history: history.clone(),
        blocks,
        written_in: init_duration(&written).unwrap_or_default(),
        queryable_in,
    })
}

/// What the init container of `pod` logged, for the seed's report line and
/// for errors when the seed is not queryable.
///
/// # Errors
/// [`Error::Kube`] naming the pod.
pub(crate) async fn init_log(client: &Client, ns: &str, pod: &str) -> Result<String> {
    let params = LogParams {
        container: Some(INIT_CONTAINER.into()),
        ..LogParams::default()
    };
    Api::<Pod>::namespaced(client.clone(), ns)
        .logs(pod, &params)
        .await
        .map_err(|source| Error::Kube {
            action: format!("read the {INIT_CONTAINER} log of pod {ns}/{pod}"),
            source,
        })
}

/// How long the init container of `pod` ran, from its terminated state
/// (whole seconds: the API keeps no finer times).
pub(crate) fn init_duration(pod: &Pod) -> Option<Duration> {
    let status = pod
        .status
        .as_ref()?
        .init_container_statuses
        .as_ref()?
        .iter()
        .find(|s| s.name == INIT_CONTAINER)?;
    let done = status.state.as_ref()?.terminated.as_ref()?;
    let started = done.started_at.as_ref()?.0;
    let finished = done.finished_at.as_ref()?.0;
    let ms = finished.as_millisecond() - started.as_millisecond();
    Some(Duration::from_millis(u64::try_from(ms).ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{SystemTime, UNIX_EPOCH};

    fn history() -> History {
        History::ending_before(
            "e2e-pod-delete-abcdef",
            UNIX_EPOCH + Duration::from_secs(1_795_312_200),
            24,
        )
    }

    fn spec() -> PodSpec {
        serde_json::from_value(serde_json::json!({
            "initContainers": [{"name": "chown-data", "image": "local/storage-e2e-busybox:1.37"}],
            "containers": [{
                "name": "prometheus",
                "image": "local/prometheus-debian:2.53",
                "imagePullPolicy": "IfNotPresent",
                "volumeMounts": [
                    {"name": "data", "mountPath": "/prometheus"},
                    {"name": "config", "mountPath": "/etc/prometheus-config", "readOnly": true}
                ]
            }],
            "volumes": [{"name": "data", "emptyDir": {}}]
        }))
        .unwrap()
    }

    #[test]
    fn the_init_container_comes_last_with_the_servers_image_and_data_mount() {
        let mut s = spec();
        add_init_container(&mut s, "prometheus", "/prometheus").unwrap();
        let inits = s.init_containers.as_ref().unwrap();
        assert_eq!(
            inits.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(),
            ["chown-data", INIT_CONTAINER]
        );
        let init = &inits[1];
        assert_eq!(init.image.as_deref(), Some("local/prometheus-debian:2.53"));
        let mounts: Vec<(&str, &str)> = init
            .volume_mounts
            .iter()
            .flatten()
            .map(|m| (m.name.as_str(), m.mount_path.as_str()))
            .collect();
        assert_eq!(mounts, [("data", "/prometheus"), (VOLUME, MOUNT)]);
        assert_eq!(
            init.command.as_ref().unwrap().last().unwrap(),
            "/prometheus"
        );
        let seed = s
            .volumes
            .as_ref()
            .unwrap()
            .iter()
            .find(|v| v.name == VOLUME);
        let cm = seed.unwrap().config_map.as_ref().unwrap();
        assert_eq!(cm.name, CONFIGMAP);
        assert_eq!(
            cm.optional,
            Some(true),
            "later pods must start without the ConfigMap"
        );
    }

    #[test]
    fn a_spec_without_the_container_or_its_data_mount_is_named() {
        let mut s = spec();
        let err = add_init_container(&mut s, "prom", "/prometheus").unwrap_err();
        assert_eq!(
            err.to_string(),
            "could not parse the Prometheus pod spec: no container named \"prom\" to seed for"
        );
        let err = add_init_container(&mut s, "prometheus", "/data").unwrap_err();
        assert_eq!(
            err.to_string(),
            "could not parse the Prometheus pod spec: container \"prometheus\" mounts nothing at /data"
        );
    }

    #[test]
    fn the_configmap_holds_the_whole_history_labelled_for_cleanup() {
        let h = history();
        let cm = configmap("e2e-x", &h).unwrap();
        assert_eq!(cm.metadata.name.as_deref(), Some(CONFIGMAP));
        assert_eq!(
            cm.metadata
                .labels
                .as_ref()
                .unwrap()
                .get(MANAGED_BY)
                .map(String::as_str),
            Some(OWNER)
        );
        assert_eq!(cm.data.as_ref().unwrap()[KEY], h.openmetrics());
        let too_long = History::ending_before("x", SystemTime::now(), 24 * 7);
        let err = configmap("e2e-x", &too_long).unwrap_err().to_string();
        assert!(err.contains("do not fit a ConfigMap"), "{err}");
    }

    #[test]
    fn the_script_writes_only_when_the_seed_file_is_there() {
        let s = script();
        assert!(s.contains(r#"if [ ! -f "$seed" ]; then"#), "{s}");
        assert!(
            s.contains("promtool tsdb create-blocks-from openmetrics"),
            "{s}"
        );
        assert!(
            s.starts_with("set -eu\n"),
            "a failed step must fail the pod: {s}"
        );
    }
}
