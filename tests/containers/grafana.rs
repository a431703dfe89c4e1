//! Tier 1, Grafana: a real grafana/grafana container (HARNESS_GRAFANA_IMAGE)
//! seeded through its HTTP API with the same `harness::grafana` code
//! the e2e tier uses, then disrupted.
//!
//! - a bind-mounted data dir keeps the API-created dashboard, datasource and
//!   folder through SIGKILL + restart and through container recreation;
//! - NEGATIVE CONTROL: on the container's own filesystem they survive a
//!   restart of the same container but are lost when it is recreated, and
//!   the verdict must say Lost naming them (a harness that cannot see a
//!   loss proves nothing);
//! - a data dir uid 472 cannot write makes Grafana fail, and its log is
//!   classified `GrafanaPermissionDenied`.
//!
//! These tests need the image locally and never pull it: without it they
//! fail at once with a preflight error naming the image and
//! HARNESS_GRAFANA_IMAGE (they do not skip). `.ci/run` excludes them by the
//! `grafana::` prefix on machines without the image, saying why.

use std::time::Instant;

use anyhow::{Result, ensure};
use harness::grafana::{self, DbFile, SeedSpec, classify_log};
use harness::vocab::{Part, PartKind, Reason, Verdict};

use crate::grafana_support::{DataDir, EXIT_TIMEOUT, Grafana, image, within_test_timeout};

/// The datasource URL: never contacted (Grafana does not check it on create).
const PROMETHEUS_URL: &str = "http://prometheus.e2e.invalid:9090";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bind_mount_survives_sigkill_and_recreation() -> Result<()> {
    within_test_timeout(async {
        let image = image().await?;
        let password = grafana::generate_password();
        let data = DataDir::writable_by_grafana(&image)?;

        let first = Grafana::start(&image, &password, Some(&data)).await?;
        let client = first.wait_healthy(&password).await?;
        let seeded = client.seed(&SeedSpec::unique(PROMETHEUS_URL)).await?;
        let before = client.snapshot(&seeded.uids(), Some(&first.exec())).await?;
        ensure!(
            matches!(
                before.db_file,
                DbFile::Present {
                    uid: grafana::UID,
                    ..
                }
            ),
            "grafana.db should be owned by uid {} on the bind mount: {}",
            grafana::UID,
            before.db_file
        );

        // SIGKILL, then the same container again.
        let killed_at = first.kill().await?;
        first.start_again().await?;
        let client = first.wait_healthy(&password).await?;
        let (judgement, _) = client
            .judge_after(
                &before,
                killed_at,
                grafana::HEALTH_TIMEOUT,
                Some(&first.exec()),
            )
            .await?;
        eprintln!("after SIGKILL: {judgement:?}");
        ensure!(
            judgement.verdict == Verdict::Survived,
            "after SIGKILL + restart: {judgement:?}"
        );
        ensure!(
            judgement.recovery.is_some(),
            "recovery time missing: {judgement:?}"
        );

        // A new container on the same data dir, with the same password (it
        // only applies to an empty database anyway: grafana#4923).
        let removed_at = Instant::now();
        first.remove().await?;
        let second = Grafana::start(&image, &password, Some(&data)).await?;
        let client = second.wait_healthy(&password).await?;
        let (judgement, _) = client
            .judge_after(
                &before,
                removed_at,
                grafana::HEALTH_TIMEOUT,
                Some(&second.exec()),
            )
            .await?;
        eprintln!("after recreation: {judgement:?}");
        ensure!(
            judgement.verdict == Verdict::Survived,
            "after recreation: {judgement:?}"
        );
        second.remove().await
    })
    .await
}

/// NEGATIVE CONTROL: without a volume the database lives in the container's
/// own filesystem, which a restart keeps and a recreation throws away.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn container_filesystem_loses_the_dashboard_on_recreation_negative_control() -> Result<()> {
    within_test_timeout(async {
        let image = image().await?;
        let password = grafana::generate_password();

        let first = Grafana::start(&image, &password, None).await?;
        let client = first.wait_healthy(&password).await?;
        let seeded = client.seed(&SeedSpec::unique(PROMETHEUS_URL)).await?;
        let uids = seeded.uids();
        let before = client.snapshot(&uids, Some(&first.exec())).await?;

        // A restart of the same container keeps its filesystem.
        let killed_at = first.kill().await?;
        first.start_again().await?;
        let client = first.wait_healthy(&password).await?;
        let (judgement, _) = client
            .judge_after(
                &before,
                killed_at,
                grafana::HEALTH_TIMEOUT,
                Some(&first.exec()),
            )
            .await?;
        ensure!(
            judgement.verdict == Verdict::Survived,
            "a restart keeps the container's filesystem: {judgement:?}"
        );

        // A new container starts from the image: empty database. The same
        // password works again because it applies to an empty database.
        let removed_at = Instant::now();
        first.remove().await?;
        let second = Grafana::start(&image, &password, None).await?;
        let client = second.wait_healthy(&password).await?;
        let (judgement, after) = client
            .judge_after(
                &before,
                removed_at,
                grafana::HEALTH_TIMEOUT,
                Some(&second.exec()),
            )
            .await?;
        eprintln!("after recreation without a volume: {judgement:?}");
        ensure!(
            judgement.verdict
                == Verdict::Lost {
                    parts: vec![
                        Part::object(PartKind::Dashboard, &uids.dashboard),
                        Part::object(PartKind::Datasource, &uids.datasource),
                        Part::object(PartKind::Folder, &uids.folder),
                    ]
                },
            "the negative control must be judged Lost, naming what was lost: {judgement:?}"
        );
        // The new container has a database, just not ours.
        ensure!(
            matches!(after.db_file, DbFile::Present { .. }),
            "the fresh container should have its own grafana.db: {}",
            after.db_file
        );
        second.remove().await
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unwritable_data_dir_is_classified_permission_denied() -> Result<()> {
    within_test_timeout(async {
        let image = image().await?;
        let password = grafana::generate_password();
        let data = DataDir::not_writable_by_grafana(&image)?;

        let g = Grafana::start(&image, &password, Some(&data)).await?;
        let code = g.wait_exited(EXIT_TIMEOUT).await?;
        let log = g.logs().await?;
        let reasons = classify_log(&log);
        eprintln!("{} exited {code}; reasons {reasons:?}", g.name());
        ensure!(
            code != 0,
            "Grafana should fail on a data dir it cannot write; log:\n{log}"
        );
        ensure!(
            reasons.contains(&Reason::GrafanaPermissionDenied),
            "expected GrafanaPermissionDenied, got {reasons:?}; log:\n{}",
            harness::error::tail(&log, 3000)
        );
        g.remove().await
    })
    .await
}
