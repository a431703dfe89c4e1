//! A tier-2 run: which cells run, in what order, one at a time or
//! together, and what the test runner is told about each. What the cells
//! share (cluster, NFS server, images, report) is in [`crate::resources`].
//!
//! libtest has no global setup or teardown (rust-lang/rust#117668), so the e2e binary is
//! a libtest-compatible harness (libtest-mimic) whose `main` owns a
//! [`Suite`]: it starts the cluster when the first selected cell runs and
//! cleans everything up after the last one, keeping it on failure per
//! E2E_KEEP. The cluster guard's reaper covers a killed process.
mod run;
mod select;
#[cfg(test)]
mod tests;

pub use run::{CellRun, Suite};
pub use select::{run_order, skip_reason, test_name};
