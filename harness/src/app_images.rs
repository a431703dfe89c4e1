//! The images of the setups beside plain Prometheus (prometheus-operator,
//! Thanos, the S3 store), which no registry serves here: made sure of by
//! scripts/app-images.sh, which builds them from their Go modules the first
//! time (minutes) and reuses them in about a second after.

use std::path::PathBuf;

use crate::cmd::Cmd;
use crate::error::Result;

/// The project's version table for prometheus-operator (E2E_OPERATOR_VERSION):
/// the releases scripts/app-images.sh builds. v0.85.0 is the only one the Go
/// module proxy serves here.
pub(crate) const OPERATOR_VERSIONS: &[&str] = &["0.85.0"];
/// The same for Thanos (E2E_THANOS_VERSION): v0.42.5, the newest served.
pub(crate) const THANOS_VERSIONS: &[&str] = &["0.42.5"];

/// scripts/app-images.sh in this checkout.
pub(crate) fn script() -> PathBuf {
    crate::cmd::checkout_script("app-images.sh")
}

/// Run the script with `part` (`--operator`, `--thanos`, `--s3`), its
/// progress shown, so that part's images are in Docker.
///
/// # Errors
/// The script's failure (its last lines name what is missing: Go, Docker).
pub(crate) async fn ensure(part: &str, what: &str) -> Result<()> {
    let script = script();
    eprintln!(
        "storage-e2e: making sure {what}'s images are built ({} {part})",
        script.display()
    );
    Cmd::new("bash")
        .arg(script.to_string_lossy())
        .arg(part)
        .streamed()
        .run_async()
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::default_images;

    /// The tags the harness loads are the tags scripts/app-images.sh
    /// builds (`--tags` prints them without Docker), so the two cannot
    /// drift apart.
    #[test]
    fn image_defaults_are_what_the_build_script_tags() {
        let out = std::process::Command::new("bash")
            .arg(script())
            .arg("--tags")
            .output()
            .unwrap_or_else(|e| panic!("{e}"));
        let tags = String::from_utf8_lossy(&out.stdout);
        let tags: Vec<&str> = tags.lines().collect();
        assert!(tags.contains(&default_images::OPERATOR), "{tags:?}");
        assert!(
            tags.contains(&default_images::OPERATOR_RELOADER),
            "{tags:?}"
        );
        assert!(tags.contains(&default_images::THANOS), "{tags:?}");
        // Every version of the table is one the script builds.
        for v in OPERATOR_VERSIONS {
            let tag = format!("{}:{v}", default_images::OPERATOR_REPO);
            assert!(tags.contains(&tag.as_str()), "{tag} not in {tags:?}");
        }
        for v in THANOS_VERSIONS {
            let tag = format!("{}:{v}", default_images::THANOS_REPO);
            assert!(tags.contains(&tag.as_str()), "{tag} not in {tags:?}");
        }
    }
}
