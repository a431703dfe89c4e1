//! Tier 1: the seed written before Prometheus starts (prometheus::prestart), the
//! way tier 2's init container writes it: the same script, in a one-shot
//! container of the same image, as the same user, with the history mounted
//! read-only at the same place.

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::time::Instant;

use anyhow::{Context as _, Result, ensure};
use harness::labels::unique_name;
use harness::prometheus::prestart::{self, KEY, MOUNT, NOTHING, WROTE};
use harness::prometheus::{DATA_DIR, History, is_ulid};

use crate::prom_support::{BindDir, PROMETHEUS_UID, Prom, one_shot};

/// Run the init container's script on `data`, with `seed` (a dir holding
/// [`KEY`]) at [`MOUNT`] when given, as Prometheus's user. Returns its output.
async fn run_prestart(data: &BindDir, seed: Option<&Path>) -> Result<String> {
    let mut mounts = vec![format!("{}:{DATA_DIR}", data.path().display())];
    if let Some(seed) = seed {
        mounts.push(format!("{}:{MOUNT}:ro", seed.display()));
    }
    let user = PROMETHEUS_UID.to_string();
    let script = prestart::script();
    let cmd = one_shot("promseed", &user, &mounts, &script, &["sh", DATA_DIR])?;
    let out = cmd.run_async().await?;
    Ok(format!("{}{}", out.stdout, out.stderr))
}

/// A directory holding `history` as the ConfigMap would, readable by uid 65534.
fn seed_dir(history: &History) -> Result<tempfile::TempDir> {
    let dir = tempfile::Builder::new().prefix("e2e-promdata-").tempdir()?;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))?;
    let file = dir.path().join(KEY);
    std::fs::write(&file, history.openmetrics()).with_context(|| file.display().to_string())?;
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644))?;
    Ok(dir)
}

/// The ULIDs in the data dir.
fn blocks(data: &BindDir) -> Result<Vec<String>> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(data.path())? {
        let name = entry?.file_name().to_string_lossy().into_owned();
        if is_ulid(&name) {
            found.push(name);
        }
    }
    Ok(found)
}

/// The seed is whole at the first answer after readiness: no block reload
/// (a minute) and no restart needed. The count is asked once, not waited for.
#[tokio::test]
async fn history_written_before_start_is_queryable_as_soon_as_prometheus_is_ready() -> Result<()> {
    let data = BindDir::writable()?;
    let history = History::new(unique_name("prestart"));
    let seed = seed_dir(&history)?;
    let started = Instant::now();
    let log = run_prestart(&data, Some(seed.path())).await?;
    let written_in = started.elapsed();
    ensure!(
        log.contains(WROTE),
        "the script did not say it wrote: {log}"
    );
    let written = blocks(&data)?;
    ensure!(
        !written.is_empty(),
        "no blocks in the data dir; script said: {log}"
    );

    let prom = Prom::start(&data.storage(), &[]).await?;
    let probe = prom.probe().await?;
    let ready_in = probe.wait_ready(Instant::now()).await?;
    let count = probe.marker_count(&history).await?;
    eprintln!(
        "prestart seed: {} blocks written in {:.1}s; Prometheus ready after {:.1}s; {count:?} of {} samples at the first query",
        written.len(),
        written_in.as_secs_f64(),
        ready_in.as_secs_f64(),
        history.samples()
    );
    ensure!(
        count == Some(history.samples()),
        "at readiness the seed should be whole: {count:?} of {} samples",
        history.samples()
    );
    prom.rm().await?;
    data.cleanup().await?;
    Ok(())
}

/// A later pod finds the optional ConfigMap volume empty: the script must
/// leave the data dir alone, or a replacement pod on an empty directory
/// would be re-seeded and the emptyDir negative control could not fail.
#[tokio::test]
async fn without_the_seed_file_the_script_writes_nothing() -> Result<()> {
    let data = BindDir::writable()?;
    let log = run_prestart(&data, None).await?;
    ensure!(log.contains(NOTHING), "the script should say so: {log}");
    let found = blocks(&data)?;
    ensure!(
        found.is_empty(),
        "blocks appeared without a seed: {found:?}"
    );
    let leftovers: Vec<_> = std::fs::read_dir(data.path())?.collect();
    ensure!(
        leftovers.is_empty(),
        "the data dir should be untouched, has {} entries",
        leftovers.len()
    );
    data.cleanup().await?;
    Ok(())
}
