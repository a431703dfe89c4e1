//! The run's one NFS server, shared by the cells of a tier-2 run.

use tokio::sync::Mutex;

use super::server::RunningNfs;
use crate::disrupt::Restartable;
use crate::error::{Error, Result};

/// The run's NFS server, restartable by the nfs-restart cell while the
/// other cells read its address.
pub struct SharedNfs {
    server: Mutex<Option<RunningNfs>>,
    address: String,
    export_path: String,
}

impl SharedNfs {
    /// Share `server` between the cells of a run.
    pub fn new(server: RunningNfs) -> Self {
        Self {
            address: server.address().to_owned(),
            export_path: server.export_path().to_owned(),
            server: Mutex::new(Some(server)),
        }
    }

    /// Remove the server and its export volume, or keep them (printing how
    /// they go away later) when `keep`.
    ///
    /// # Errors
    /// As [`RunningNfs::cleanup`].
    pub async fn finish(&self, keep: bool) -> Result<()> {
        let Some(server) = self.server.lock().await.take() else {
            return Ok(());
        };
        if keep {
            eprintln!(
                "storage-e2e: keeping NFS server {} (E2E_KEEP); `make clean` removes it",
                server.name()
            );
            // Its Drop would remove it: the labels let `make clean` find it.
            std::mem::forget(server);
            return Ok(());
        }
        server.cleanup().await
    }

    /// Its IP on the cluster's Docker network (what kubelets mount).
    pub(crate) fn address(&self) -> &str {
        &self.address
    }

    /// The exported path.
    pub(crate) fn export_path(&self) -> &str {
        &self.export_path
    }

    /// Create `sub` in the export, owned by `uid:gid` with `mode`.
    ///
    /// # Errors
    /// As [`RunningNfs::create_dir`].
    pub async fn create_dir(&self, sub: &str, uid: u32, gid: u32, mode: u32) -> Result<String> {
        let guard = self.server.lock().await;
        guard
            .as_ref()
            .ok_or_else(gone)?
            .create_dir(sub, uid, gid, mode)
            .await
    }

    /// `ls -ln`-like listing of `sub` (numeric owners), for failure artifacts.
    ///
    /// # Errors
    /// As [`RunningNfs::list`].
    pub async fn listing(&self, sub: &str) -> Result<String> {
        let guard = self.server.lock().await;
        let entries = guard.as_ref().ok_or_else(gone)?.list(sub).await?;
        Ok(entries
            .iter()
            .map(|e| {
                let slash = if e.is_dir { "/" } else { "" };
                format!(
                    "{:o} {}:{} {:>10} {}{slash}",
                    e.mode, e.uid, e.gid, e.size, e.name
                )
            })
            .collect::<Vec<_>>()
            .join("\n"))
    }
}

fn gone() -> Error {
    Error::Cannot {
        action: "use the NFS server".into(),
        why: "it was already cleaned up".into(),
    }
}

#[async_trait::async_trait]
impl Restartable for SharedNfs {
    async fn restart(&self) -> Result<()> {
        let mut guard = self.server.lock().await;
        let server = guard.as_mut().ok_or_else(gone)?;
        server.restart().await.map(|_| ())
    }
}
