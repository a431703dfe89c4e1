//! Prometheus: seed a known history, read it and the live head back, and
//! judge whether they came through a disruption.
//!
//! Organised by what the harness does with the app, each file importing
//! only the ones listed before it (no sibling imports in a cycle):
//! - `facts`: the port, paths and user (one home for all of them);
//! - `history`: the marker [`History`], the shared leaf every other file
//!   builds on;
//! - `api`: the HTTP client [`PrometheusProbe`] and how an answer becomes
//!   data, evidence or an error;
//! - `blocks`, `head`, `snapshot`: what a [`Snapshot`] reads (the TSDB
//!   blocks, the live head, and the rest: marker values and counts,
//!   `prometheus_tsdb_clean_start`, the data dir's owner);
//! - `judge`: [`compare`], the judgement of a before/after pair;
//! - `seed` and [`prestart`]: writing the history as TSDB blocks, into a
//!   running server or before it starts;
//! - `logs`: [`classify_log`], Prometheus's storage failures in its log;
//! - `remote_write`: a dense head series written through the remote-write
//!   receiver, so the head count covers minutes up to the disruption;
//! - `ticks`: one sample at a time while the volume is full, each answer
//!   kept, counted back after (`Ticks`);
//! - `wal`: where the WAL ends ([`WalMark`]) and the cut that tears the
//!   first record after it (wal-tail-torn).
//!
//! How a cell uses Prometheus is `crate::apps`'s `prometheus.rs` and the
//! cell's own stages.
//!
//! [`compare`] names the part that was lost (`blocks`, `head/wal`, or
//! both), tolerating compaction: coverage and values must hold, block
//! ULIDs are only reported.

mod api;
mod blocks;
mod facts;
mod head;
mod history;
mod judge;
mod logs;
pub mod prestart;
mod remote_write;
mod seed;
mod snapshot;
mod ticks;
mod wal;

pub use api::{PrometheusProbe, READY_TIMEOUT};
pub use blocks::{BlockInfo, BlockSource};
pub use facts::{CONFIG_FILE, DATA_DIR, GID, PORT, UID};
pub use head::{HEAD_SAMPLE_TIMEOUT, Head, HeadCount, HeadSample};
pub use history::{History, is_ulid};
pub use judge::compare;
pub use logs::{classify_log, unclean_stop_logged};
pub(crate) use remote_write::DENSE_METRIC;
pub use remote_write::{DENSE_SPAN, DenseSeries};
pub use seed::{Seeded, Written, await_queryable, seed_blocks, write_blocks};
pub use snapshot::{MarkerValue, Read, ReadError, Snapshot};
pub(crate) use ticks::Ticks;
pub use wal::{WalMark, cut_after_mark_script};

#[cfg(test)]
mod tests;
