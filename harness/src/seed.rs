//! Writing known data into the workloads before a disruption, so the probes
//! can read it back afterwards and tell exactly what survived. One
//! submodule per workload.

pub mod prestart;
pub mod prometheus;
