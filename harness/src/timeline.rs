//! timeline: not written yet.
