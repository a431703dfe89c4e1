//! Which cells a run runs and in what order: the reason a cell is not
//! run, its test name, and its place in the run's order.

use crate::config::Config;
use crate::expect::expected;
use crate::host::Host;
use crate::vocab::{Cell, Disruption, NamedId as _, Variant};

/// Why a cell is not run, when it is not. Reported as "ignored" with this
/// reason, never as a pass.
pub fn skip_reason(config: &Config, host: &Host, cell: Cell) -> Option<String> {
    if cell.provider != config.provider {
        return Some(format!(
            "provider {} (this run uses E2E_PROVIDER={})",
            cell.provider, config.provider
        ));
    }
    if !config.variants.contains(&cell.variant) {
        return Some(
            if cell.variant == Variant::CustomClass && config.storage_class.is_none() {
                "custom-class needs E2E_STORAGE_CLASS=<your class>".to_owned()
            } else {
                format!("not selected by E2E_VARIANTS ({})", ids(&config.variants))
            },
        );
    }
    if !config.disruptions.contains(&cell.disruption) {
        return Some(format!(
            "not selected by E2E_DISRUPTIONS ({})",
            ids(&config.disruptions)
        ));
    }
    let e = expected(cell.variant, cell.disruption, cell.provider);
    if let Some(why) = e.not_applicable_why() {
        return Some(format!("not applicable: {why}"));
    }
    host.cannot_run(cell.variant, cell.provider)
        .map(|why| format!("not runnable on this host: {why}"))
}

fn ids<T: crate::vocab::NamedId>(v: &[T]) -> String {
    v.iter().map(|x| x.id()).collect::<Vec<_>>().join(",")
}

/// The test name of a cell: `<variant>::<disruption>` with `_` for `-`,
/// e.g. `nfs_static::pod_delete`, so `cargo test --features e2e nfs_static`
/// selects a variant and `-- pod_delete` a disruption.
pub fn test_name(cell: Cell) -> String {
    format!(
        "{}::{}",
        cell.variant.id().replace('-', "_"),
        cell.disruption.id().replace('-', "_")
    )
}

/// Where a cell goes in the run's order (smaller first): the long cells
/// before the short ones, and last the ones that hold other cells off
/// (a node taken away where there are no node pools: every cell; the NFS
/// server or the operator restarted: the cells that use it). Why: such a
/// cell waits until the cells it holds off are done and none of them
/// starts meanwhile, so scattered among the others each one drains the
/// parallel slots; gathered at the end they drain them once. The provoked
/// stuck rollouts (the 120 s deadline) and the node stops (about a minute
/// each) start first so they do not form the tail (what it saved is in
/// the README's Speed section).
///
/// `pools`: whether the run's cluster has node pools, in which the cells
/// that take a node away run beside the others.
pub fn run_order(cell: Cell, pools: bool) -> (bool, u8) {
    let d = cell.disruption;
    let long_first = match d {
        Disruption::RolloutRestart | Disruption::RolloutOtherNode => 0,
        Disruption::StuckRolloutUnblock | Disruption::RolloutOtherNodeUnblock => 1,
        Disruption::NodeStop | Disruption::NodeStopOutOfService => 2,
        _ => 3,
    };
    let holds_off = (d.runs_alone() && !pools) || d.restarts().is_some();
    (holds_off, long_first)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vocab::Provider;
    use std::collections::BTreeSet;

    /// Every kind cell in the run's order.
    fn sorted(pools: bool) -> Vec<Cell> {
        let mut cells: Vec<Cell> = Cell::all()
            .filter(|c| c.provider == Provider::Kind)
            .collect();
        cells.sort_by_key(|c| run_order(*c, pools));
        cells
    }

    /// The disruptions of the cells sorted last, with or without pools.
    fn last(pools: bool) -> BTreeSet<Disruption> {
        let cells = sorted(pools);
        let first_last = cells
            .iter()
            .position(|c| run_order(*c, pools).0)
            .unwrap_or(cells.len());
        assert!(cells[first_last..].iter().all(|c| run_order(*c, pools).0));
        assert_eq!(cells[0].disruption, Disruption::RolloutRestart);
        // A stable sort: within a group, the table's variant order stays.
        assert_eq!(cells[0].variant, Variant::EmptyDir);
        cells[first_last..].iter().map(|c| c.disruption).collect()
    }

    #[test]
    fn without_pools_the_cells_that_hold_others_off_go_last() {
        use Disruption as D;
        assert_eq!(
            last(false),
            [
                D::RescheduleOtherNode,
                D::NodeStop,
                D::NfsRestart,
                D::NodeStopOutOfService,
                D::OperatorRestart
            ]
            .into()
        );
    }

    /// With node pools, the cells that take a node away start with the
    /// long ones (they wait for a pool, not for every other cell); only
    /// the restarts of what cells share go last.
    #[test]
    fn with_pools_only_the_restarts_of_shared_parts_go_last() {
        assert_eq!(
            last(true),
            [Disruption::NfsRestart, Disruption::OperatorRestart].into()
        );
        let cells = sorted(true);
        let first_stop = cells
            .iter()
            .position(|c| c.disruption == Disruption::NodeStop)
            .unwrap_or(usize::MAX);
        let first_pod_delete = cells
            .iter()
            .position(|c| c.disruption == Disruption::PodDelete)
            .unwrap_or(0);
        assert!(first_stop < first_pod_delete, "{cells:?}");
    }
}
