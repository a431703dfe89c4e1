//! The app images a tier-2 run uses, decided once, with Docker, before the
//! cluster starts: every image must be in Docker or pullable, because kind
//! and k3d nodes get them from there (`kind load`).
//!
//! Where a default image cannot be had (a machine with no registry), two
//! stand-ins exist, and a run that uses one says so in its output and its
//! report, never silently:
//! - Prometheus: `PROMETHEUS_STAND_INS`, Debian-packaged Prometheus
//!   images with prom/prometheus's user, paths, flags and lock-file
//!   behaviour, when they are in Docker (this project's registry-less CI
//!   machines build them). They are an older release line; the checks do
//!   not depend on the version.
//! - The init containers' shell: [`BUSYBOX`], BusyBox 1.37 from Debian's
//!   busybox-static, which the harness builds itself (images/busybox/).
//!
//! Grafana has no stand-in: with no Grafana image, run with
//! `E2E_APPS=prometheus` and Grafana is reported as not run.

use crate::config::{Config, Images, default_images};
use crate::docker::{ImageStore, LocalImage};
use crate::error::{Error, Result};
use crate::vocab::{App, Disruption};

/// The init containers' shell image, built from images/busybox/ when
/// `default_images::INIT` cannot be pulled.
pub const BUSYBOX: LocalImage = LocalImage {
    what: "the init containers' shell image",
    default_tag: "local/storage-e2e-busybox:1.37",
    files: &[(
        "Dockerfile",
        include_str!("../../images/busybox/Dockerfile"),
    )],
    source_label: "storage-e2e/busybox-image-source",
};

/// (default image, Debian-packaged stand-in) for Prometheus: the current
/// and previous release lines, so `image-upgrade` still upgrades.
pub(crate) const PROMETHEUS_STAND_INS: [(&str, &str); 2] = [
    (default_images::PROMETHEUS, "local/prometheus-debian:2.53"),
    (
        default_images::PROMETHEUS_PREVIOUS,
        "local/prometheus-debian:2.42",
    ),
];

/// What [`choose`] decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Chosen {
    /// The images the run uses (those it does not need are left as configured).
    pub(crate) images: Images,
    /// Whether [`BUSYBOX`] must be built for `images.init`.
    pub(crate) build_init: bool,
    /// One line per image that differs from the configured one, and why.
    pub(crate) notes: Vec<String>,
}

/// One image slot of [`Images`].
struct Slot<'a> {
    var: &'static str,
    app: Option<App>,
    image: &'a mut String,
    needed: bool,
}

/// Decide the run's images: each one it needs must be in Docker or
/// pullable; a default that is neither gets its stand-in when one exists.
/// `needs_init`: whether a selected variant has init containers.
///
/// # Errors
/// [`Error::Preflight`] naming the first image that cannot be had, the
/// variable that overrides it, and (Grafana) `E2E_APPS=prometheus`.
// Over 80 lines: the slots the run needs (which images, which variable
// overrides each), then one loop deciding each slot: present, stand-in,
// or a preflight error whose hint depends on the slot.
pub(crate) fn choose(config: &Config, needs_init: bool, docker: &dyn ImageStore) -> Result<Chosen> {
    let mut images = config.images.clone();
    let upgrade = config.disruptions.contains(&Disruption::ImageUpgrade);
    let grafana = config.apps.contains(&App::Grafana);
    let mut notes = Vec::new();
    let mut build_init = false;
    let Images {
        prometheus,
        prometheus_previous,
        grafana: grafana_image,
        grafana_previous,
        init,
        nfs: _,
        // Built by scripts/csi-images.sh, never pulled: see ensure_csi.
        csi_driver: _,
        csi_sidecars: _,
        // Built by scripts/app-images.sh, never pulled: see app_images.
        operator: _,
        operator_reloader: _,
        thanos: _,
        s3: _,
    } = &mut images;
    let slots = [
        Slot {
            var: "HARNESS_PROMETHEUS_IMAGE",
            app: Some(App::Prometheus),
            image: prometheus,
            needed: true,
        },
        Slot {
            var: "HARNESS_PROMETHEUS_PREVIOUS_IMAGE",
            app: Some(App::Prometheus),
            image: prometheus_previous,
            needed: upgrade,
        },
        Slot {
            var: "HARNESS_GRAFANA_IMAGE",
            app: Some(App::Grafana),
            image: grafana_image,
            needed: grafana,
        },
        Slot {
            var: "HARNESS_GRAFANA_PREVIOUS_IMAGE",
            app: Some(App::Grafana),
            image: grafana_previous,
            needed: grafana && upgrade,
        },
        Slot {
            var: "HARNESS_INIT_IMAGE",
            app: None,
            image: init,
            needed: needs_init,
        },
    ];
    for slot in slots.into_iter().filter(|s| s.needed) {
        let wanted = slot.image.clone();
        if docker.present(&wanted) {
            continue;
        }
        let why = match docker.pull(&wanted) {
            Ok(()) => continue,
            Err(why) => why,
        };
        let stand_in = PROMETHEUS_STAND_INS
            .iter()
            .find(|(default, s)| *default == wanted && docker.present(s))
            .map(|(_, s)| *s);
        if let Some(s) = stand_in {
            notes.push(format!(
                "{wanted} cannot be pulled ({why}): using the Debian-packaged stand-in {s} \
                 ({} overrides it)",
                slot.var
            ));
            *slot.image = s.to_owned();
        } else if slot.app.is_none() && wanted == default_images::INIT {
            notes.push(format!(
                "{wanted} cannot be pulled ({why}): building {} from Debian's busybox-static \
                 ({} overrides it)",
                BUSYBOX.default_tag, slot.var
            ));
            BUSYBOX.default_tag.clone_into(slot.image);
            build_init = true;
        } else {
            let grafana_hint = if slot.app == Some(App::Grafana) {
                ", or E2E_APPS=prometheus to run without Grafana (it is then reported as not run)"
            } else {
                ""
            };
            return Err(Error::Preflight {
                what: format!("{wanted} is not in Docker and cannot be pulled ({why})"),
                fix: format!(
                    "load or build it into Docker, or set {} to an image you have (a pinned tag){grafana_hint}",
                    slot.var
                ),
            });
        }
    }
    Ok(Chosen {
        images,
        build_init,
        notes,
    })
}

/// The script that builds the attachable CSI driver's images (the driver
/// from images/csi-driver with cargo, the sidecars from their Go modules),
/// in this checkout.
pub(crate) fn csi_images_script() -> std::path::PathBuf {
    crate::cmd::checkout_script("csi-images.sh")
}

/// Make sure the attachable CSI driver's two images are in Docker before a
/// cluster that needs them starts: under their default tags, by running
/// `scripts/csi-images.sh`, which reuses them in about a second when
/// nothing changed and otherwise builds them (minutes the first time: Go
/// modules and cargo), its progress shown as it goes; under override tags
/// (HARNESS_CSI_*_IMAGE), only by checking that Docker has them.
///
/// # Errors
/// [`Error::Preflight`] naming the missing image and the fix, or the
/// script's failure (its last lines say what is missing: Go, cargo, Docker).
pub(crate) async fn ensure_csi(images: &Images, docker: &dyn ImageStore) -> Result<()> {
    let defaults = images.csi_driver == default_images::CSI_DRIVER
        && images.csi_sidecars == default_images::CSI_SIDECARS;
    if defaults {
        let script = csi_images_script();
        eprintln!(
            "storage-e2e: making sure the attachable CSI driver's images are built ({})",
            script.display()
        );
        crate::cmd::Cmd::new("bash")
            .arg(script.to_string_lossy())
            .streamed()
            .run_async()
            .await?;
    }
    for (var, image) in [
        ("HARNESS_CSI_DRIVER_IMAGE", &images.csi_driver),
        ("HARNESS_CSI_SIDECARS_IMAGE", &images.csi_sidecars),
    ] {
        if !docker.present(image) {
            return Err(Error::Preflight {
                what: format!(
                    "{image}, an image of the attachable CSI driver (csi-rwo), is not in Docker"
                ),
                fix: format!(
                    "build it with scripts/csi-images.sh (make e2e does), or set {var} to an image you have"
                ),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The tags the harness deploys are the tags scripts/csi-images.sh
    /// builds: read from the script, so the two cannot drift apart.
    #[test]
    fn csi_image_defaults_are_what_the_build_script_tags() {
        let script = std::fs::read_to_string(csi_images_script()).unwrap_or_else(|e| panic!("{e}"));
        let tag = |var: &str| {
            script
                .lines()
                .find_map(|l| l.strip_prefix(&format!("{var}=")))
                .map(str::to_owned)
        };
        assert_eq!(
            tag("DRIVER_TAG").as_deref(),
            Some(default_images::CSI_DRIVER)
        );
        assert_eq!(
            tag("SIDECARS_TAG").as_deref(),
            Some(default_images::CSI_SIDECARS)
        );
    }

    /// A stub Docker: which images exist; pulls always fail (no registry).
    struct Offline(Vec<&'static str>);

    impl ImageStore for Offline {
        fn present(&self, image: &str) -> bool {
            self.0.contains(&image)
        }
        fn pull(&self, _image: &str) -> std::result::Result<(), String> {
            Err("no such host".into())
        }
    }

    fn config(vars: &[(&str, &str)]) -> Config {
        Config::from_pairs(vars).unwrap_or_else(|e| panic!("{e}"))
    }

    const STAND_INS: [&str; 2] = [
        "local/prometheus-debian:2.53",
        "local/prometheus-debian:2.42",
    ];

    #[test]
    fn offline_prometheus_gets_its_stand_ins_and_the_run_says_so() {
        let c = config(&[("E2E_APPS", "prometheus")]);
        let chosen =
            choose(&c, true, &Offline(STAND_INS.to_vec())).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(chosen.images.prometheus, "local/prometheus-debian:2.53");
        assert_eq!(
            chosen.images.prometheus_previous,
            "local/prometheus-debian:2.42"
        );
        assert_eq!(chosen.images.init, BUSYBOX.default_tag);
        assert!(chosen.build_init);
        assert_eq!(
            chosen.notes[0],
            "prom/prometheus:v3.7.3 cannot be pulled (no such host): using the Debian-packaged \
             stand-in local/prometheus-debian:2.53 (HARNESS_PROMETHEUS_IMAGE overrides it)"
        );
        assert_eq!(chosen.notes.len(), 3);
        // Grafana is not needed, so not looked for.
        assert_eq!(chosen.images.grafana, default_images::GRAFANA);
    }

    #[test]
    fn images_docker_has_are_kept_and_unneeded_ones_not_asked_for() {
        let c = config(&[
            ("E2E_APPS", "prometheus"),
            ("E2E_DISRUPTIONS", "pod-delete"),
            ("HARNESS_PROMETHEUS_IMAGE", "mirror.local/prometheus:v3.7.3"),
        ]);
        let chosen = choose(&c, false, &Offline(vec!["mirror.local/prometheus:v3.7.3"]))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(chosen.images, c.images);
        assert!(chosen.notes.is_empty() && !chosen.build_init);
    }

    #[test]
    fn an_override_that_cannot_be_had_is_an_error_naming_its_variable() {
        let c = config(&[("HARNESS_PROMETHEUS_IMAGE", "mirror.local/prometheus:v3.7.3")]);
        let e = choose(&c, false, &Offline(STAND_INS.to_vec()))
            .expect_err("no stand-in for an override")
            .to_string();
        assert_eq!(
            e,
            "mirror.local/prometheus:v3.7.3 is not in Docker and cannot be pulled (no such host); fix: \
             load or build it into Docker, or set HARNESS_PROMETHEUS_IMAGE to an image you have (a pinned tag)"
        );
    }

    #[test]
    fn no_grafana_image_points_at_e2e_apps() {
        let c = config(&[]);
        let e = choose(&c, false, &Offline(STAND_INS.to_vec()))
            .expect_err("no Grafana")
            .to_string();
        assert!(
            e.starts_with("grafana/grafana:12.2.1 is not in Docker and cannot be pulled"),
            "{e}"
        );
        assert!(
            e.ends_with(
                "or E2E_APPS=prometheus to run without Grafana (it is then reported as not run)"
            ),
            "{e}"
        );
    }
}
