//! Loop devices: the "attach" of this SAN. A loop device turns a volume's
//! image file into a block device that ext4 can be mounted from.
//!
//! Three facts of the machines this runs on shape the code:
//! - Loop devices are kernel-global. Every kind node of every cluster on
//!   the host (they are containers) shares one set, so the driver reads
//!   the kernel's view in `/sys/block/loop*` and never detaches a device
//!   it did not just unmount itself.
//! - Only /dev/loop0-7 exist at boot (`max_loop=8`). `losetup -f` asks
//!   /dev/loop-control for a free device (LOOP_CTL_GET_FREE), which
//!   creates loop8, loop9... in the kernel when all are busy; but inside a
//!   container /dev is a tmpfs populated when the container started, so the
//!   node for a device created later is missing there (`losetup -f` prints
//!   `/dev/loop9 (lost)`). The driver then creates it with mknod, from the
//!   `major:minor` sysfs reports.
//! - Two nodes may pick the same free device at the same moment; the
//!   loser's attach fails and it retries with the next free device.

use std::path::{Path, PathBuf};

use crate::cmd::Cmd;
use crate::error::{Error, Result};

/// Where sysfs is mounted.
pub const SYSFS: &str = "/sys";

/// A loop device that is bound to a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bound {
    /// `loop9`.
    pub name: String,
    /// The backing file as the kernel prints it: the path in the mount
    /// namespace that set the device up, with ` (deleted)` appended once
    /// the file is removed.
    pub backing_file: String,
    /// Whether the kernel frees the device on its last close.
    pub autoclear: bool,
    /// `major:minor`.
    pub device: (u32, u32),
}

impl Bound {
    /// `/dev/loop9`.
    pub fn dev_path(&self) -> PathBuf {
        dev_path(&self.name)
    }

    /// Whether the device is backed by `image` (or by `image` since deleted).
    pub fn is_backed_by(&self, image: &Path) -> bool {
        let b = self
            .backing_file
            .strip_suffix(" (deleted)")
            .unwrap_or(&self.backing_file);
        Path::new(b) == image
    }
}

/// `/dev/<name>`.
pub fn dev_path(name: &str) -> PathBuf {
    Path::new("/dev").join(name)
}

fn read_trimmed(path: &Path) -> Option<String> {
    std::fs::read_to_string(path)
        .ok()
        .map(|s| s.trim_end_matches('\n').to_owned())
}

fn parse_dev(text: &str) -> Option<(u32, u32)> {
    let (major, minor) = text.trim().split_once(':')?;
    Some((major.parse().ok()?, minor.parse().ok()?))
}

/// Every loop device the kernel has bound to a file, from sysfs rooted at
/// `sys`, sorted by name.
pub fn bound(sys: &Path) -> Vec<Bound> {
    let Ok(entries) = std::fs::read_dir(sys.join("block")) else {
        return Vec::new();
    };
    let mut found: Vec<Bound> = entries
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            if !name.starts_with("loop") {
                return None;
            }
            let dir = e.path();
            // `loop/backing_file` exists only while a file is bound.
            let backing_file = read_trimmed(&dir.join("loop/backing_file"))?;
            Some(Bound {
                autoclear: read_trimmed(&dir.join("loop/autoclear")).as_deref() == Some("1"),
                device: read_trimmed(&dir.join("dev"))
                    .as_deref()
                    .and_then(parse_dev)?,
                backing_file,
                name,
            })
        })
        .collect();
    found.sort_by(|a, b| a.name.cmp(&b.name));
    found
}

/// The loop devices bound to `image`.
pub fn backed_by(sys: &Path, image: &Path) -> Vec<Bound> {
    bound(sys)
        .into_iter()
        .filter(|b| b.is_backed_by(image))
        .collect()
}

/// The bound loop device with this `major:minor`, if it is one.
pub fn by_device(sys: &Path, device: (u32, u32)) -> Option<Bound> {
    bound(sys).into_iter().find(|b| b.device == device)
}

/// A loop device's size in bytes (sysfs counts 512-byte sectors).
pub fn size_bytes(sys: &Path, name: &str) -> Option<u64> {
    read_trimmed(&sys.join("block").join(name).join("size"))?
        .parse::<u64>()
        .ok()
        .map(|sectors| sectors * 512)
}

/// The device `losetup -f` names: the first word (`/dev/loop9 (lost)` when
/// the node is missing from this /dev).
pub fn parse_find_free(stdout: &str) -> Option<PathBuf> {
    let first = stdout.split_whitespace().next()?;
    first.starts_with("/dev/loop").then(|| PathBuf::from(first))
}

/// A free loop device, created in the kernel if none is free.
///
/// # Errors
/// [`Error::Command`] when losetup fails, [`Error::Internal`] when its
/// output is not a device.
pub async fn find_free() -> Result<PathBuf> {
    let cmd = Cmd::new("losetup").arg("-f");
    let out = cmd.run().await?;
    parse_find_free(&out)
        .ok_or_else(|| Error::Internal(format!("`{}` printed no loop device: {out:?}", cmd.argv())))
}

/// Make sure `/dev/loopN` exists in this container (see the module doc).
///
/// # Errors
/// [`Error::Internal`] when sysfs does not know the device,
/// [`Error::Command`] when mknod fails.
pub async fn ensure_node(sys: &Path, dev: &Path) -> Result<()> {
    if dev.exists() {
        return Ok(());
    }
    let name = dev
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let sys_dev = sys.join("block").join(&name).join("dev");
    let (major, minor) = read_trimmed(&sys_dev)
        .as_deref()
        .and_then(parse_dev)
        .ok_or_else(|| {
            Error::Internal(format!(
                "{} has no device number in {}",
                dev.display(),
                sys_dev.display()
            ))
        })?;
    let cmd = Cmd::new("mknod")
        .arg(dev)
        .arg("b")
        .arg(major.to_string())
        .arg(minor.to_string());
    let out = cmd.output().await?;
    // Another request of this process may have made it meanwhile.
    if out.success || dev.exists() {
        Ok(())
    } else {
        Err(cmd.failed(&out))
    }
}

/// Detach a loop device. The kernel only marks a device that is still open
/// elsewhere for autoclear (LOOP_CLR_FD on a busy device), so this never
/// pulls a device from under a filesystem that uses it.
///
/// # Errors
/// [`Error::Command`] when losetup fails.
pub async fn detach(dev: &Path) -> Result<()> {
    Cmd::new("losetup").arg("-d").arg(dev).run().await.map(drop)
}

/// Have the kernel re-read the backing file's size (after the controller
/// grew the image of an attached volume).
///
/// # Errors
/// [`Error::Command`] when losetup fails.
pub async fn refresh_capacity(dev: &Path) -> Result<()> {
    Cmd::new("losetup").arg("-c").arg(dev).run().await.map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fake sysfs with loop devices: (name, backing file or unbound, autoclear).
    fn fake_sysfs(devices: &[(&str, Option<&str>, bool)]) -> tempfile::TempDir {
        let sys = tempfile::tempdir().expect("tempdir");
        for (name, backing, autoclear) in devices {
            let dir = sys.path().join("block").join(name);
            std::fs::create_dir_all(dir.join("loop")).expect("mkdir");
            let minor: u32 = name.trim_start_matches("loop").parse().unwrap_or(0);
            std::fs::write(dir.join("dev"), format!("7:{minor}\n")).expect("dev");
            std::fs::write(dir.join("size"), "131072\n").expect("size");
            if let Some(b) = backing {
                std::fs::write(dir.join("loop/backing_file"), format!("{b}\n")).expect("backing");
                std::fs::write(
                    dir.join("loop/autoclear"),
                    if *autoclear { "1\n" } else { "0\n" },
                )
                .expect("autoclear");
            }
        }
        std::fs::create_dir_all(sys.path().join("block/vda")).expect("mkdir");
        sys
    }

    #[test]
    fn bound_devices_are_read_from_sysfs() {
        let sys = fake_sysfs(&[
            ("loop0", None, false),
            (
                "loop9",
                Some("/var/lib/storage-e2e-san/volumes/vol-1.img"),
                true,
            ),
            ("loop3", Some("/other.img (deleted)"), false),
        ]);
        let b = bound(sys.path());
        assert_eq!(b.len(), 2);
        assert_eq!(b[0].name, "loop3");
        assert_eq!(b[1].device, (7, 9));
        assert!(b[1].autoclear);
        assert_eq!(b[1].dev_path(), Path::new("/dev/loop9"));
        assert_eq!(size_bytes(sys.path(), "loop9"), Some(64 << 20));
        assert_eq!(
            by_device(sys.path(), (7, 3)).map(|b| b.name),
            Some("loop3".to_owned())
        );
        assert_eq!(by_device(sys.path(), (7, 0)), None, "unbound");
    }

    #[test]
    fn backing_files_match_also_once_deleted() {
        let image = Path::new("/san/volumes/vol-1.img");
        let sys = fake_sysfs(&[
            ("loop1", Some("/san/volumes/vol-1.img (deleted)"), true),
            ("loop2", Some("/san/volumes/vol-1.img"), true),
            ("loop4", Some("/san/volumes/vol-10.img"), true),
        ]);
        let names: Vec<String> = backed_by(sys.path(), image)
            .into_iter()
            .map(|b| b.name)
            .collect();
        assert_eq!(names, vec!["loop1".to_owned(), "loop2".into()]);
    }

    #[test]
    fn losetup_f_output_is_parsed_with_or_without_the_node() {
        assert_eq!(
            parse_find_free("/dev/loop3\n"),
            Some(PathBuf::from("/dev/loop3"))
        );
        assert_eq!(
            parse_find_free("/dev/loop9 (lost)\n"),
            Some(PathBuf::from("/dev/loop9"))
        );
        assert_eq!(parse_find_free(""), None);
        assert_eq!(
            parse_find_free("losetup: cannot find an unused loop device"),
            None
        );
    }

    #[tokio::test]
    async fn ensure_node_needs_a_device_number() {
        let sys = fake_sysfs(&[]);
        let e = ensure_node(sys.path(), Path::new("/nonexistent-dir/loop77")).await;
        assert!(matches!(e, Err(Error::Internal(_))), "{e:?}");
        // An existing path is left alone.
        assert!(ensure_node(sys.path(), Path::new("/")).await.is_ok());
    }
}
