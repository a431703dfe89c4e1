//! Which kind node image a run creates its cluster from.
//!
//! The version table pins `kindest/node:<version>@sha256:<digest>` per
//! minor. Where no registry can be reached, `make node-image K8S=<minor>`
//! (scripts/node-image.sh) builds a stand-in for it from Go modules and
//! Debian packages, tagged [`OFFLINE_REPO`]`:<version>`: the same
//! Kubernetes release, kind's own node files, and every image a new
//! cluster runs preloaded (images/kind-node/README.md). A run takes the
//! pinned image when Docker has it or can pull it, else that build; the
//! choice is printed and recorded, never silent.

use crate::docker::ImageStore;
use crate::error::{Error, Result};
use crate::vocab::Minor;

/// Where scripts/node-image.sh tags what it builds.
pub(crate) const OFFLINE_REPO: &str = "local/storage-e2e-kind-node";

/// The offline build's tag for a pinned `kindest/node:<version>@sha256:...`
/// image: `local/storage-e2e-kind-node:<version>`.
pub(crate) fn offline_tag(pinned: &str) -> Option<String> {
    let rest = pinned.strip_prefix("kindest/node:")?;
    let version = rest.split('@').next()?;
    (version.starts_with('v') && !version.is_empty()).then(|| format!("{OFFLINE_REPO}:{version}"))
}

/// The node image chosen for a run, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Choice {
    /// What `kind create cluster --image` gets.
    pub(crate) image: String,
    /// One line for the run's output and report.
    pub(crate) why: String,
}

/// The rule: the pinned image if Docker has it; else the offline build if
/// Docker has that; else the pinned image if it can be pulled; else an
/// error naming both and `make node-image`.
///
/// # Errors
/// [`Error::Preflight`] when neither image can be had.
pub(crate) fn choose(pinned: &str, minor: Minor, docker: &dyn ImageStore) -> Result<Choice> {
    if docker.present(pinned) {
        return Ok(Choice {
            image: pinned.to_owned(),
            why: format!("kind node image {pinned} (pinned, in Docker)"),
        });
    }
    let offline = offline_tag(pinned);
    if let Some(tag) = offline.as_deref().filter(|t| docker.present(t)) {
        return Ok(Choice {
            image: tag.to_owned(),
            why: format!(
                "kind node image {tag}: built offline by `make node-image K8S={minor}` \
                 (the pinned {pinned} is not in Docker)"
            ),
        });
    }
    match docker.pull(pinned) {
        Ok(()) => Ok(Choice {
            image: pinned.to_owned(),
            why: format!("kind node image {pinned} (pinned, pulled)"),
        }),
        Err(why) => Err(Error::Preflight {
            what: format!(
                "no kind node image for Kubernetes {minor}: {pinned} is not in Docker and cannot be \
                 pulled ({why}), and there is no offline build {}",
                offline
                    .as_deref()
                    .unwrap_or("(the pinned image is not a kindest/node tag)")
            ),
            fix: format!(
                "make node-image K8S={minor} (builds it from Go modules and Debian packages; \
                 about 10 minutes the first time)"
            ),
        }),
    }
}

/// Where scripts/node-image-with.sh tags the node images it makes.
pub(crate) const WITH_REPO: &str = "local/storage-e2e-kind-node-with";

/// A node image that is `node_image` plus `images` in its containerd, made
/// (about 40 s for the CI subset's nine, once) or reused by
/// scripts/node-image-with.sh, its progress shown as it goes: a cluster
/// created from it needs no image copied into any node, whatever its node
/// count. Returns the tag and one line for the run's notes.
///
/// # Errors
/// The script's failure (an image not in Docker, an import that failed):
/// the caller then creates the cluster from `node_image` and loads the
/// images into each node instead.
pub(crate) async fn with_images(node_image: &str, images: &[String]) -> Result<(String, String)> {
    let script = crate::cmd::checkout_script("node-image-with.sh");
    let clock = std::time::Instant::now();
    let out = crate::cmd::Cmd::new("bash")
        .arg(script.to_string_lossy())
        .arg(node_image)
        .args(images.iter().cloned())
        .streamed()
        .run_async()
        .await?;
    let tag = built_tag(&out.stderr).ok_or_else(|| {
        Error::parse(
            "scripts/node-image-with.sh output",
            format!(
                "no {WITH_REPO}:<tag> line at its end: {}",
                out.stderr.trim()
            ),
        )
    })?;
    let how = if out.stderr.contains(&format!("reusing {tag}")) {
        "reused".to_owned()
    } else {
        format!("made in {:.0}s", clock.elapsed().as_secs_f64())
    };
    let note = format!(
        "kind node image {tag}: {node_image} with the run's {} images already in its \
         containerd ({how} by scripts/node-image-with.sh; its labels and \
         /kind/storage-e2e-preloaded.txt name each image and its ID), so none is copied into a \
         node; `kind load` still checks each node has them",
        images.len()
    );
    Ok((tag, note))
}

/// The tag scripts/node-image-with.sh ends its output with.
fn built_tag(output: &str) -> Option<String> {
    let last = output.lines().rev().find(|l| !l.trim().is_empty())?.trim();
    last.starts_with(&format!("{WITH_REPO}:"))
        .then(|| last.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;

    #[test]
    fn the_made_tag_is_the_scripts_last_line() {
        let out = "[node-image-with  0s] building local/storage-e2e-kind-node-with:ab12: x with 2 images\n\
                   [node-image-with 41s] built local/storage-e2e-kind-node-with:ab12 (2915 MB)\n\
                   local/storage-e2e-kind-node-with:ab12\n";
        assert_eq!(
            built_tag(out).as_deref(),
            Some("local/storage-e2e-kind-node-with:ab12")
        );
        assert_eq!(built_tag("node-image-with: x is not in Docker\n"), None);
    }

    const PINNED: &str = "kindest/node:v1.35.8@sha256:07b2536e30b803ed61d1677a79df6115f798ce64c80f9e22f6ed45afd09323c0";

    /// A stub Docker for the choice rule: which images exist, whether pulls work.
    struct Stub {
        present: Vec<&'static str>,
        pull_ok: bool,
        pulled: RefCell<Vec<String>>,
    }

    impl ImageStore for Stub {
        fn present(&self, image: &str) -> bool {
            self.present.contains(&image)
        }
        fn pull(&self, image: &str) -> std::result::Result<(), String> {
            self.pulled.borrow_mut().push(image.to_owned());
            if self.pull_ok {
                Ok(())
            } else {
                Err("dial tcp: lookup registry-1.docker.io: no such host".into())
            }
        }
    }

    fn stub(present: &[&'static str], pull_ok: bool) -> Stub {
        Stub {
            present: present.to_vec(),
            pull_ok,
            pulled: RefCell::new(Vec::new()),
        }
    }

    #[test]
    fn the_offline_tag_keeps_the_pinned_version() {
        assert_eq!(
            offline_tag(PINNED).as_deref(),
            Some("local/storage-e2e-kind-node:v1.35.8")
        );
        assert_eq!(offline_tag("rancher/k3s:v1.35.8-k3s1"), None);
    }

    #[test]
    fn the_pinned_image_wins_when_docker_has_it() {
        let d = stub(&[PINNED, "local/storage-e2e-kind-node:v1.35.8"], false);
        let c = choose(PINNED, Minor(35), &d).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.image, PINNED);
        assert!(d.pulled.borrow().is_empty());
    }

    #[test]
    fn the_offline_build_is_used_before_any_pull_and_says_so() {
        let d = stub(&["local/storage-e2e-kind-node:v1.35.8"], true);
        let c = choose(PINNED, Minor(35), &d).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.image, "local/storage-e2e-kind-node:v1.35.8");
        assert!(
            c.why
                .contains("built offline by `make node-image K8S=1.35`"),
            "{}",
            c.why
        );
        assert!(d.pulled.borrow().is_empty());
    }

    #[test]
    fn otherwise_the_pinned_image_is_pulled() {
        let d = stub(&[], true);
        let c = choose(PINNED, Minor(35), &d).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((c.image.as_str(), d.pulled.borrow().len()), (PINNED, 1));
    }

    #[test]
    fn with_neither_the_error_names_both_images_and_the_fix() {
        let e = choose(PINNED, Minor(35), &stub(&[], false))
            .expect_err("nothing to run")
            .to_string();
        assert_eq!(
            e,
            format!(
                "no kind node image for Kubernetes 1.35: {PINNED} is not in Docker and cannot be pulled \
                 (dial tcp: lookup registry-1.docker.io: no such host), and there is no offline build \
                 local/storage-e2e-kind-node:v1.35.8; fix: make node-image K8S=1.35 (builds it from Go \
                 modules and Debian packages; about 10 minutes the first time)"
            )
        );
    }
}
