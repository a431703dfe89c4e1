//! report: not written yet.
