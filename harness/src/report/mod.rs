//! The run's report: `report.json` (every cell) and `report.md` (the matrix
//! at a glance, then failures with their messages) under E2E_REPORT_DIR
//! (default `target/e2e-report/`), plus a folder of failure artifacts per
//! failed cell (see [`collect_artifacts`]).
//!
//! libtest has no global teardown, so there is no "end of run" to write
//! the report at: each cell writes `cells/<cell>.json` and re-renders the
//! aggregate from all cell files ([`Report::record`]). Writes are atomic
//! (temp file + rename) and the aggregate is re-rendered until the set of
//! cell files it was built from is still the current one, so cells
//! finishing in parallel cannot drop each other from the report.
//!
//! JUnit: nextest writes it; a failed cell's test fails with the
//! `Mismatch` message, which names the cell, the
//! expectation, its sources and what was seen.

mod artifacts;
mod render;
mod result;
mod run_timing;
mod store;
#[cfg(test)]
mod tests;
mod timeline_svg;

pub use artifacts::{Artifact, ArtifactSummary, TextArtifact, collect_artifacts};
pub use render::{LEGEND, read_json, render_json, render_markdown};
pub use result::{CellResult, CheckRecord, Checks, Status, Timings};
pub(crate) use run_timing::cells_ran_note;
pub use run_timing::{RunTiming, render_run_timings, run_timing};
pub use store::Report;
pub use timeline_svg::{TIMELINE_SVG, render_timeline_svg, write_timeline_svg};
