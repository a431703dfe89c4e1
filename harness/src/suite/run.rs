//! The run itself: the shared resources, whose turn it is, and a cell
//! from its turn to its row in the report.

use std::collections::BTreeSet;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard, Semaphore, SemaphorePermit};

use super::skip_reason;
use crate::config::Config;
use crate::error::{Result, chain};
use crate::host::Host;
use crate::report::Status;
use crate::resources::Resources;
use crate::vocab::{Cell, Disruption, Shared, Variant};

/// The run: its shared resources, and what decides which cells run at
/// once: every cell is started by the test runner right away and waits
/// here for its turn (so the runner's thread count does not decide it).
pub struct Suite {
    /// What the cells share.
    pub resources: Resources,
    /// Held shared by every cell, exclusively by one that runs alone.
    alone: RwLock<()>,
    /// Per part cells share (the NFS server, the operator): held shared by
    /// the cells that use it, exclusively by the one that restarts it.
    nfs_server: RwLock<()>,
    operator: RwLock<()>,
    /// Pod-level cells at once (E2E_PARALLEL).
    beside: Semaphore,
    /// Node pools free to lease (E2E_NODE_POOLS on the run's cluster).
    pool_slots: Semaphore,
    /// The pools leased now, by name.
    leased: Mutex<BTreeSet<String>>,
    ran: AtomicBool,
}

/// How a cell ended, for the test runner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CellRun {
    /// Not run: not selected or not applicable (reported as ignored, with
    /// why; the report has no row for it).
    Skipped(String),
    /// Reached the report with this status. A cell not run because the run
    /// itself failed first is reported ignored; the run's error is printed
    /// once and fails the run.
    Ran(Status),
}

impl Suite {
    /// A suite for `config` on `host`; nothing is started until a cell needs it.
    pub fn new(config: Config, host: Host) -> Self {
        let (beside, pools) = (config.parallel, config.node_pools());
        Self {
            resources: Resources::new(config, host),
            alone: RwLock::new(()),
            nfs_server: RwLock::new(()),
            operator: RwLock::new(()),
            beside: Semaphore::new(usize::from(beside.max(1))),
            pool_slots: Semaphore::new(usize::from(pools)),
            leased: Mutex::new(BTreeSet::new()),
            ran: AtomicBool::new(false),
        }
    }

    /// Whether `d`'s cells lease a node pool on this run's cluster.
    fn in_pool(&self, d: Disruption) -> bool {
        d.needs_own_nodes() && self.resources.config.node_pools() > 0
    }

    /// Run one cell (unless it is skipped; the cell bounds itself by
    /// `CELL_TIMEOUT` (30 min) and records its own row), and give
    /// every node back after a node-level one.
    pub async fn run_cell(&self, cell: Cell) -> CellRun {
        let res = &self.resources;
        if let Some(why) = skip_reason(&res.config, &res.host, cell) {
            return CellRun::Skipped(why);
        }
        self.ran.store(true, Ordering::SeqCst);
        // The whole cell holds its turn: a node-level disruption outside a
        // pool would otherwise hit the pods other cells are deploying or
        // judging. The backstop starts once the turn is held, so queueing
        // does not count.
        let turn = self.turn(cell.disruption, cell.variant).await;
        let Ok(cluster) = res.cluster().await else {
            // A run-level failure: its error goes into the report's notes
            // and is printed once at the end of the run; the cell is only
            // marked, in the one row it gets.
            let why = "the run's cluster did not start (its error is printed once, at the end \
                       of the run)";
            let r = crate::cell::not_run(cell, why);
            if let Err(e) = res.report.record(&r) {
                eprintln!("storage-e2e: could not record {cell}: {e}");
            }
            return CellRun::Ran(r.status);
        };
        let pool = if turn.in_pool {
            let Some(p) = self.lease(&cluster.pools()) else {
                let r = crate::cell::not_run(
                    cell,
                    "no node pool was free although a pool slot was (the cluster has fewer \
                     pools than E2E_NODE_POOLS: see the run's notes)",
                );
                if let Err(e) = res.report.record(&r) {
                    eprintln!("storage-e2e: could not record {cell}: {e}");
                }
                return CellRun::Ran(r.status);
            };
            Some(p)
        } else {
            None
        };
        let outcome = CellRun::Ran(
            crate::cell::run(res, &cluster, cell, pool.as_ref())
                .await
                .status,
        );
        if cell.disruption.is_node_level() {
            // Whatever the cell did or failed to undo (a cell cut off by the
            // backstop never reaches its own restore), the next cell gets
            // the nodes back (its pool's, or every worker): started,
            // uncordoned and Ready.
            if let Err(e) = cluster.heal_nodes(pool.as_ref()).await {
                eprintln!("storage-e2e: after {cell}: {}", chain(&e));
            }
        }
        if let Some(p) = &pool {
            self.leased_pools().remove(&p.name);
        }
        drop(turn);
        outcome
    }

    /// Wait for the turn of a cell of `variant` x `d`: a cell that takes a
    /// node away where there are no pools waits for every other to end and
    /// holds them off; one that restarts what cells share (the NFS server,
    /// the operator) waits for the cells that use it and holds them off;
    /// one that takes a node away on a cluster with pools waits for a free
    /// pool; the others for one of E2E_PARALLEL slots. Locks are taken in
    /// one order (the run, the shared parts, the slot), so no two cells
    /// wait on each other.
    async fn turn(&self, d: Disruption, variant: Variant) -> Turn<'_> {
        let in_pool = self.in_pool(d);
        if d.runs_alone() && !in_pool {
            return Turn {
                _alone: Some(self.alone.write().await),
                _beside: None,
                _parts: Vec::new(),
                _restart: None,
                _slot: None,
                in_pool,
            };
        }
        let beside = self.alone.read().await;
        let mut parts = Vec::new();
        let mut restart = None;
        for part in [Shared::NfsServer, Shared::Operator] {
            let lock = match part {
                Shared::NfsServer => &self.nfs_server,
                Shared::Operator => &self.operator,
            };
            if d.restarts() == Some(part) {
                restart = Some(lock.write().await);
            } else if variant.uses(part) {
                parts.push(lock.read().await);
            }
        }
        let slots = if in_pool {
            &self.pool_slots
        } else {
            &self.beside
        };
        Turn {
            _alone: None,
            _beside: Some(beside),
            _parts: parts,
            _restart: restart,
            _slot: slots.acquire().await.ok(),
            in_pool,
        }
    }

    /// A pool none of the running cells holds, now held.
    fn lease(&self, pools: &[crate::cluster::Pool]) -> Option<crate::cluster::Pool> {
        let mut leased = self.leased_pools();
        let free = pools.iter().find(|p| !leased.contains(&p.name))?.clone();
        leased.insert(free.name.clone());
        Some(free)
    }

    fn leased_pools(&self) -> std::sync::MutexGuard<'_, BTreeSet<String>> {
        // A poisoned set only means a cell panicked holding it; the names
        // in it are still right.
        self.leased
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Tear down at the end of the run: the NFS server and the cluster
    /// (each kept per E2E_KEEP when `failed`), then write the report.
    ///
    /// # Errors
    /// The first cleanup error; the report is written regardless.
    pub async fn finish(self, failed: bool) -> Result<()> {
        let report = self.resources.report.clone();
        let cleanup = self.resources.finish(failed).await;
        if self.ran.load(Ordering::SeqCst) {
            report.write()?;
            eprintln!(
                "storage-e2e: report in {}",
                report.dir().join("report.md").display()
            );
        }
        cleanup
    }
}

/// A cell's held turn (see `Suite::turn`); dropping it gives the turn back.
struct Turn<'a> {
    /// Held by a cell that runs alone: nothing else runs meanwhile.
    _alone: Option<RwLockWriteGuard<'a, ()>>,
    /// Held by every other cell.
    _beside: Option<RwLockReadGuard<'a, ()>>,
    /// The shared parts the cell's variant uses.
    _parts: Vec<RwLockReadGuard<'a, ()>>,
    /// The shared part the cell restarts: no cell that uses it meanwhile.
    _restart: Option<RwLockWriteGuard<'a, ()>>,
    /// A pod-level slot or a pool slot (the semaphores are never closed,
    /// so it is there; were one closed, the cell would still run).
    _slot: Option<SemaphorePermit<'a>>,
    /// Whether the slot is a pool's: the pool itself is leased once the
    /// cluster is there.
    in_pool: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(vars: &[(&str, &str)]) -> Config {
        Config::from_pairs(vars).unwrap_or_else(|e| panic!("{e}"))
    }

    fn host() -> Host {
        Host::for_tests(false, true)
    }

    /// Whether `turn` is held within a moment (it waits otherwise).
    async fn held_now<'a>(turn: impl std::future::Future<Output = Turn<'a>>) -> Option<Turn<'a>> {
        tokio::time::timeout(std::time::Duration::from_millis(50), turn)
            .await
            .ok()
    }

    /// The turns without a cluster: E2E_PARALLEL pod-level cells at once,
    /// one cell per pool beside them, and the operator's restart once the
    /// operator cells are done, holding off only those meanwhile.
    #[tokio::test]
    async fn pod_level_cells_take_slots_node_level_ones_pools_a_restart_its_part() {
        use Disruption as D;
        use Variant as V;
        let suite = Suite::new(
            config(&[("E2E_PARALLEL", "3"), ("E2E_NODE_POOLS", "2")]),
            host(),
        );
        let pod = held_now(suite.turn(D::PodDelete, V::EmptyDir)).await;
        assert!(pod.as_ref().is_some_and(|t| !t.in_pool));
        let operator_cell = held_now(suite.turn(D::PodDelete, V::OperatorClaim)).await;
        let third = held_now(suite.turn(D::ContainerKill, V::EmptyDir)).await;
        assert!(operator_cell.is_some() && third.is_some());
        assert!(
            held_now(suite.turn(D::ContainerKill, V::DefaultClass))
                .await
                .is_none(),
            "E2E_PARALLEL=3: the fourth pod-level cell waits"
        );
        let first = held_now(suite.turn(D::NodeStop, V::EmptyDir)).await;
        let second = held_now(suite.turn(D::RescheduleOtherNode, V::DefaultClass)).await;
        assert!(first.as_ref().is_some_and(|t| t.in_pool));
        assert!(
            second.is_some(),
            "two pools: two node-level cells beside the pod-level ones"
        );
        assert!(
            held_now(suite.turn(D::NodeStopOutOfService, V::EmptyDir))
                .await
                .is_none(),
            "a third waits for a pool"
        );
        drop((operator_cell, third));
        let restart = held_now(suite.turn(D::OperatorRestart, V::OperatorClaim)).await;
        assert!(
            restart.is_some(),
            "no operator cell runs: the restart runs beside the others"
        );
        assert!(
            held_now(suite.turn(D::PodDelete, V::OperatorDefault))
                .await
                .is_none(),
            "no operator cell while the operator restarts"
        );
        assert!(
            held_now(suite.turn(D::PodDelete, V::EmptyDir))
                .await
                .is_some(),
            "a cell without the operator runs on"
        );
        drop(restart);
        assert!(
            held_now(suite.turn(D::PodDelete, V::OperatorDefault))
                .await
                .is_some()
        );
        drop((pod, first, second));
    }

    /// The restart waits for an operator cell that is running.
    #[tokio::test]
    async fn the_operators_restart_waits_for_its_cells() {
        let suite = Suite::new(config(&[]), host());
        let cell = held_now(suite.turn(Disruption::ResourceRecreate, Variant::OperatorClaim)).await;
        assert!(cell.is_some());
        assert!(
            held_now(suite.turn(Disruption::OperatorRestart, Variant::OperatorClaim))
                .await
                .is_none()
        );
        drop(cell);
        assert!(
            held_now(suite.turn(Disruption::OperatorRestart, Variant::OperatorClaim))
                .await
                .is_some()
        );
    }

    /// Without pools (k3d, an existing cluster, E2E_NODE_POOLS=0) a cell
    /// that stops a node runs alone, as before pools.
    #[tokio::test]
    async fn without_pools_a_node_stop_runs_alone() {
        let suite = Suite::new(config(&[("E2E_NODE_POOLS", "0")]), host());
        let pod = held_now(suite.turn(Disruption::PodDelete, Variant::EmptyDir)).await;
        assert!(pod.is_some());
        assert!(
            held_now(suite.turn(Disruption::NodeStop, Variant::EmptyDir))
                .await
                .is_none()
        );
        drop(pod);
        let stop = held_now(suite.turn(Disruption::NodeStop, Variant::EmptyDir)).await;
        assert!(stop.as_ref().is_some_and(|t| !t.in_pool));
        assert!(
            held_now(suite.turn(Disruption::PodDelete, Variant::EmptyDir))
                .await
                .is_none()
        );
    }
}
