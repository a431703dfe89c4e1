//! Tier 1: real Docker containers (`cargo test --features containers`).

mod grafana;
mod grafana_support;
mod prom_support;
mod prometheus;
mod sweep;
