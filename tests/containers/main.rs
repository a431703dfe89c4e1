//! Tier 1: real Docker containers (`cargo test --features containers`).

mod common;
mod csi;
mod grafana;
mod grafana_support;
mod images;
mod nfs;
mod prom_support;
mod prometheus;
mod seed;
mod sweep;
