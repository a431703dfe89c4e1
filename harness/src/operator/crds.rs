//! The operator's CustomResourceDefinitions and images, made on this
//! machine: no registry serves them here, and the CRDs are the operator's
//! own generated files (its module's example/prometheus-operator-crd/),
//! which scripts/app-images.sh takes from the module it builds the
//! operator from, so the CRDs always match the operator that runs.

use std::path::{Path, PathBuf};

use crate::cmd::Cmd;
use crate::error::{Error, Result};
use crate::manifest::{Manifest, Object};

/// Make sure the operator's two images are in Docker (built the first
/// time, minutes; reused in about a second after), its progress shown,
/// and return the folder holding its CRDs.
///
/// # Errors
/// The script's failure (its last lines name what is missing: Go,
/// Docker), or no folder printed.
pub(crate) async fn crds_dir() -> Result<PathBuf> {
    crate::app_images::ensure("--operator", "prometheus-operator").await?;
    let script = crate::app_images::script();
    let out = Cmd::new("bash")
        .arg(script.to_string_lossy())
        .arg("--crds")
        .quiet()
        .run_async()
        .await?;
    let dir = PathBuf::from(out.stdout.trim());
    if !dir.is_dir() {
        return Err(Error::Preflight {
            what: format!(
                "prometheus-operator's CRDs are not where {} --crds says ({})",
                script.display(),
                dir.display()
            ),
            fix: "run make app-images (it fetches the operator's module) and try again".into(),
        });
    }
    Ok(dir)
}

/// Every CRD in `dir` as a typed object, to install with the addon.
///
/// # Errors
/// [`Error::Io`] when the folder cannot be read, [`Error::Manifest`]
/// naming a file that is not a CRD.
pub(crate) fn load_crds(dir: &Path) -> Result<Vec<Manifest>> {
    let mut out = Vec::new();
    for file in crate::manifest::upstream_yaml_files(dir)? {
        for m in crate::manifest::read_upstream(&file)? {
            if !matches!(m.object, Object::CustomResourceDefinition(_)) {
                return Err(m.error("is not a CustomResourceDefinition (only CRDs are read from the operator's module)"));
            }
            out.push(m);
        }
    }
    if out.is_empty() {
        return Err(Error::Preflight {
            what: format!("no CRDs in {}", dir.display()),
            fix: "delete that folder and run make app-images again".into(),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A folder with something other than CRDs in it is refused, naming
    /// the file; an empty one says how to refill it.
    #[test]
    fn only_crds_are_read_from_the_module() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let err = load_crds(dir.path()).map(|_| ()).unwrap_err().to_string();
        assert!(
            err.contains("no CRDs in") && err.contains("make app-images"),
            "{err}"
        );
        std::fs::write(
            dir.path().join("cm.yaml"),
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let err = load_crds(dir.path()).map(|_| ()).unwrap_err().to_string();
        assert!(
            err.contains("cm.yaml") && err.contains("not a CustomResourceDefinition"),
            "{err}"
        );
    }
}
