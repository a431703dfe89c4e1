//! The client side: [`NfsClient`], a userspace libnfs client container on
//! the server's network that writes, reads and lists the export as any
//! uid/gid, and [`RunningNfs::client`], which starts one.

use testcontainers::core::WaitFor;
use testcontainers::{GenericImage, ImageExt as _};

use crate::docker::split_image;
use crate::error::{Error, Result};
use crate::exec::{DockerExec, Exec as _};
use crate::labels::{MANAGED_BY, OWNER, RUN_ID, unique_name};
use crate::nfs::cleanup::{Resources, start_container};
use crate::nfs::export::{export_subpath, nfs_url};
use crate::nfs::ownership::{Entry, Identity};
use crate::nfs::parse::{decode_od_hex, parse_nfs_ls};
use crate::nfs::server::RunningNfs;

impl RunningNfs {
    /// A userspace NFS client container on the server's network, targeting
    /// this server.
    ///
    /// # Errors
    /// As `NfsClient::start`.
    pub async fn client(&self) -> Result<NfsClient> {
        NfsClient::start(self).await
    }
}

/// A userspace NFS client (libnfs: nfs-cp, nfs-ls) in a container from the
/// server's image, on the server's Docker network. It reads and writes as
/// any uid/gid (AUTH_SYS, the ids go in the libnfs URL), which the kernel
/// client of this machine (there is none) could not do without root tricks.
/// It speaks NFSv4.0; kubelets mount 4.1 from the same export.
#[derive(Debug)]
pub struct NfsClient {
    server: String,
    resources: Resources,
}

impl NfsClient {
    /// Start a client container for `server` (same image, same network,
    /// same run label, no capabilities).
    ///
    /// # Errors
    /// [`Error::NotSupported`] when the server has no network of its own
    /// (container-to-container traffic stays on a network the test
    /// created), [`Error::Docker`] when the container cannot start.
    pub(crate) async fn start(server: &RunningNfs) -> Result<Self> {
        let Some(network) = server.network() else {
            return Err(Error::NotSupported {
                what: format!("an NFS client for {}", server.name()),
                why:
                    "the server is on no network of its own: start it with NfsServer::with_network"
                        .into(),
            });
        };
        let name = unique_name("nfsc");
        let (repo, tag) = split_image(server.image());
        let request = GenericImage::new(repo, tag)
            .with_entrypoint("sleep")
            .with_wait_for(WaitFor::Nothing)
            .with_cmd(["infinity"])
            .with_container_name(name.as_str())
            .with_label(MANAGED_BY, OWNER)
            .with_label(RUN_ID, server.run_id())
            .with_network(network)
            .with_cap_drop("ALL");
        eprintln!(
            "+ [testcontainers] run NFS client {name} on {network} for {}",
            server.name()
        );
        let container =
            start_container(request, &name, || format!("start NFS client {name}")).await?;
        let mut resources = Resources::new(name, None, server.keep(), "nfs client");
        resources.container = Some(container);
        Ok(Self {
            server: server.address().to_owned(),
            resources,
        })
    }

    /// The libnfs URL of `path` (relative to the export) as `who`.
    ///
    /// # Errors
    /// [`Error::Parse`] for a bad path.
    pub(crate) fn url(&self, path: &str, who: Identity) -> Result<String> {
        Ok(nfs_url(&self.server, &export_subpath(path)?, who))
    }

    /// Create `path` (relative to the export) over NFS as `who`, with
    /// `bytes` as its content. libnfs's nfs-cp creates exclusively: the
    /// file must not exist yet.
    ///
    /// # Errors
    /// [`Error::Command`] with libnfs's message, e.g. NFS4ERR_ACCESS when
    /// `who` may not write there, NFS4ERR_EXIST when the file exists.
    pub async fn write(&self, path: &str, who: Identity, bytes: &[u8]) -> Result<()> {
        let url = self.url(path, who)?;
        let script =
            r#"f=/tmp/w.$$; cat >"$f" && nfs-cp "$f" "$1" >&2; rc=$?; rm -f "$f"; exit $rc"#;
        self.exec()
            .exec_ok(&["sh", "-c", script, "sh", &url], Some(bytes))
            .await?;
        Ok(())
    }

    /// Read `path` (relative to the export) over NFS as `who`, byte for byte.
    ///
    /// # Errors
    /// [`Error::Command`] with libnfs's message; [`Error::Parse`] when the
    /// dump cannot be decoded.
    pub async fn read(&self, path: &str, who: Identity) -> Result<Vec<u8>> {
        let url = self.url(path, who)?;
        // od keeps the bytes intact through the text-only exec pipe.
        let script = r#"f=/tmp/r.$$; nfs-cp "$1" "$f" >&2 && od -An -v -tx1 "$f"; rc=$?; rm -f "$f"; exit $rc"#;
        let out = self
            .exec()
            .exec_ok(&["sh", "-c", script, "sh", &url], None)
            .await?;
        decode_od_hex(&out.stdout)
    }

    /// List `dir` (relative to the export, `""` for its root) over NFS as
    /// `who`: owners as the server reports them over the wire.
    ///
    /// # Errors
    /// [`Error::Command`] with libnfs's message; [`Error::Parse`] for
    /// output it cannot read.
    pub async fn list(&self, dir: &str, who: Identity) -> Result<Vec<Entry>> {
        let url = self.url(dir, who)?;
        let out = self.exec().exec_ok(&["nfs-ls", &url], None).await?;
        parse_nfs_ls(&out.stdout)
    }

    /// Remove the client container now (unless E2E_KEEP=always).
    ///
    /// # Errors
    /// [`Error::Docker`] when Docker refuses.
    pub async fn cleanup(mut self) -> Result<()> {
        self.resources.cleanup().await
    }

    fn exec(&self) -> DockerExec {
        self.resources.exec()
    }
}
