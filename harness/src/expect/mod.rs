//! The expectation table: for every (variant, disruption, provider) cell,
//! the outcome the documentation predicts and the source that says so.
//! Observed != expected fails the cell and names the contradicted source.
//!
//! - `expected` answers one cell; [`Cell::all`](crate::vocab::Cell::all) lists every cell.
//! - `Outcome::observed` turns what a cell saw (the probe's judgement and
//!   the reasons the timeline classifiers found) into the table's terms.
//! - `matches()` compares the two and returns a `Mismatch` whose message
//!   names the cell, the expectation, its sources and what was seen.
//! - [`render_markdown`] renders the whole table (checked in as
//!   `docs/expectations.md`; `cargo run -q -- expectations` regenerates it).

mod matching;
mod observed;
mod outcome;
mod render;
mod sources;
mod table;
#[cfg(test)]
mod tests;

pub use matching::Observation;
pub(crate) use matching::{Observed, matches};
pub use observed::{RECORD_PATH as OBSERVED_PATH, Record as ObservedRecord};
pub use outcome::Expectation;
pub(crate) use outcome::{Outcome, Text};
pub use render::render_markdown;
pub(crate) use sources::Source;
pub(crate) use table::expected;
