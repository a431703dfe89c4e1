//! Helpers shared by tier-1 tests: a run id per test, a labelled Docker
//! network the test owns (container-to-container traffic stays on it), and
//! the check that nothing labelled with the test's run id is left.

use anyhow::{Context as _, ensure};
use harness::cmd::Cmd;
use harness::config::{Config, Keep};
use harness::labels::{MANAGED_BY, OWNER, RUN_ID, unique_name};

/// A fresh run id (`e2e-run-xxxxxx`) for one test, so its leftover check
/// is not confused by tests running beside it.
pub fn run_id() -> String {
    unique_name("run")
}

/// Whether something a test made should be kept instead of removed when
/// its guard drops: E2E_KEEP says so for a panicking (failed) test or always.
pub fn keep_on_drop() -> bool {
    let keep = Config::from_lookup(|k| (k == "E2E_KEEP").then(|| std::env::var(k).ok()).flatten())
        .map_or(Keep::OnFailure, |c| c.keep);
    keep.keep(std::thread::panicking())
}

/// A Docker network created for one test, labelled with its run id.
/// Removed by [`TestNetwork::remove`], or on drop unless E2E_KEEP keeps it.
#[derive(Debug)]
pub struct TestNetwork {
    name: String,
    removed: bool,
}

impl TestNetwork {
    /// `docker network create` a labelled `e2e-net-xxxxxx`.
    pub async fn create(run_id: &str) -> anyhow::Result<Self> {
        let name = unique_name("net");
        Cmd::new("docker")
            .args([
                "network",
                "create",
                "--label",
                &format!("{MANAGED_BY}={OWNER}"),
                "--label",
                &format!("{RUN_ID}={run_id}"),
                &name,
            ])
            .run_async()
            .await?;
        Ok(Self {
            name,
            removed: false,
        })
    }

    /// The network name, for `with_network`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Remove the network (its containers must be gone first).
    pub async fn remove(mut self) -> anyhow::Result<()> {
        self.removed = true;
        Cmd::new("docker")
            .args(["network", "rm", self.name.as_str()])
            .run_async()
            .await?;
        Ok(())
    }
}

impl Drop for TestNetwork {
    fn drop(&mut self) {
        if self.removed {
            return;
        }
        if keep_on_drop() {
            eprintln!("keeping network {} (E2E_KEEP)", self.name);
            return;
        }
        if let Err(e) = Cmd::new("docker")
            .args(["network", "rm", self.name.as_str()])
            .run()
        {
            eprintln!(
                "could not remove network {} (make clean sweeps it): {e}",
                self.name
            );
        }
    }
}

/// Containers (running or not), networks and volumes labelled with `run_id`.
pub async fn leftovers(run_id: &str) -> anyhow::Result<Vec<String>> {
    let filter = format!("label={RUN_ID}={run_id}");
    let mut found = Vec::new();
    for (kind, args) in [
        ("container", vec!["ps", "-a", "--format", "{{.Names}}"]),
        ("network", vec!["network", "ls", "--format", "{{.Name}}"]),
        ("volume", vec!["volume", "ls", "--format", "{{.Name}}"]),
    ] {
        let out = Cmd::new("docker")
            .args(args)
            .args(["--filter", filter.as_str()])
            .run_async()
            .await
            .with_context(|| format!("listing {kind}s of run {run_id}"))?;
        found.extend(
            out.stdout
                .lines()
                .filter(|l| !l.trim().is_empty())
                .map(|l| format!("{kind} {l}")),
        );
    }
    Ok(found)
}

/// Fail unless no container, network or volume of `run_id` is left.
pub async fn assert_nothing_left(run_id: &str) -> anyhow::Result<()> {
    let left = leftovers(run_id).await?;
    ensure!(
        left.is_empty(),
        "run {run_id} left behind: {}",
        left.join(", ")
    );
    Ok(())
}
