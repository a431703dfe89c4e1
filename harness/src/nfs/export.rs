//! The export: where it is mounted ([`EXPORT_PATH`]) and the paths and
//! libnfs URLs that stay inside it.

use crate::error::{Error, Result};
use crate::nfs::ownership::Identity;

/// Where the export is mounted in the server container, and the path clients
/// mount (the NFSv4 pseudo path is the same).
pub(crate) const EXPORT_PATH: &str = "/exports";

/// `/exports/<sub>` for a relative, plain path.
pub(super) fn export_subpath(sub: &str) -> Result<String> {
    let trimmed = sub.trim_matches('/');
    let bad = |why: &str| Error::parse(format!("export path {sub:?}"), why.to_owned());
    if sub.starts_with('/') {
        return Err(bad("must be relative to the export"));
    }
    if !trimmed
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "._-/".contains(c))
    {
        return Err(bad("may only use letters, digits, '.', '_', '-' and '/'"));
    }
    if !trimmed.is_empty()
        && trimmed
            .split('/')
            .any(|p| p.is_empty() || p == "." || p == "..")
    {
        return Err(bad("must not contain empty, '.' or '..' components"));
    }
    Ok(if trimmed.is_empty() {
        EXPORT_PATH.to_owned()
    } else {
        format!("{EXPORT_PATH}/{trimmed}")
    })
}

pub(super) fn nfs_url(server: &str, path: &str, who: Identity) -> String {
    format!(
        "nfs://{server}{path}?version=4&uid={}&gid={}",
        who.uid, who.gid
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn export_paths_stay_inside_the_export() {
        assert_eq!(export_subpath("").ok().as_deref(), Some("/exports"));
        assert_eq!(
            export_subpath("a/b-1.x/").ok().as_deref(),
            Some("/exports/a/b-1.x")
        );
        for bad in ["/etc", "a/../b", "a//b", "./a", "a b", "a;rm"] {
            assert!(export_subpath(bad).is_err(), "{bad}");
        }
        assert_eq!(
            nfs_url("10.0.0.2", "/exports/d/f", Identity::GRAFANA),
            "nfs://10.0.0.2/exports/d/f?version=4&uid=472&gid=0"
        );
    }
}
