//! Tier 2: the matrix on a real cluster (`cargo test --features e2e`, or
//! `make e2e`).
//!
//! One test per (variant, disruption) cell of the configured provider,
//! named `<variant>::<disruption>` (`nfs_static::pod_delete`), so the usual
//! filters select cells: `cargo test --features e2e --test e2e -- nfs_static`.
//! `-- --list` prints the whole matrix without touching Docker.
//!
//! This is a libtest-compatible harness (libtest-mimic) rather than
//! `#[test]` functions because a run needs one cluster shared by every cell
//! and torn down after the last one, which libtest cannot express (no global
//! teardown: rust-lang/rust#117668; and a kube client dies with the per-test
//! runtime that made it, which runs its tower `Buffer` worker: kube-rs/kube
//! kube-client/src/client/mod.rs, `Client::new`). Cells that are not selected
//! (E2E_VARIANTS, E2E_DISRUPTIONS,
//! E2E_STORAGE_CLASS) or not applicable are reported as *ignored* with the
//! reason, never as passed. All the work is in `harness::suite` and
//! `harness::cell`; this file only wires them to the test runner.

use std::process::ExitCode;
use std::sync::Arc;

use harness::config::Config;
use harness::host::Host;
use harness::report::Status;
use harness::suite::{CellRun, Suite, run_order, test_name};
use harness::vocab::{Cell, Provider};
use libtest_mimic::{Arguments, Completion, Failed, Trial};

fn main() -> ExitCode {
    let args = Arguments::from_args();
    let config = match Config::from_env() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    if !args.list {
        for note in &config.notes {
            eprintln!("storage-e2e: {note}");
        }
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => Arc::new(rt),
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let provider = config.provider;
    let host = Host::detect();
    // A node count the machine cannot hold fails the run before anything starts.
    if !args.list
        && provider != Provider::Existing
        && let Err(e) = host.check_nodes_with_pools(config.nodes, config.node_pools())
    {
        eprintln!("error: {e}");
        return ExitCode::from(2);
    }
    let pools = config.node_pools() > 0;
    let suite = Arc::new(Suite::new(config, host));
    // The report is rendered from every cell file in its directory: start
    // from an empty one, so no earlier run's cells show as this run's.
    if !args.list
        && let Err(e) = suite.resources.report.reset()
    {
        eprintln!("error: {e}");
        return ExitCode::from(2);
    }
    // Long cells leading, the ones that run alone last: see
    // harness::suite::run_order.
    let mut cells: Vec<Cell> = Cell::all().filter(|c| c.provider == provider).collect();
    cells.sort_by_key(|c| run_order(*c, pools));
    let trials: Vec<Trial> = cells
        .into_iter()
        .map(|cell| {
            let (suite, rt) = (Arc::clone(&suite), Arc::clone(&runtime));
            Trial::ignorable_test(test_name(cell), move || {
                match rt.block_on(suite.run_cell(cell)) {
                    CellRun::Skipped(why) => Ok(Completion::ignored_with(why)),
                    CellRun::Ran(Status::Passed) => Ok(Completion::Completed),
                    CellRun::Ran(Status::Failed { failure }) => Err(Failed::from(failure)),
                    // The run's own error was printed once; the exit code
                    // below makes the run fail whatever libtest counts.
                    CellRun::Ran(Status::NotRun { why }) => {
                        Ok(Completion::ignored_with(format!("not run: {why}")))
                    }
                }
            })
            .with_kind(provider.to_string())
        })
        .collect();

    // Every cell starts at once and waits in the suite for its turn
    // (E2E_PARALLEL pod-level cells, one per node pool, the ones that run
    // alone by themselves): the suite decides what runs together, not the
    // runner's thread count. --test-threads, when given, caps it further.
    let mut args = args;
    if args.test_threads.is_none() {
        args.test_threads = Some(trials.len().max(1));
    }
    let conclusion = libtest_mimic::run(&args, trials);

    // Every trial (and its Arc) is gone once `run` returns.
    let run_failure = suite.resources.start_failure();
    match Arc::try_unwrap(suite) {
        Ok(suite) => {
            if let Err(e) = runtime.block_on(suite.finish(conclusion.has_failed())) {
                eprintln!("storage-e2e: cleanup: {e}");
            }
        }
        Err(_) => eprintln!(
            "storage-e2e: cells still hold the suite; the cluster reaper cleans up at exit"
        ),
    }
    if let Some(e) = run_failure {
        eprintln!(
            "error: the run failed before its cells could run (they are marked not run): {}",
            harness::error::chain(&*e)
        );
        return ExitCode::FAILURE;
    }
    conclusion.exit_code()
}
