//! What the Grafana app is, as every other part of the harness meets it:
//! its port, its paths and its users. The manifests' checks, the workload
//! lookups, the API client, the judgement and the tier-1 containers all
//! take these values from here, so none of them can drift from the others.
//!
//! The YAML template (manifests/base/grafana.yaml and the variants'
//! workload patches) still writes them literally: placeholders fill in
//! strings only, and the port and ids are integers there. The manifest
//! tests check the rendered port and data dir against these constants.

/// [`DATA_DIR`] as a literal, so that [`DB_FILE`] is built from it.
macro_rules! data_dir {
    () => {
        "/var/lib/grafana"
    };
}

/// Grafana's HTTP port (container and Service).
pub const PORT: u16 = 3000;
/// Grafana's data directory in the image (`GF_PATHS_DATA`).
pub const DATA_DIR: &str = data_dir!();
/// The SQLite database inside [`DATA_DIR`].
pub(crate) const DB_FILE: &str = concat!(data_dir!(), "/grafana.db");
/// The uid the grafana/grafana image runs as (since 7.3).
pub const UID: u32 = 472;
/// The gid the grafana/grafana image runs as.
pub const GID: u32 = 0;
/// The user the harness logs in as (with a generated password).
pub(crate) const ADMIN_USER: &str = "admin";
/// The variable that sets the admin password, on the first start with an
/// empty database only (grafana#4923).
pub const ADMIN_PASSWORD_ENV: &str = "GF_SECURITY_ADMIN_PASSWORD";
/// The health endpoint: `database: ok` once Grafana can use grafana.db
/// (the client's health wait, and the manifests' readiness probe).
pub(crate) const HEALTH_PATH: &str = "/api/health";
