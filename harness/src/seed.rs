//! seed: not written yet.
