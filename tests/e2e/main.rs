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
//! and torn down after the last one, which libtest cannot express (FACTS.md:
//! no global teardown, and a kube client dies with the per-test runtime that
//! made it). Cells that are not selected (E2E_VARIANTS, E2E_DISRUPTIONS,
//! E2E_STORAGE_CLASS) or not applicable are reported as *ignored* with the
//! reason, never as passed.

use std::process::ExitCode;
use std::sync::Arc;

use harness::cluster::Provider;
use harness::config::Config;
use harness::expect::Cell;
use harness::suite::{CELL_TIMEOUT, Suite, skip_reason, test_name};
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
    for note in &config.notes {
        eprintln!("storage-e2e: {note}");
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
    let suite = Arc::new(Suite::new(config));
    let trials: Vec<Trial> = Cell::all()
        .filter(|c| c.provider == provider)
        .map(|cell| trial(cell, provider, &suite, &runtime))
        .collect();

    let conclusion = libtest_mimic::run(&args, trials);

    let suite = Arc::try_unwrap(suite).unwrap_or_else(|_| unreachable!("every trial has finished"));
    if let Err(e) = runtime.block_on(suite.finish(conclusion.has_failed())) {
        eprintln!("storage-e2e: cleanup: {e}");
    }
    eprintln!(
        "storage-e2e: report in {}/report.md",
        Config::from_env()
            .map(|c| c.report_dir.display().to_string())
            .unwrap_or_default()
    );
    conclusion.exit_code()
}

fn trial(
    cell: Cell,
    provider: Provider,
    suite: &Arc<Suite>,
    rt: &Arc<tokio::runtime::Runtime>,
) -> Trial {
    let (suite, rt) = (Arc::clone(suite), Arc::clone(rt));
    Trial::ignorable_test(test_name(cell), move || {
        if let Some(why) = skip_reason(&suite.config, cell) {
            return Ok(Completion::ignored_with(why));
        }
        rt.block_on(async {
            match tokio::time::timeout(CELL_TIMEOUT, harness::cell::run(&suite, cell)).await {
                Err(_) => Err(Failed::from(format!(
                    "{cell}: no result within {CELL_TIMEOUT:?} (the outer backstop)"
                ))),
                Ok(Err(e)) => Err(Failed::from(format!("{cell}: {e}"))),
                Ok(Ok(r)) if r.passed => Ok(Completion::Completed),
                Ok(Ok(r)) => Err(Failed::from(
                    r.failure.unwrap_or_else(|| format!("{cell} failed")),
                )),
            }
        })
    })
    .with_kind(provider.to_string())
}
