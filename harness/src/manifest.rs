//! manifest: not written yet.
