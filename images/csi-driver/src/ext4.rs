//! The ext4 filesystem on a volume: is there one, format it, grow it.
//!
//! Growing has two paths, because online growth (resize2fs on a mounted
//! filesystem) goes through the EXT4_IOC_RESIZE_FS ioctl, and the kernel's
//! `ext4_resize_begin` (fs/ext4/resize.c) refuses it with EPERM without
//! CAP_SYS_RESOURCE. Some hosts (the machines this driver was written on
//! among them: even root on the host lacks it) run Docker without that
//! capability in its bounding set, so no container, privileged or not,
//! has it. Offline growth (resize2fs on the
//! unmounted image) needs no capability at all, so a volume that grew
//! while detached (an expansion while detached, a restore into a bigger
//! claim) is grown offline before it is mounted, and online expansion is
//! advertised only where it can work.

use std::io::Read as _;
use std::path::Path;

use crate::cmd::Cmd;
use crate::error::{Error, Result};

/// Where the primary superblock starts.
pub const SUPERBLOCK_OFFSET: u64 = 1024;
/// How much of the superblock [`Superblock::parse`] reads.
pub const SUPERBLOCK_LEN: usize = 1024;
/// `s_magic` (at 0x38 in the superblock, so byte 1080 of the device).
pub const MAGIC: u16 = 0xEF53;
const MAGIC_AT: usize = 0x38;
const BLOCKS_COUNT_LO_AT: usize = 0x04;
const LOG_BLOCK_SIZE_AT: usize = 0x18;
const FEATURE_INCOMPAT_AT: usize = 0x60;
const BLOCKS_COUNT_HI_AT: usize = 0x150;
/// INCOMPAT_64BIT: `s_blocks_count_hi` is valid.
const INCOMPAT_64BIT: u32 = 0x80;
/// Linux capability number of CAP_SYS_RESOURCE (include/uapi/linux/capability.h).
const CAP_SYS_RESOURCE: u32 = 24;

/// The parts of an ext2/3/4 superblock the driver needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Superblock {
    /// Filesystem size in blocks.
    pub blocks: u64,
    /// Block size in bytes.
    pub block_size: u64,
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

impl Superblock {
    /// Parse the superblock's bytes (starting at [`SUPERBLOCK_OFFSET`]);
    /// `None` when the magic is not there, i.e. the volume has never been
    /// formatted.
    pub fn parse(b: &[u8]) -> Option<Self> {
        if u16_at(b, MAGIC_AT)? != MAGIC {
            return None;
        }
        let log = u32_at(b, LOG_BLOCK_SIZE_AT)?;
        if log > 6 {
            return None; // 64 KiB is ext4's largest block: not a real superblock
        }
        let mut blocks = u64::from(u32_at(b, BLOCKS_COUNT_LO_AT)?);
        if u32_at(b, FEATURE_INCOMPAT_AT)? & INCOMPAT_64BIT != 0 {
            blocks |= u64::from(u32_at(b, BLOCKS_COUNT_HI_AT)?) << 32;
        }
        Some(Self {
            blocks,
            block_size: 1024 << log,
        })
    }

    /// The filesystem's size in bytes.
    pub fn bytes(&self) -> u64 {
        self.blocks.saturating_mul(self.block_size)
    }

    /// Whether a device of `device_bytes` has at least one more whole block
    /// than the filesystem uses: then resize2fs has something to do.
    pub fn can_grow_into(&self, device_bytes: u64) -> bool {
        device_bytes / self.block_size > self.blocks
    }
}

/// Read the superblock of an image file or device.
///
/// # Errors
/// [`Error::Io`] when it cannot be read; a short file has no filesystem.
pub fn read_superblock(path: &Path) -> Result<Option<Superblock>> {
    use std::io::Seek as _;
    let mut f = std::fs::File::open(path).map_err(Error::io("open", path))?;
    f.seek(std::io::SeekFrom::Start(SUPERBLOCK_OFFSET))
        .map_err(Error::io("seek", path))?;
    let mut buf = Vec::with_capacity(SUPERBLOCK_LEN);
    f.take(SUPERBLOCK_LEN as u64)
        .read_to_end(&mut buf)
        .map_err(Error::io("read the superblock of", path))?;
    Ok(Superblock::parse(&buf))
}

/// Format an image as ext4.
///
/// `-F -m0` are exactly the arguments the kubelet's mount library gives
/// mkfs.ext4 when it formats a CSI or in-tree block volume
/// (k8s.io/mount-utils v0.35, mount_linux.go, `formatAndMountSensitive`):
/// `-F` because the target is not a partition, `-m0` because no root-owned
/// daemon needs reserved blocks on a data volume. The same arguments keep
/// "volume full" happening at the same fill level as on a cloud disk.
///
/// # Errors
/// [`Error::Command`] when mkfs.ext4 fails.
pub async fn format(image: &Path) -> Result<()> {
    Cmd::new("mkfs.ext4")
        .args(["-F", "-m0"])
        .arg(image)
        .run()
        .await
        .map(drop)
}

/// Grow the unmounted filesystem in `image` to the image's size.
///
/// resize2fs insists on a freshly checked filesystem before an offline
/// resize, hence `e2fsck -f -p` first (which also replays a journal left
/// by a copy of a mounted volume).
///
/// # Errors
/// [`Error::Command`] when the check finds uncorrectable errors or the
/// resize fails.
pub async fn grow_offline(image: &Path) -> Result<()> {
    let fsck = Cmd::new("e2fsck").args(["-f", "-p"]).arg(image);
    let out = fsck.output().await?;
    // e2fsck: 0 clean, 1 errors corrected, 2 corrected and "reboot" (only
    // meaningful for a root filesystem); 4 and up: errors left.
    if !matches!(out.code, Some(0..=2)) {
        return Err(fsck.failed(&out));
    }
    Cmd::new("resize2fs").arg(image).run().await.map(drop)
}

/// Grow the mounted filesystem on `device` to the device's size.
///
/// # Errors
/// [`Error::FailedPrecondition`] when the kernel refuses an online resize
/// for lack of CAP_SYS_RESOURCE (the volume grows at its next stage),
/// [`Error::Command`] for other failures.
pub async fn grow_online(device: &Path) -> Result<()> {
    let cmd = Cmd::new("resize2fs").arg(device);
    let out = cmd.output().await?;
    if out.success {
        return Ok(());
    }
    if !has_cap_sys_resource() {
        return Err(Error::FailedPrecondition(format!(
            "growing the mounted filesystem on {} needs CAP_SYS_RESOURCE (the kernel's ext4_resize_begin refuses without it) and this process lacks it: unpublish and unstage the volume, and it grows offline when staged again ({})",
            device.display(),
            cmd.failed(&out)
        )));
    }
    Err(cmd.failed(&out))
}

/// Parse `CapEff` out of `/proc/<pid>/status`.
pub fn parse_cap_eff(status: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
}

/// Whether this process may grow a mounted ext4 (see the module doc).
pub fn has_cap_sys_resource() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .as_deref()
        .and_then(parse_cap_eff)
        .is_some_and(|caps| caps & (1 << CAP_SYS_RESOURCE) != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A superblock as mkfs.ext4 writes one: magic, block size, count.
    fn superblock(blocks: u64, log_block_size: u32, bit64: bool) -> Vec<u8> {
        let mut b = vec![0u8; SUPERBLOCK_LEN];
        b[MAGIC_AT..MAGIC_AT + 2].copy_from_slice(&MAGIC.to_le_bytes());
        b[LOG_BLOCK_SIZE_AT..LOG_BLOCK_SIZE_AT + 4].copy_from_slice(&log_block_size.to_le_bytes());
        b[BLOCKS_COUNT_LO_AT..BLOCKS_COUNT_LO_AT + 4]
            .copy_from_slice(&(blocks as u32).to_le_bytes());
        if bit64 {
            b[FEATURE_INCOMPAT_AT..FEATURE_INCOMPAT_AT + 4]
                .copy_from_slice(&INCOMPAT_64BIT.to_le_bytes());
            b[BLOCKS_COUNT_HI_AT..BLOCKS_COUNT_HI_AT + 4]
                .copy_from_slice(&((blocks >> 32) as u32).to_le_bytes());
        }
        b
    }

    #[test]
    fn the_magic_is_at_byte_1080_of_the_device() {
        assert_eq!(SUPERBLOCK_OFFSET as usize + MAGIC_AT, 1080);
    }

    #[test]
    fn a_zeroed_image_has_no_filesystem() {
        assert_eq!(Superblock::parse(&[0u8; SUPERBLOCK_LEN]), None);
        assert_eq!(Superblock::parse(&[]), None, "short read");
        let mut b = superblock(1, 0, false);
        b[LOG_BLOCK_SIZE_AT] = 30;
        assert_eq!(Superblock::parse(&b), None, "absurd block size");
    }

    #[test]
    fn sizes_come_from_block_count_and_block_size() {
        // 64 MiB with 1 KiB blocks (what mkfs.ext4 picks for small images).
        let sb = Superblock::parse(&superblock(65536, 0, false)).expect("ext4");
        assert_eq!(
            (sb.blocks, sb.block_size, sb.bytes()),
            (65536, 1024, 64 << 20)
        );
        // 20 TiB with 4 KiB blocks needs the high word.
        let sb = Superblock::parse(&superblock(5 << 30, 2, true)).expect("ext4");
        assert_eq!(sb.block_size, 4096);
        assert_eq!(sb.bytes(), 20 << 40);
        // Without INCOMPAT_64BIT the high word is not read.
        let mut b = superblock(10, 2, false);
        b[BLOCKS_COUNT_HI_AT] = 1;
        assert_eq!(Superblock::parse(&b).map(|s| s.blocks), Some(10));
    }

    #[test]
    fn growth_is_needed_only_for_a_whole_block_more() {
        let sb = Superblock::parse(&superblock(16384, 2, true)).expect("ext4"); // 64 MiB
        assert!(!sb.can_grow_into(64 << 20));
        assert!(!sb.can_grow_into((64 << 20) + 4095));
        assert!(sb.can_grow_into((64 << 20) + 4096));
        assert!(sb.can_grow_into(128 << 20));
    }

    #[test]
    fn cap_eff_is_read_from_proc_status() {
        let status = "Name:\tx\nCapPrm:\t000001ffffffffff\nCapEff:\t000001fffeffffff\n";
        let caps = parse_cap_eff(status).expect("CapEff");
        assert_eq!(
            caps & (1 << CAP_SYS_RESOURCE),
            0,
            "bit 24 clear: no CAP_SYS_RESOURCE"
        );
        assert_ne!(caps & (1 << 21), 0, "CAP_SYS_ADMIN set");
        assert_eq!(parse_cap_eff("Name:\tx\n"), None);
    }
}
