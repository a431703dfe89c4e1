//! The SAN: a directory every node of the cluster sees at the same path,
//! holding the volumes, snapshots and the nodes that may attach them.
//!
//! ```text
//! <san>/volumes/<vol-id>.img    the volume's bytes (a sparse file)
//! <san>/volumes/<vol-id>.json   its metadata (VolumeRecord)
//! <san>/snapshots/<snap-id>.img + .json
//! <san>/nodes/<node-id>.json    written by each node plugin at start
//! ```
//!
//! A record's `.json` is its commit point: an image is complete before its
//! metadata is written, and metadata is removed before its image, so a
//! crash leaves at worst an orphan image that the next create or delete of
//! the same name overwrites or removes. Metadata is written to a temporary
//! file and renamed into place, so a reader on another node never sees half
//! a file. Only the controller (one process, one lock) changes volumes and
//! snapshots; node plugins only read them and write their own node record.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::access::AccessMode;
use crate::cmd::Cmd;
use crate::error::{Error, Result};
use crate::ids::{NodeId, SnapshotId, VolumeId};

/// The path every kind node mounts the SAN at (and the default `--san`).
pub const DEFAULT_ROOT: &str = "/var/lib/storage-e2e-san";

/// Where a volume's data came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// Restored from a snapshot.
    Snapshot(String),
    /// Cloned from a volume.
    Volume(String),
}

/// A node a volume is attached to (ControllerPublishVolume).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachment {
    /// The node.
    pub node_id: String,
    /// The access mode it was attached with.
    pub access_mode: AccessMode,
    /// Whether it was attached read-only.
    pub readonly: bool,
}

/// A volume's metadata.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VolumeRecord {
    /// `vol-...`.
    pub id: String,
    /// The CO's name for it (the idempotency key).
    pub name: String,
    /// The image's size.
    pub capacity_bytes: u64,
    /// The access modes it was created for.
    pub access_modes: Vec<AccessMode>,
    /// Where its data came from, if not empty.
    pub source: Option<Source>,
    /// The nodes it is attached to (at most one: single-node modes only).
    pub attachments: Vec<Attachment>,
    /// When it was created, nanoseconds since the epoch.
    pub created_unix_ns: u64,
}

impl VolumeRecord {
    /// The attachment to `node`, if any.
    pub fn attachment(&self, node: &str) -> Option<&Attachment> {
        self.attachments.iter().find(|a| a.node_id == node)
    }

    /// The nodes it is attached to, for messages.
    pub fn attached_nodes(&self) -> Vec<&str> {
        self.attachments
            .iter()
            .map(|a| a.node_id.as_str())
            .collect()
    }
}

/// A snapshot's metadata.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotRecord {
    /// `snap-...`.
    pub id: String,
    /// The CO's name for it (the idempotency key).
    pub name: String,
    /// The volume it was taken from.
    pub source_volume_id: String,
    /// The source volume's size when taken: the smallest volume it can
    /// be restored into.
    pub size_bytes: u64,
    /// When it was taken, nanoseconds since the epoch.
    pub created_unix_ns: u64,
}

/// A node plugin's record: its presence is what "the node exists" means
/// to ControllerPublishVolume.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeRecord {
    /// The node.
    pub node_id: String,
    /// When its plugin last started, nanoseconds since the epoch.
    pub registered_unix_ns: u64,
}

/// Nanoseconds since the epoch, now.
pub fn now_unix_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

/// An opened SAN directory.
#[derive(Debug, Clone)]
pub struct San {
    root: PathBuf,
}

const VOLUMES: &str = "volumes";
const SNAPSHOTS: &str = "snapshots";
const NODES: &str = "nodes";

/// Distinguishes temporary files of concurrent writers in one process.
static TMP_SEQ: AtomicU64 = AtomicU64::new(0);

fn tmp_path(path: &Path) -> PathBuf {
    let seq = TMP_SEQ.fetch_add(1, Ordering::Relaxed);
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".tmp-{}-{seq}", std::process::id()));
    path.with_file_name(name)
}

fn remove_if_present(path: &Path) -> Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(Error::io("remove", path)(e)),
        _ => Ok(()),
    }
}

impl San {
    /// Open the SAN at `root`, creating its subdirectories.
    ///
    /// The root is canonicalized: the kernel reports a loop device's
    /// backing file with symlinks resolved, and the node plugin compares
    /// those paths with its image paths.
    ///
    /// # Errors
    /// [`Error::Io`] when `root` does not exist or is not writable.
    pub fn open(root: &Path) -> Result<Self> {
        let root =
            std::fs::canonicalize(root).map_err(Error::io("open the SAN directory", root))?;
        for sub in [VOLUMES, SNAPSHOTS, NODES] {
            let dir = root.join(sub);
            std::fs::create_dir_all(&dir).map_err(Error::io("create", &dir))?;
        }
        Ok(Self { root })
    }

    /// The SAN directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// A volume's image file.
    pub fn volume_image(&self, id: &VolumeId) -> PathBuf {
        self.root.join(VOLUMES).join(format!("{id}.img"))
    }

    fn volume_meta(&self, id: &VolumeId) -> PathBuf {
        self.root.join(VOLUMES).join(format!("{id}.json"))
    }

    /// A snapshot's image file.
    pub fn snapshot_image(&self, id: &SnapshotId) -> PathBuf {
        self.root.join(SNAPSHOTS).join(format!("{id}.img"))
    }

    fn snapshot_meta(&self, id: &SnapshotId) -> PathBuf {
        self.root.join(SNAPSHOTS).join(format!("{id}.json"))
    }

    fn node_meta(&self, id: &NodeId) -> PathBuf {
        self.root.join(NODES).join(format!("{id}.json"))
    }

    /// A volume's metadata, `None` if it does not exist.
    ///
    /// # Errors
    /// [`Error::Io`], [`Error::Metadata`].
    pub fn volume(&self, id: &VolumeId) -> Result<Option<VolumeRecord>> {
        read_json(&self.volume_meta(id))
    }

    /// Write a volume's metadata (atomically).
    ///
    /// # Errors
    /// [`Error::Io`].
    pub fn put_volume(&self, record: &VolumeRecord) -> Result<()> {
        let id = VolumeId::parse(&record.id)
            .ok_or_else(|| Error::Internal(format!("bad volume id {:?}", record.id)))?;
        write_json(&self.volume_meta(&id), record)
    }

    /// Delete a volume: metadata first (the commit), then the image.
    ///
    /// # Errors
    /// [`Error::Io`].
    pub fn remove_volume(&self, id: &VolumeId) -> Result<()> {
        remove_if_present(&self.volume_meta(id))?;
        remove_if_present(&self.volume_image(id))
    }

    /// Every volume, sorted by id.
    ///
    /// # Errors
    /// [`Error::Io`], [`Error::Metadata`].
    pub fn volumes(&self) -> Result<Vec<VolumeRecord>> {
        list_json(&self.root.join(VOLUMES), |r: &VolumeRecord| r.id.clone())
    }

    /// A snapshot's metadata, `None` if it does not exist.
    ///
    /// # Errors
    /// [`Error::Io`], [`Error::Metadata`].
    pub fn snapshot(&self, id: &SnapshotId) -> Result<Option<SnapshotRecord>> {
        read_json(&self.snapshot_meta(id))
    }

    /// Write a snapshot's metadata (atomically).
    ///
    /// # Errors
    /// [`Error::Io`].
    pub fn put_snapshot(&self, record: &SnapshotRecord) -> Result<()> {
        let id = SnapshotId::parse(&record.id)
            .ok_or_else(|| Error::Internal(format!("bad snapshot id {:?}", record.id)))?;
        write_json(&self.snapshot_meta(&id), record)
    }

    /// Delete a snapshot: metadata first, then the image.
    ///
    /// # Errors
    /// [`Error::Io`].
    pub fn remove_snapshot(&self, id: &SnapshotId) -> Result<()> {
        remove_if_present(&self.snapshot_meta(id))?;
        remove_if_present(&self.snapshot_image(id))
    }

    /// Every snapshot, sorted by id.
    ///
    /// # Errors
    /// [`Error::Io`], [`Error::Metadata`].
    pub fn snapshots(&self) -> Result<Vec<SnapshotRecord>> {
        list_json(&self.root.join(SNAPSHOTS), |r: &SnapshotRecord| {
            r.id.clone()
        })
    }

    /// Record that a node plugin runs on `node` (at its start).
    ///
    /// # Errors
    /// [`Error::Io`].
    pub fn register_node(&self, node: &NodeId) -> Result<()> {
        write_json(
            &self.node_meta(node),
            &NodeRecord {
                node_id: node.to_string(),
                registered_unix_ns: now_unix_ns(),
            },
        )
    }

    /// Whether a node plugin has ever run on `node`.
    pub fn node_exists(&self, node: &NodeId) -> bool {
        self.node_meta(node).is_file()
    }

    /// Bytes an unprivileged writer may still allocate on the SAN's
    /// filesystem: what a new volume competes for.
    ///
    /// # Errors
    /// [`Error::Io`] when statvfs fails.
    pub fn free_bytes(&self) -> Result<u64> {
        let st = rustix::fs::statvfs(&self.root)
            .map_err(|e| Error::io("statvfs", &self.root)(e.into()))?;
        Ok(st.f_bavail.saturating_mul(st.f_frsize))
    }

    /// Refuse a size the SAN's filesystem cannot hold.
    ///
    /// Images are sparse, so this is stricter than the bytes written; but
    /// a volume promises its full size, and a SAN that overcommits turns
    /// "volume full" into "every volume broken" (ENOSPC under a filesystem
    /// that believes it has room).
    ///
    /// # Errors
    /// [`Error::ResourceExhausted`] naming the SAN, the size and the free bytes.
    pub fn ensure_room(&self, bytes: u64, what: &str) -> Result<()> {
        let free = self.free_bytes()?;
        if bytes > free {
            return Err(Error::ResourceExhausted(format!(
                "{what} needs {bytes} bytes but the SAN directory {} has {free} bytes free",
                self.root.display()
            )));
        }
        Ok(())
    }

    /// Write a new sparse image of `size` bytes at `path`.
    ///
    /// # Errors
    /// [`Error::Io`].
    pub fn create_image(&self, path: &Path, size: u64) -> Result<()> {
        let tmp = tmp_path(path);
        let made = std::fs::File::create(&tmp)
            .map_err(Error::io("create", &tmp))
            .and_then(|f| f.set_len(size).map_err(Error::io("size", &tmp)))
            .and_then(|()| {
                std::fs::rename(&tmp, path).map_err(Error::io("rename into place", path))
            });
        if made.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        made
    }

    /// Copy an image, keeping holes (`cp --sparse=always`: a 1 GiB volume
    /// holding 10 MiB copies as 10 MiB), then grow the copy to `size`.
    ///
    /// # Errors
    /// [`Error::Command`] when cp fails, [`Error::Io`].
    pub async fn copy_image(&self, from: &Path, to: &Path, size: u64) -> Result<()> {
        let tmp = tmp_path(to);
        let made = async {
            Cmd::new("cp")
                .arg("--sparse=always")
                .arg(from)
                .arg(&tmp)
                .run()
                .await?;
            grow_image(&tmp, size)?;
            std::fs::rename(&tmp, to).map_err(Error::io("rename into place", to))
        }
        .await;
        if made.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        made
    }
}

/// Grow an image file to `size` (a no-op if it is that big already; images
/// never shrink). The new bytes are a hole: zeros that take no space.
///
/// # Errors
/// [`Error::Io`].
pub fn grow_image(path: &Path, size: u64) -> Result<()> {
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(Error::io("open", path))?;
    let now = f.metadata().map_err(Error::io("stat", path))?.len();
    if size > now {
        f.set_len(size).map_err(Error::io("grow", path))?;
    }
    Ok(())
}

fn read_json<T: DeserializeOwned>(path: &Path) -> Result<Option<T>> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|source| Error::Metadata {
                path: path.to_owned(),
                source,
            }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io("read", path)(e)),
    }
}

fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    use std::io::Write as _;
    let tmp = tmp_path(path);
    let mut bytes = serde_json::to_vec_pretty(value).map_err(|source| Error::Metadata {
        path: path.to_owned(),
        source,
    })?;
    bytes.push(b'\n');
    let written = std::fs::File::create(&tmp)
        .and_then(|mut f| {
            f.write_all(&bytes)?;
            f.sync_all()
        })
        .map_err(Error::io("write", &tmp))
        .and_then(|()| std::fs::rename(&tmp, path).map_err(Error::io("rename into place", path)));
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

fn list_json<T: DeserializeOwned>(dir: &Path, id: impl Fn(&T) -> String) -> Result<Vec<T>> {
    let mut records = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(Error::io("list", dir))? {
        let path = entry.map_err(Error::io("list", dir))?.path();
        // Temporary files end in .tmp-<pid>-<n>, not .json.
        if path.extension().is_some_and(|e| e == "json")
            && let Some(r) = read_json(&path)?
        {
            records.push(r);
        }
    }
    records.sort_by_key(|r| id(r));
    Ok(records)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn san() -> (tempfile::TempDir, San) {
        let dir = tempfile::tempdir().expect("tempdir");
        let san = San::open(dir.path()).expect("open");
        (dir, san)
    }

    fn volume(name: &str) -> VolumeRecord {
        VolumeRecord {
            id: VolumeId::for_name(name).to_string(),
            name: name.into(),
            capacity_bytes: 64 << 20,
            access_modes: vec![AccessMode::SingleNodeWriter],
            source: Some(Source::Snapshot("snap-0123456789abcdef".into())),
            attachments: vec![Attachment {
                node_id: "kind-worker".into(),
                access_mode: AccessMode::SingleNodeWriter,
                readonly: false,
            }],
            created_unix_ns: 1,
        }
    }

    #[test]
    fn metadata_round_trips_and_lists_sorted() {
        let (_dir, san) = san();
        let (a, b) = (volume("a"), volume("b"));
        san.put_volume(&a).expect("put");
        san.put_volume(&b).expect("put");
        let id = VolumeId::for_name("a");
        assert_eq!(san.volume(&id).expect("read"), Some(a.clone()));
        let listed = san.volumes().expect("list");
        let mut want = vec![a, b];
        want.sort_by(|x, y| x.id.cmp(&y.id));
        assert_eq!(listed, want);
        // No temporary file is left behind.
        let names: Vec<_> = std::fs::read_dir(san.root().join(VOLUMES))
            .expect("ls")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(names.len(), 2, "{names:?}");
    }

    #[test]
    fn the_json_is_what_another_tool_can_read() {
        let (_dir, san) = san();
        san.put_volume(&volume("a")).expect("put");
        let text = std::fs::read_to_string(
            san.root()
                .join(VOLUMES)
                .join(format!("{}.json", VolumeId::for_name("a"))),
        )
        .expect("read");
        let v: serde_json::Value = serde_json::from_str(&text).expect("json");
        assert_eq!(v["name"], "a");
        assert_eq!(v["attachments"][0]["access_mode"], "SINGLE_NODE_WRITER");
        assert_eq!(v["source"]["snapshot"], "snap-0123456789abcdef");
    }

    #[test]
    fn missing_records_are_none_and_removal_is_idempotent() {
        let (_dir, san) = san();
        let id = VolumeId::for_name("gone");
        assert_eq!(san.volume(&id).expect("read"), None);
        san.remove_volume(&id).expect("remove nothing");
        san.put_volume(&volume("gone")).expect("put");
        san.create_image(&san.volume_image(&id), 1 << 20)
            .expect("image");
        san.remove_volume(&id).expect("remove");
        assert!(!san.volume_image(&id).exists());
        san.remove_volume(&id).expect("remove again");
    }

    #[test]
    fn snapshots_and_nodes_round_trip() {
        let (_dir, san) = san();
        let snap = SnapshotRecord {
            id: SnapshotId::for_name("s").to_string(),
            name: "s".into(),
            source_volume_id: VolumeId::for_name("a").to_string(),
            size_bytes: 1 << 20,
            created_unix_ns: 5,
        };
        san.put_snapshot(&snap).expect("put");
        assert_eq!(san.snapshots().expect("list"), vec![snap]);
        let node = NodeId::parse("kind-worker").expect("node");
        assert!(!san.node_exists(&node));
        san.register_node(&node).expect("register");
        assert!(san.node_exists(&node));
    }

    #[test]
    fn a_corrupt_record_names_its_file() {
        let (_dir, san) = san();
        let id = VolumeId::for_name("x");
        std::fs::write(san.root().join(VOLUMES).join(format!("{id}.json")), "{").expect("write");
        let e = san.volume(&id).expect_err("corrupt");
        assert!(e.chain().contains(&format!("{id}.json")), "{}", e.chain());
    }

    #[test]
    fn images_are_sparse_and_only_grow() {
        let (_dir, san) = san();
        let path = san.root().join("x.img");
        san.create_image(&path, 64 << 20).expect("create");
        let meta = std::fs::metadata(&path).expect("stat");
        assert_eq!(meta.len(), 64 << 20);
        grow_image(&path, 32 << 20).expect("no shrink");
        assert_eq!(std::fs::metadata(&path).expect("stat").len(), 64 << 20);
        grow_image(&path, 128 << 20).expect("grow");
        assert_eq!(std::fs::metadata(&path).expect("stat").len(), 128 << 20);
    }

    #[test]
    fn room_is_checked_against_free_bytes() {
        let (_dir, san) = san();
        assert!(san.ensure_room(1, "a volume").is_ok());
        let e = san
            .ensure_room(u64::MAX, "a volume of 16 EiB")
            .expect_err("too big");
        assert!(matches!(e, Error::ResourceExhausted(_)));
        assert!(
            e.to_string().contains(&san.root().display().to_string()),
            "{e}"
        );
    }

    #[tokio::test]
    async fn copies_keep_content_and_grow() {
        let (_dir, san) = san();
        let from = san.root().join("from.img");
        std::fs::write(&from, b"hello").expect("write");
        let to = san.root().join("to.img");
        san.copy_image(&from, &to, 4096).await.expect("copy");
        let bytes = std::fs::read(&to).expect("read");
        assert_eq!(bytes.len(), 4096);
        assert_eq!(&bytes[..5], b"hello");
        let e = san.copy_image(&san.root().join("nope.img"), &to, 1).await;
        assert!(matches!(e, Err(Error::Command { .. })), "{e:?}");
    }
}
