//! Tier 2: the matrix on a real cluster (`cargo test --features e2e`).
