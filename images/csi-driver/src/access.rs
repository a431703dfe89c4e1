//! Which volume capabilities the driver serves, and what an access mode
//! means for attaching and publishing.
//!
//! A volume is an ext4 filesystem on a block device. ext4 is not a cluster
//! filesystem: two kernels (here: two mounts of two loop devices) writing
//! one image corrupt it. So every supported access mode is a single-node
//! mode, a second node is refused at ControllerPublishVolume exactly as a
//! cloud disk attached elsewhere is, and raw block access is not offered
//! (the harness has no use for it).

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::proto::csi::VolumeCapability;
use crate::proto::csi::volume_capability::AccessType;
use crate::proto::csi::volume_capability::access_mode::Mode;

/// The filesystem every volume carries.
pub const FS_TYPE: &str = "ext4";

/// The CSI access modes this driver supports: all of them single-node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AccessMode {
    /// ReadWriteOnce.
    SingleNodeWriter,
    /// ReadOnlyMany narrowed to one node.
    SingleNodeReaderOnly,
    /// ReadWriteOncePod: one workload, one target path.
    SingleNodeSingleWriter,
    /// ReadWriteOnce where several workloads on the node may write.
    SingleNodeMultiWriter,
}

impl AccessMode {
    /// The mode of a request's `access_mode.mode`.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for `MULTI_NODE_*` (ext4 is single-node)
    /// and for unknown values.
    pub fn from_proto(mode: i32) -> Result<Self> {
        match Mode::try_from(mode) {
            Ok(Mode::SingleNodeWriter) => Ok(Self::SingleNodeWriter),
            Ok(Mode::SingleNodeReaderOnly) => Ok(Self::SingleNodeReaderOnly),
            Ok(Mode::SingleNodeSingleWriter) => Ok(Self::SingleNodeSingleWriter),
            Ok(Mode::SingleNodeMultiWriter) => Ok(Self::SingleNodeMultiWriter),
            Ok(
                m @ (Mode::MultiNodeReaderOnly
                | Mode::MultiNodeSingleWriter
                | Mode::MultiNodeMultiWriter),
            ) => Err(Error::InvalidArgument(format!(
                "access mode {} is not supported: volumes are ext4 on a block device, which only one node may mount (use a SINGLE_NODE_* mode, i.e. ReadWriteOnce or ReadWriteOncePod)",
                m.as_str_name()
            ))),
            Ok(Mode::Unknown) | Err(_) => Err(Error::InvalidArgument(format!(
                "access mode {mode} is not a known CSI access mode"
            ))),
        }
    }

    /// Whether publishing must be read-only whatever the request says.
    pub fn is_reader_only(self) -> bool {
        self == Self::SingleNodeReaderOnly
    }

    /// Whether one target path at most may use the volume on its node.
    pub fn is_single_writer(self) -> bool {
        self == Self::SingleNodeSingleWriter
    }
}

/// A capability this driver serves: mount access, ext4, single-node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    /// The access mode.
    pub mode: AccessMode,
    /// Extra mount options (Kubernetes' PV `mountOptions`).
    pub mount_flags: Vec<String>,
}

/// Check one capability of a request.
///
/// # Errors
/// [`Error::MissingField`] when parts are absent, [`Error::InvalidArgument`]
/// for block access, another filesystem, or a multi-node mode.
pub fn check(cap: &VolumeCapability) -> Result<Checked> {
    let mount = match &cap.access_type {
        Some(AccessType::Mount(m)) => m,
        Some(AccessType::Block(_)) => {
            return Err(Error::InvalidArgument(
                "block access type is not supported: volumes are served as mounted ext4 filesystems (volumeMode: Filesystem)".into(),
            ));
        }
        None => return Err(Error::MissingField("volume_capability.access_type")),
    };
    if !(mount.fs_type.is_empty() || mount.fs_type == FS_TYPE) {
        return Err(Error::InvalidArgument(format!(
            "fs_type {:?} is not supported: volumes are {FS_TYPE} (leave csi.storage.k8s.io/fstype unset or set it to {FS_TYPE})",
            mount.fs_type
        )));
    }
    if let Some(bad) = mount
        .mount_flags
        .iter()
        .find(|f| f.contains(',') || f.starts_with("loop"))
    {
        return Err(Error::InvalidArgument(format!(
            "mount flag {bad:?} is not accepted: one option per flag, and the loop device is the driver's"
        )));
    }
    let mode = cap
        .access_mode
        .as_ref()
        .ok_or(Error::MissingField("volume_capability.access_mode"))?;
    Ok(Checked {
        mode: AccessMode::from_proto(mode.mode)?,
        mount_flags: mount.mount_flags.clone(),
    })
}

/// Check a request's list of capabilities (CreateVolume,
/// ValidateVolumeCapabilities).
///
/// # Errors
/// [`Error::MissingField`] for an empty list, else as [`check`].
pub fn check_all(caps: &[VolumeCapability]) -> Result<Vec<Checked>> {
    if caps.is_empty() {
        return Err(Error::MissingField("volume_capabilities"));
    }
    caps.iter().map(check).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::csi::volume_capability::{AccessMode as ProtoMode, BlockVolume, MountVolume};

    fn cap(mode: Mode, fs: &str) -> VolumeCapability {
        VolumeCapability {
            access_mode: Some(ProtoMode { mode: mode as i32 }),
            access_type: Some(AccessType::Mount(MountVolume {
                fs_type: fs.into(),
                ..Default::default()
            })),
        }
    }

    #[test]
    fn single_node_modes_on_ext4_are_served() {
        for (mode, want) in [
            (Mode::SingleNodeWriter, AccessMode::SingleNodeWriter),
            (Mode::SingleNodeReaderOnly, AccessMode::SingleNodeReaderOnly),
            (
                Mode::SingleNodeSingleWriter,
                AccessMode::SingleNodeSingleWriter,
            ),
            (
                Mode::SingleNodeMultiWriter,
                AccessMode::SingleNodeMultiWriter,
            ),
        ] {
            for fs in ["", "ext4"] {
                assert_eq!(check(&cap(mode, fs)).map(|c| c.mode).ok(), Some(want));
            }
        }
    }

    #[test]
    fn multi_node_modes_are_invalid_arguments() {
        for mode in [
            Mode::MultiNodeReaderOnly,
            Mode::MultiNodeSingleWriter,
            Mode::MultiNodeMultiWriter,
        ] {
            let e = check(&cap(mode, "ext4"));
            assert!(
                matches!(&e, Err(Error::InvalidArgument(m)) if m.contains("only one node")),
                "{e:?}"
            );
        }
        assert!(matches!(
            AccessMode::from_proto(99),
            Err(Error::InvalidArgument(_))
        ));
        assert!(matches!(
            AccessMode::from_proto(0),
            Err(Error::InvalidArgument(_))
        ));
    }

    #[test]
    fn block_access_other_filesystems_and_loop_flags_are_refused() {
        let mut block = cap(Mode::SingleNodeWriter, "");
        block.access_type = Some(AccessType::Block(BlockVolume {}));
        assert!(matches!(check(&block), Err(Error::InvalidArgument(_))));
        assert!(matches!(
            check(&cap(Mode::SingleNodeWriter, "xfs")),
            Err(Error::InvalidArgument(_))
        ));
        let mut flags = cap(Mode::SingleNodeWriter, "");
        if let Some(AccessType::Mount(m)) = &mut flags.access_type {
            m.mount_flags = vec!["noatime".into()];
        }
        assert_eq!(
            check(&flags).map(|c| c.mount_flags).ok(),
            Some(vec!["noatime".to_owned()])
        );
        if let Some(AccessType::Mount(m)) = &mut flags.access_type {
            m.mount_flags = vec!["loop=/dev/loop0".into()];
        }
        assert!(matches!(check(&flags), Err(Error::InvalidArgument(_))));
    }

    #[test]
    fn missing_parts_are_missing_fields() {
        let mut c = cap(Mode::SingleNodeWriter, "");
        c.access_mode = None;
        assert!(matches!(check(&c), Err(Error::MissingField(_))));
        c.access_type = None;
        assert!(matches!(check(&c), Err(Error::MissingField(_))));
        assert!(matches!(
            check_all(&[]),
            Err(Error::MissingField("volume_capabilities"))
        ));
    }

    #[test]
    fn mode_rules() {
        assert!(AccessMode::SingleNodeReaderOnly.is_reader_only());
        assert!(!AccessMode::SingleNodeWriter.is_reader_only());
        assert!(AccessMode::SingleNodeSingleWriter.is_single_writer());
        assert!(!AccessMode::SingleNodeMultiWriter.is_single_writer());
    }
}
