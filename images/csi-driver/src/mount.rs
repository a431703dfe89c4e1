//! Mounts: what is mounted where (read from `/proc/self/mountinfo`, the
//! kernel's own table, so the answer is right after a plugin restart or a
//! crash half-way through an operation), and the mount/umount commands.
//!
//! mountinfo rather than `/proc/mounts` because it carries each mount's
//! device number: a staging mount and the bind mounts published from it
//! share one, which is how the driver tells which targets use a volume.

use std::path::{Path, PathBuf};

use crate::cmd::Cmd;
use crate::error::{Error, Result};

/// One line of mountinfo (proc(5)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    /// `major:minor` of the mounted device.
    pub device: (u32, u32),
    /// The directory of the filesystem that is mounted (`/` for a whole
    /// filesystem, a subdirectory for some bind mounts).
    pub root: String,
    /// Where it is mounted.
    pub mount_point: PathBuf,
    /// Per-mount options (`rw`/`ro`, `relatime`...).
    pub options: String,
    /// Filesystem type.
    pub fs_type: String,
    /// Mount source (`/dev/loop3`).
    pub source: String,
}

impl Mount {
    /// Whether this mount is read-only.
    pub fn read_only(&self) -> bool {
        self.options.split(',').any(|o| o == "ro")
    }
}

/// Undo mountinfo's octal escapes (`\040` for a space, and so on).
fn unescape(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\'
            && i + 3 < bytes.len()
            && bytes[i + 1..i + 4]
                .iter()
                .all(|b| (b'0'..=b'7').contains(b))
        {
            let v = (bytes[i + 1] - b'0') * 64 + (bytes[i + 2] - b'0') * 8 + (bytes[i + 3] - b'0');
            out.push(v);
            i += 4;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn parse_line(line: &str) -> Option<Mount> {
    let mut fields = line.split(' ');
    let _mount_id = fields.next()?;
    let _parent_id = fields.next()?;
    let (major, minor) = fields.next()?.split_once(':')?;
    let device = (major.parse().ok()?, minor.parse().ok()?);
    let root = unescape(fields.next()?);
    let mount_point = PathBuf::from(unescape(fields.next()?));
    let options = fields.next()?.to_owned();
    // Optional fields (shared:N, master:N...) end at a lone "-".
    fields.by_ref().find(|f| *f == "-")?;
    let fs_type = fields.next()?.to_owned();
    let source = unescape(fields.next()?);
    Some(Mount {
        device,
        root,
        mount_point,
        options,
        fs_type,
        source,
    })
}

/// Parse mountinfo text; lines that do not parse are skipped.
pub fn parse(text: &str) -> Vec<Mount> {
    text.lines().filter_map(parse_line).collect()
}

/// The mount table of this process's mount namespace.
///
/// # Errors
/// [`Error::Io`] when mountinfo cannot be read.
pub fn table() -> Result<Vec<Mount>> {
    let path = "/proc/self/mountinfo";
    std::fs::read_to_string(path)
        .map(|t| parse(&t))
        .map_err(Error::io("read", path))
}

/// The mount visible at `path` (the last one mounted there: mounts stack).
pub fn at<'a>(table: &'a [Mount], path: &Path) -> Option<&'a Mount> {
    table.iter().rev().find(|m| m.mount_point == path)
}

/// Other mount points of `device` than those in `except`.
pub fn others_of(table: &[Mount], device: (u32, u32), except: &[&Path]) -> Vec<PathBuf> {
    table
        .iter()
        .filter(|m| m.device == device && !except.contains(&m.mount_point.as_path()))
        .map(|m| m.mount_point.clone())
        .collect()
}

/// A path in the form mountinfo uses: absolute, symlinks resolved (the
/// kubelet's directories may sit behind a symlinked /var/lib/kubelet).
///
/// # Errors
/// [`Error::Io`] when the path does not exist.
pub fn canonical(path: &Path) -> Result<PathBuf> {
    std::fs::canonicalize(path).map_err(Error::io("resolve", path))
}

/// Mount the ext4 image `image` at `target` through the loop device
/// `device`.
///
/// `-o loop=<device>` has mount(8) set the device up itself, and util-linux
/// sets LO_FLAGS_AUTOCLEAR on loop devices it sets up for a mount: the
/// kernel frees the device when the filesystem is unmounted, including the
/// implicit unmount when a kind node container stops and its mount
/// namespace dies. That is what keeps node-stop disruptions from leaking
/// loop devices (the harness promises none are left after a run).
///
/// # Errors
/// [`Error::Command`] when mount fails (a race for the device among them).
pub async fn mount_loop_ext4(
    image: &Path,
    device: &Path,
    target: &Path,
    flags: &[String],
) -> Result<()> {
    let mut options = format!("loop={}", device.display());
    for f in flags {
        options.push(',');
        options.push_str(f);
    }
    Cmd::new("mount")
        .args(["-t", "ext4", "-o"])
        .arg(options)
        .arg(image)
        .arg(target)
        .run()
        .await
        .map(drop)
}

/// Bind-mount `source` at `target`, read-only if asked.
///
/// Two steps, as the kubelet's mount library does it: a bind mount takes
/// the source's flags, and only a remount changes them.
///
/// # Errors
/// [`Error::Command`] when either mount fails.
pub async fn bind(source: &Path, target: &Path, read_only: bool) -> Result<()> {
    Cmd::new("mount")
        .arg("--bind")
        .arg(source)
        .arg(target)
        .run()
        .await?;
    if read_only {
        let remount = Cmd::new("mount")
            .args(["-o", "remount,bind,ro"])
            .arg(target)
            .run()
            .await;
        if let Err(e) = remount {
            // Never leave a writable mount where a read-only one was asked for.
            let _ = unmount(target).await;
            return Err(e);
        }
    }
    Ok(())
}

/// Unmount whatever is mounted at `target`, until nothing is (a repeated
/// publish of a buggy CO may have stacked mounts).
///
/// # Errors
/// [`Error::Command`] when umount fails, [`Error::Io`] when the mount table
/// cannot be read.
pub async fn unmount(target: &Path) -> Result<()> {
    for _ in 0..8 {
        if at(&table()?, target).is_none() {
            return Ok(());
        }
        Cmd::new("umount").arg(target).run().await?;
    }
    Err(Error::FailedPrecondition(format!(
        "{} is still a mount point after 8 unmounts",
        target.display()
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "\
22 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw
631 22 7:9 / /var/lib/kubelet/plugins/kubernetes.io/csi/loop.csi.storage-e2e.test/abc/globalmount rw,relatime shared:300 - ext4 /dev/loop9 rw
640 22 7:9 / /var/lib/kubelet/pods/p1/volumes/kubernetes.io~csi/pvc-1/mount ro,relatime shared:300 - ext4 /dev/loop9 rw
650 22 0:52 / /tmp/a\\040b rw - tmpfs tmpfs rw,size=1024k
660 22 254:0 /san /var/lib/storage-e2e-san rw,relatime master:1 - ext4 /dev/vda rw
garbage line
";

    #[test]
    fn mountinfo_lines_parse_with_optional_fields_and_escapes() {
        let t = parse(SAMPLE);
        assert_eq!(t.len(), 5);
        assert_eq!(t[1].device, (7, 9));
        assert_eq!(t[1].source, "/dev/loop9");
        assert_eq!(t[1].fs_type, "ext4");
        assert!(!t[1].read_only());
        assert!(t[2].read_only());
        assert_eq!(t[3].mount_point, Path::new("/tmp/a b"));
        assert_eq!(t[4].root, "/san");
    }

    #[test]
    fn the_last_mount_at_a_path_is_the_visible_one() {
        let mut t = parse(SAMPLE);
        let mut over = t[3].clone();
        over.device = (0, 99);
        t.push(over);
        assert_eq!(
            at(&t, Path::new("/tmp/a b")).map(|m| m.device),
            Some((0, 99))
        );
        assert_eq!(at(&t, Path::new("/nowhere")), None);
    }

    #[test]
    fn other_users_of_a_device_are_found() {
        let t = parse(SAMPLE);
        let staging = t[1].mount_point.clone();
        let others = others_of(&t, (7, 9), &[staging.as_path()]);
        assert_eq!(others, vec![t[2].mount_point.clone()]);
        assert!(others_of(&t, (7, 9), &[staging.as_path(), t[2].mount_point.as_path()]).is_empty());
    }

    #[test]
    fn unescape_leaves_plain_backslashes() {
        assert_eq!(unescape("a\\040b\\134c"), "a b\\c");
        assert_eq!(unescape("a\\9"), "a\\9");
        assert_eq!(unescape("end\\04"), "end\\04");
    }
}
