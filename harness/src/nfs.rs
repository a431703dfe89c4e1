//! nfs: not written yet.
