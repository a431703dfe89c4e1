//! Confining a cell's workloads to a node pool (`crate::cluster` `pool`):
//! every pod template, and the operator's `Prometheus` resource, selects
//! the pool's label and tolerates its taint, so the cell's pods run on the
//! pool's two workers and nowhere else, and no other cell's pod joins them.

use k8s_openapi::api::core::v1::{PodSpec, Toleration};

use super::{Manifest, Object};
use crate::labels::POOL;

/// The toleration of pool `pool`'s `NoExecute` taint.
fn toleration(pool: &str) -> Toleration {
    Toleration {
        key: Some(POOL.to_owned()),
        operator: Some("Equal".to_owned()),
        value: Some(pool.to_owned()),
        effect: Some("NoExecute".to_owned()),
        ..Toleration::default()
    }
}

/// Add the pool's label to `selector` and its taint's toleration to
/// `tolerations`, beside what they hold.
fn select_and_tolerate(
    selector: &mut Option<std::collections::BTreeMap<String, String>>,
    tolerations: &mut Option<Vec<Toleration>>,
    pool: &str,
) {
    selector
        .get_or_insert_with(Default::default)
        .insert(POOL.to_owned(), pool.to_owned());
    tolerations
        .get_or_insert_with(Vec::new)
        .push(toleration(pool));
}

/// Make every workload among `objects` run on pool `pool` alone: the
/// selector and toleration are added beside what the manifests say
/// (a host-path pod's hostname selector, the 10 s node tolerations).
pub(crate) fn confine(objects: &mut [Manifest], pool: &str) {
    for m in objects {
        if let Object::Prometheus(p) = &mut m.object {
            select_and_tolerate(&mut p.spec.node_selector, &mut p.spec.tolerations, pool);
        } else if let Some(spec) = m.object.pod_spec_mut() {
            let PodSpec {
                node_selector,
                tolerations,
                ..
            } = spec;
            select_and_tolerate(node_selector, tolerations, pool);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::{Params, render};
    use crate::vocab::Variant;

    fn objects(variant: Variant) -> Vec<Manifest> {
        let params = Params::placeholder();
        render(&crate::config::default_dir(), variant, &params)
            .unwrap_or_else(|e| panic!("{e}"))
            .objects()
            .to_vec()
    }

    #[test]
    fn every_pod_template_selects_the_pool_and_tolerates_its_taint_beside_its_own() {
        let mut objs = objects(Variant::HostPath);
        let before = objs.clone();
        confine(&mut objs, "pool-2");
        let mut templates = 0;
        for (m, was) in objs.iter_mut().zip(&before) {
            let Some(spec) = m.object.pod_spec_mut() else {
                assert_eq!(m.object, was.object, "only workloads change");
                continue;
            };
            templates += 1;
            let selector = spec.node_selector.clone().unwrap_or_default();
            assert_eq!(selector.get(POOL).map(String::as_str), Some("pool-2"));
            let tolerations = spec.tolerations.clone().unwrap_or_default();
            assert!(
                tolerations.contains(&toleration("pool-2")),
                "{tolerations:?}"
            );
            let mut was = was.object.clone();
            let old = was.pod_spec_mut().cloned().unwrap_or_default();
            for (k, v) in old.node_selector.unwrap_or_default() {
                assert_eq!(selector.get(&k), Some(&v), "kept: {k}");
            }
            for t in old.tolerations.unwrap_or_default() {
                assert!(tolerations.contains(&t), "kept: {t:?}");
            }
        }
        assert!(templates >= 1);
    }

    #[test]
    fn the_operators_resource_carries_them_for_its_statefulset() {
        let mut objs = objects(Variant::OperatorClaimCsi);
        confine(&mut objs, "pool-1");
        let p = objs
            .iter()
            .find_map(|m| match &m.object {
                Object::Prometheus(p) => Some(p),
                _ => None,
            })
            .unwrap_or_else(|| panic!("no Prometheus resource"));
        assert_eq!(
            p.spec
                .node_selector
                .as_ref()
                .and_then(|s| s.get(POOL))
                .map(String::as_str),
            Some("pool-1")
        );
        assert!(
            p.spec
                .tolerations
                .as_ref()
                .is_some_and(|t| t.contains(&toleration("pool-1")))
        );
    }
}
