//! One cell of the matrix, start to finish: deploy the variant in its own
//! namespace, seed its apps (crate::apps), snapshot, disrupt, wait (watch
//! based, bounded), snapshot again, classify what the cluster did, and judge
//! the observation against the expectation table. Every step is a piece
//! that tier 0 or tier 1 exercises for real; this module only composes them.

mod artifacts;
mod deploy;
mod disruption;
mod judge;
mod pipeline;
mod placement;
mod run;
mod settle;
#[cfg(test)]
mod tests;
mod verdict;

pub use run::run;
pub use verdict::not_run;
#[cfg(test)]
pub use verdict::{failed, judged};
