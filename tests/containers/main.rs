//! Tier 1: real Docker containers (`cargo test --features containers`).

mod prom_support;
mod prometheus;
