//! The kubeconfig of a harness-made cluster lives in its own temp dir
//! (mode 0700) as a file of mode 0600, and the `kube::Client` is built from
//! that file alone. `kube::Config::infer()` is never used: it would read
//! KUBECONFIG or `~/.kube/config`, the user's clusters.

use std::io::Write as _;
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use kube::config::{KubeConfigOptions, Kubeconfig};

use crate::error::{Error, Result};

/// File name of the kubeconfig inside its temp dir.
pub(crate) const FILE_NAME: &str = "kubeconfig";
/// Prefix of the temp dir (`$TMPDIR/e2e-kube-XXXXXX`), recognisable by the sweep.
pub(crate) const DIR_PREFIX: &str = "e2e-kube-";

/// A private temp dir holding one cluster's kubeconfig (and the generated
/// cluster config, reaper markers, image archives). Removed on drop unless
/// [`KubeconfigDir::keep`] is called (kept clusters need it for inspection).
#[derive(Debug)]
pub(crate) struct KubeconfigDir {
    dir: tempfile::TempDir,
}

impl KubeconfigDir {
    /// Create `$TMPDIR/e2e-kube-XXXXXX` with mode 0700.
    ///
    /// # Errors
    /// [`Error::Io`] when the temp dir cannot be created.
    pub(crate) fn new() -> Result<Self> {
        let dir = tempfile::Builder::new()
            .prefix(DIR_PREFIX)
            .tempdir()
            .map_err(|e| Error::io("creating the kubeconfig temp dir", std::env::temp_dir(), e))?;
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700))
            .map_err(|e| Error::io("restricting the kubeconfig temp dir", dir.path(), e))?;
        Ok(Self { dir })
    }

    /// The temp dir.
    pub(crate) fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The kubeconfig file inside it (may not exist yet).
    pub(crate) fn kubeconfig(&self) -> PathBuf {
        self.dir.path().join(FILE_NAME)
    }

    /// Write `text` as the kubeconfig, mode 0600, after pointing a server
    /// published on all interfaces at loopback (see [`loopback_server`]).
    ///
    /// # Errors
    /// [`Error::Io`] when the file cannot be written.
    pub(crate) fn write(&self, text: &str) -> Result<PathBuf> {
        let path = self.kubeconfig();
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&path)
            .map_err(|e| Error::io("writing the kubeconfig", &path, e))?;
        f.write_all(loopback_server(text).as_bytes())
            .map_err(|e| Error::io("writing the kubeconfig", &path, e))?;
        self.restrict()?;
        Ok(path)
    }

    /// Force mode 0600 on the kubeconfig a tool (kind) wrote itself.
    ///
    /// # Errors
    /// [`Error::Io`] when the file is missing or cannot be changed.
    pub(crate) fn restrict(&self) -> Result<()> {
        let path = self.kubeconfig();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
            .map_err(|e| Error::io("restricting the kubeconfig to mode 0600", &path, e))
    }

    /// Stop the dir from being removed on drop; returns its path.
    pub(crate) fn keep(self) -> PathBuf {
        self.dir.keep()
    }
}

/// The permission bits of `path` (e.g. `0o600`).
///
/// # Errors
/// [`Error::Io`] when it cannot be read.
#[cfg(test)]
pub(crate) fn mode(path: &Path) -> Result<u32> {
    std::fs::metadata(path)
        .map(|m| m.permissions().mode() & 0o777)
        .map_err(|e| Error::io("reading the mode of", path, e))
}

/// Rewrite `server: https://0.0.0.0:<port>` to `https://127.0.0.1:<port>`:
/// the harness reaches published ports on loopback only (BRIEF network rule).
pub(crate) fn loopback_server(text: &str) -> String {
    text.replace("https://0.0.0.0:", "https://127.0.0.1:")
}

/// A client for the cluster in the kubeconfig at `path`, using its current
/// context. Reads only that file.
///
/// Build one per tokio runtime: a `kube::Client` runs a buffer task on the
/// runtime it was made in and stops working when that runtime ends (each
/// `#[tokio::test]` has its own).
///
/// # Errors
/// [`Error::Kube`] when the file cannot be read or gives no usable config.
pub(crate) async fn client(path: &Path) -> Result<kube::Client> {
    client_for(config(path).await?, path)
}

/// The client configuration in the kubeconfig at `path` (its current
/// context), e.g. to name the server URL in errors.
///
/// # Errors
/// [`Error::Kube`] naming the file, with kube's reason (which YAML error
/// at which line, which field is missing) as its cause.
pub(crate) async fn config(path: &Path) -> Result<kube::Config> {
    let action = || format!("load kubeconfig {}", path.display());
    let kc = Kubeconfig::read_from(path).map_err(|e| Error::kube(action(), e.into()))?;
    kube::Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
        .await
        .map_err(|e| Error::kube(action(), e.into()))
}

/// A client for `cfg`, read from the kubeconfig at `path`.
///
/// # Errors
/// [`Error::Kube`] when kube cannot build one (e.g. unusable TLS settings).
pub(crate) fn client_for(cfg: kube::Config, path: &Path) -> Result<kube::Client> {
    kube::Client::try_from(cfg)
        .map_err(|e| Error::kube(format!("build a client from {}", path.display()), e))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "apiVersion: v1
kind: Config
clusters:
- cluster:
    server: https://0.0.0.0:41233
    insecure-skip-tls-verify: true
  name: k3d-e2e-x
contexts:
- context:
    cluster: k3d-e2e-x
    user: admin@k3d-e2e-x
  name: k3d-e2e-x
current-context: k3d-e2e-x
users:
- name: admin@k3d-e2e-x
  user:
    token: not-a-secret
";

    #[test]
    fn kubeconfig_is_private_and_never_under_the_users_kube_dir() {
        let d = KubeconfigDir::new().unwrap_or_else(|e| panic!("{e}"));
        let path = d.write(SAMPLE).unwrap_or_else(|e| panic!("{e}"));
        assert!(path.starts_with(std::env::temp_dir()), "{}", path.display());
        assert!(path.starts_with(d.dir()));
        let name = d
            .dir()
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        assert!(name.starts_with(DIR_PREFIX), "{name}");
        if let Some(home) = std::env::var_os("HOME") {
            assert!(
                !path.starts_with(Path::new(&home).join(".kube")),
                "{}",
                path.display()
            );
        }
        assert_eq!(mode(&path).ok(), Some(0o600));
        assert_eq!(mode(d.dir()).ok(), Some(0o700));
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(text.contains("server: https://127.0.0.1:41233"), "{text}");

        // A tool that wrote the file world-readable gets it restricted.
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644))
            .unwrap_or_else(|e| panic!("{e}"));
        d.restrict().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(mode(&path).ok(), Some(0o600));

        let dir = d.dir().to_path_buf();
        drop(d);
        assert!(!dir.exists(), "the temp dir is removed with its guard");
    }

    #[tokio::test]
    async fn the_client_comes_from_that_file_only() {
        let d = KubeconfigDir::new().unwrap_or_else(|e| panic!("{e}"));
        let path = d.write(SAMPLE).unwrap_or_else(|e| panic!("{e}"));
        // Building a client does not contact the server; it proves the file
        // alone (not ~/.kube/config) is a complete configuration.
        let c = client(&path).await;
        assert!(c.is_ok(), "{:?}", c.err());
        match client(&d.dir().join("missing")).await {
            Ok(_) => panic!("no file, no client"),
            Err(e) => assert!(e.to_string().contains("load kubeconfig"), "{e}"),
        }
    }

    /// A kubeconfig that is not YAML: the one line names the file and
    /// which YAML error at which line, not just "load kubeconfig".
    #[tokio::test]
    async fn a_kubeconfig_that_is_not_yaml_says_where_it_breaks() {
        let d = KubeconfigDir::new().unwrap_or_else(|e| panic!("{e}"));
        let path = d
            .write("apiVersion: v1\nclusters: [unclosed\n")
            .unwrap_or_else(|e| panic!("{e}"));
        let e = config(&path).await.expect_err("not YAML");
        let line = crate::error::chain(&e).replace(&path.display().to_string(), "<path>");
        assert_eq!(
            line,
            "kubernetes API: load kubeconfig <path>: Failed to infer provided configuration: \
             failed to parse kubeconfig YAML: error: line 2 column 11: unclosed bracket '['"
        );
    }
}
