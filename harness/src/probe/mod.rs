//! Read back what was seeded, and judge whether it survived.
