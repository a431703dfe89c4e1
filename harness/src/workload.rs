//! workload: not written yet.
