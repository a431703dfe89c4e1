//! Who is who on the export: [`Identity`] (a uid/gid pair), [`Squash`]
//! (how the export maps the ids clients send, and who then owns a new
//! file) and [`Entry`] (a directory entry with numeric owners).

/// Anonymous uid/gid squashed callers become under [`Squash::Root`]
/// (ganesha's default, `nobody`).
pub(crate) const ANON_ID: u32 = 65534;

/// A uid/gid pair: who a client acts as, or who owns a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Identity {
    /// Numeric user id.
    pub uid: u32,
    /// Numeric (primary) group id.
    pub(crate) gid: u32,
}

impl Identity {
    /// root.
    pub const ROOT: Self = Self::new(0, 0);
    /// `nobody`, the user prom/prometheus runs as (65534:65534).
    pub const PROMETHEUS: Self = Self::new(crate::prometheus::UID, crate::prometheus::GID);
    /// The user grafana/grafana runs as since 7.3 (472, group 0).
    pub const GRAFANA: Self = Self::new(crate::grafana::UID, crate::grafana::GID);

    /// `uid:gid`.
    pub const fn new(uid: u32, gid: u32) -> Self {
        Self { uid, gid }
    }
}

impl std::fmt::Display for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.uid, self.gid)
    }
}

/// How the export maps the ids clients send: the squash options that
/// produce the ownership mix of the seed article (uid 472 vs 1000).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Squash {
    /// Every caller keeps its ids, root included (`no_root_squash`, the
    /// usual setting for Kubernetes NFS exports).
    #[default]
    None,
    /// Root becomes `ANON_ID`:`ANON_ID`, and gid 0 of other callers
    /// becomes `ANON_ID` (like kernel `root_squash`, which maps uid and
    /// gid 0): Grafana's 472:0 writes files owned by 472:65534.
    Root,
    /// Every caller becomes `uid:gid` (`all_squash,anonuid=..,anongid=..`).
    All {
        /// The anonymous uid.
        uid: u32,
        /// The anonymous gid.
        gid: u32,
    },
}

impl Squash {
    /// Short id for names and logs: `none`, `root`, `all`.
    pub fn id(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Root => "root",
            Self::All { .. } => "all",
        }
    }

    /// Who owns a file that `writer` creates over NFS in a plain
    /// (non-setgid) directory: the documented meaning of each mode, which
    /// tier-1 tests compare with what the server really does.
    pub fn owner_of_new_file(self, writer: Identity) -> Identity {
        match self {
            Self::None => writer,
            Self::Root if writer.uid == 0 => Identity::new(ANON_ID, ANON_ID),
            Self::Root => Identity::new(
                writer.uid,
                if writer.gid == 0 { ANON_ID } else { writer.gid },
            ),
            Self::All { uid, gid } => Identity::new(uid, gid),
        }
    }

    /// The entrypoint environment for this mode.
    pub(super) fn env(self) -> [(&'static str, String); 3] {
        let (uid, gid) = match self {
            Self::All { uid, gid } => (uid, gid),
            Self::None | Self::Root => (ANON_ID, ANON_ID),
        };
        [
            ("SQUASH", self.id().to_owned()),
            ("ANON_UID", uid.to_string()),
            ("ANON_GID", gid.to_string()),
        ]
    }
}

/// One directory entry with numeric owners, as the server's filesystem (or
/// an NFS client) sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// File name (no directory part).
    pub name: String,
    /// Owner uid.
    pub(crate) uid: u32,
    /// Owner gid.
    pub(crate) gid: u32,
    /// Permission bits, e.g. `0o660` (with setuid/setgid/sticky when set).
    pub(crate) mode: u32,
    /// Size in bytes.
    pub size: u64,
    /// Whether it is a directory.
    pub is_dir: bool,
}

impl Entry {
    /// The owner as an [`Identity`].
    pub fn owner(&self) -> Identity {
        Identity::new(self.uid, self.gid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn squash_modes_document_who_owns_new_files() {
        let all = Squash::All {
            uid: 1000,
            gid: 1000,
        };
        let cases = [
            (Squash::None, Identity::GRAFANA, Identity::GRAFANA),
            (Squash::None, Identity::ROOT, Identity::ROOT),
            (Squash::Root, Identity::ROOT, Identity::new(65534, 65534)),
            (Squash::Root, Identity::GRAFANA, Identity::new(472, 65534)),
            (Squash::Root, Identity::PROMETHEUS, Identity::PROMETHEUS),
            (all, Identity::GRAFANA, Identity::new(1000, 1000)),
            (all, Identity::ROOT, Identity::new(1000, 1000)),
        ];
        for (squash, writer, owner) in cases {
            assert_eq!(
                squash.owner_of_new_file(writer),
                owner,
                "{squash:?} {writer}"
            );
        }
        let env = all.env();
        assert_eq!(env[0], ("SQUASH", "all".to_owned()));
        assert_eq!(env[1], ("ANON_UID", "1000".to_owned()));
    }
}
