//! The Kubernetes version table (`kind-config/versions.toml`): which node
//! image (kind) and k3s image (k3d) a run uses for each supported minor, and
//! which kind release those node images belong to. Embedded at compile time
//! so a test binary never depends on its working directory.

use serde::Deserialize;

use crate::error::{Error, Result};
use crate::vocab::Minor;

/// `kind-config/versions.toml`, as compiled in.
pub const VERSIONS_TOML: &str = include_str!("../../kind-config/versions.toml");

/// Where the table lives, for error messages.
const SOURCE: &str = "kind-config/versions.toml";

/// One supported Kubernetes minor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionRow {
    /// The minor, e.g. `1.35`.
    pub minor: Minor,
    /// The kind release whose notes list [`Self::kind_node_image`] (e.g. `v0.33.0`).
    pub kind: String,
    /// `kindest/node:<tag>@sha256:<digest>`.
    pub kind_node_image: String,
    /// `rancher/k3s:<tag>[@sha256:<digest>]`.
    pub k3s_image: String,
}

/// The whole table: rows newest first, plus the default minor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionTable {
    default: Minor,
    rows: Vec<VersionRow>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTable {
    default: String,
    version: Vec<RawRow>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRow {
    minor: String,
    kind: String,
    kind_node_image: String,
    k3s_image: String,
}

impl VersionTable {
    /// The table compiled into the harness.
    ///
    /// # Errors
    /// [`Error::Parse`] when `kind-config/versions.toml` is malformed (a
    /// tier-0 test keeps that from ever shipping).
    pub fn embedded() -> Result<Self> {
        Self::parse(VERSIONS_TOML)
    }

    /// Parse and validate a table in the `versions.toml` format.
    ///
    /// # Errors
    /// [`Error::Parse`] naming the row and what is wrong: bad TOML, a minor
    /// listed twice, a default that is not a row, an image not pinned by
    /// digest (kind) or whose tag is for another minor.
    pub fn parse(text: &str) -> Result<Self> {
        let raw: RawTable =
            toml::from_str(text).map_err(|e| Error::parse(SOURCE, e.to_string()))?;
        let bad = |msg: String| Error::parse(SOURCE, msg);
        let mut rows: Vec<VersionRow> = Vec::with_capacity(raw.version.len());
        for r in raw.version {
            let minor: Minor = r.minor.parse().map_err(|_| {
                bad(format!(
                    "row minor {:?} is not a minor such as 1.35",
                    r.minor
                ))
            })?;
            if rows.iter().any(|x| x.minor == minor) {
                return Err(bad(format!("minor {minor} is listed twice")));
            }
            if !r.kind.starts_with('v') || SemVer::parse(&r.kind).is_none() {
                return Err(bad(format!(
                    "{minor}: kind = {:?} is not a release such as v0.33.0",
                    r.kind
                )));
            }
            check_image(
                minor,
                "kind_node_image",
                &r.kind_node_image,
                "kindest/node:",
                true,
            )
            .map_err(bad)?;
            check_image(minor, "k3s_image", &r.k3s_image, "rancher/k3s:", false).map_err(bad)?;
            rows.push(VersionRow {
                minor,
                kind: r.kind,
                kind_node_image: r.kind_node_image,
                k3s_image: r.k3s_image,
            });
        }
        if rows.is_empty() {
            return Err(bad("no [[version]] rows".into()));
        }
        let default: Minor = raw.default.parse().map_err(|_| {
            bad(format!(
                "default {:?} is not a minor such as 1.35",
                raw.default
            ))
        })?;
        let table = Self { default, rows };
        if table.row(default).is_err() {
            return Err(bad(format!(
                "default {default} is not one of the rows ({})",
                table.supported_list()
            )));
        }
        Ok(table)
    }

    /// Every row, newest minor first.
    #[cfg(test)]
    pub fn rows(&self) -> &[VersionRow] {
        &self.rows
    }

    /// The default minor (used when E2E_K8S_VERSION is unset).
    #[cfg(test)]
    pub fn default_minor(&self) -> Minor {
        self.default
    }

    /// The supported minors, newest first.
    pub fn minors(&self) -> Vec<Minor> {
        self.rows.iter().map(|r| r.minor).collect()
    }

    /// The row for `minor`.
    ///
    /// # Errors
    /// [`Error::Unknown`] listing the supported minors.
    pub fn row(&self, minor: Minor) -> Result<&VersionRow> {
        self.rows.iter().find(|r| r.minor == minor).ok_or_else(|| {
            Error::from(crate::vocab::UnknownId {
                what: "Kubernetes minor (kind-config/versions.toml)",
                given: minor.to_string(),
                valid: self.supported_list(),
            })
        })
    }

    /// The row for `minor`, or the default row when `None`.
    ///
    /// # Errors
    /// As [`VersionTable::row`].
    pub fn resolve(&self, minor: Option<Minor>) -> Result<&VersionRow> {
        self.row(minor.unwrap_or(self.default))
    }

    /// The newest kind release any row needs: what `make tools` installs.
    #[cfg(test)]
    pub fn newest_kind(&self) -> &str {
        self.rows
            .iter()
            .max_by_key(|r| SemVer::parse(&r.kind))
            .map_or("", |r| r.kind.as_str())
    }

    fn supported_list(&self) -> String {
        self.rows
            .iter()
            .map(|r| r.minor.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// `<repo>:v1.<minor>.<patch>...`, kind images also `@sha256:<64 hex>`.
fn check_image(
    minor: Minor,
    field: &str,
    image: &str,
    repo: &str,
    digest_required: bool,
) -> std::result::Result<(), String> {
    let Some(rest) = image.strip_prefix(repo) else {
        return Err(format!("{minor}: {field} {image:?} is not a {repo} image"));
    };
    let (tag, digest) = match rest.split_once('@') {
        Some((t, d)) => (t, Some(d)),
        None => (rest, None),
    };
    let want = format!("v{minor}.");
    if !tag.starts_with(&want) {
        return Err(format!(
            "{minor}: {field} tag {tag:?} is not for Kubernetes {minor}"
        ));
    }
    match digest {
        Some(d) => {
            let hex = d.strip_prefix("sha256:").unwrap_or("");
            if hex.len() != 64 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
                return Err(format!(
                    "{minor}: {field} digest {d:?} is not sha256:<64 hex>"
                ));
            }
        }
        None if digest_required => {
            return Err(format!(
                "{minor}: {field} {image:?} must be pinned by digest (kind release notes list one per image)"
            ));
        }
        None => {}
    }
    Ok(())
}

/// A `major.minor.patch` version, as printed by `kind version` / `k3d version`.
/// Pre-release and build suffixes are ignored: the harness compares releases.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SemVer(pub u64, pub u64, pub u64);

impl SemVer {
    /// Parse `v0.33.0`, `0.33.0`, `v5.9.0-rc.1+abc` (suffix ignored).
    pub fn parse(s: &str) -> Option<Self> {
        let core = s.trim().trim_start_matches('v');
        let core = core.split(['-', '+']).next().unwrap_or("");
        let mut it = core.split('.').map(|p| p.parse::<u64>().ok());
        let v = Self(it.next()??, it.next()??, it.next()??);
        it.next().is_none().then_some(v)
    }
}

impl std::fmt::Display for SemVer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "v{}.{}.{}", self.0, self.1, self.2)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> VersionTable {
        VersionTable::embedded().unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn the_shipped_table_covers_four_minors_with_one_default() {
        let t = table();
        let minors: Vec<String> = t.minors().iter().map(ToString::to_string).collect();
        assert_eq!(minors, ["1.37", "1.36", "1.35", "1.34"]);
        assert_eq!(t.default_minor(), Minor(35));
        // `default` is a single TOML key, so "exactly one default" means it
        // names exactly one existing row.
        assert_eq!(
            t.rows()
                .iter()
                .filter(|r| r.minor == t.default_minor())
                .count(),
            1
        );
        assert_eq!(t.newest_kind(), "v0.33.0");
        for r in t.rows() {
            assert!(r.kind_node_image.contains("@sha256:"), "{r:?}");
        }
    }

    #[test]
    fn lookups_return_the_pinned_images() {
        let t = table();
        let r = t.row(Minor(37)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            r.kind_node_image,
            "kindest/node:v1.37.0@sha256:a1ed56cfb0e7b93589bdf97c8cd566405a265939e3620fc4f5de89adff580ae5"
        );
        assert_eq!(r.kind, "v0.33.0");
        assert!(r.k3s_image.starts_with("rancher/k3s:v1.37.1-k3s1@sha256:"));
        let d = t.resolve(None).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(d.minor, Minor(35));
        assert!(d.kind_node_image.starts_with("kindest/node:v1.35.8@"));
        let via_env: Minor = "v1.34.2".parse().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            t.resolve(Some(via_env)).map(|r| r.k3s_image.as_str()).ok(),
            Some(
                "rancher/k3s:v1.34.11-k3s1@sha256:5d52389a0f4fd7ebdb5a1fb2d7c67c35da966230782c4abb0667d86bcccea9c2"
            )
        );
    }

    #[test]
    fn unknown_minor_lists_the_supported_ones() {
        let e = table()
            .row(Minor(30))
            .expect_err("1.30 is not supported")
            .to_string();
        assert_eq!(
            e,
            "unknown Kubernetes minor (kind-config/versions.toml) \"1.30\": valid ones are 1.37, 1.36, 1.35, 1.34"
        );
    }

    const ROW_35: &str = r#"
[[version]]
minor = "1.35"
kind = "v0.33.0"
kind_node_image = "kindest/node:v1.35.8@sha256:07b2536e30b803ed61d1677a79df6115f798ce64c80f9e22f6ed45afd09323c0"
k3s_image = "rancher/k3s:v1.35.8-k3s1"
"#;

    fn parse_err(text: &str) -> String {
        VersionTable::parse(text)
            .expect_err("must be rejected")
            .to_string()
    }

    #[test]
    fn malformed_tables_are_rejected_with_the_reason() {
        let ok = format!("default = \"1.35\"\n{ROW_35}");
        assert!(VersionTable::parse(&ok).is_ok());
        assert!(
            parse_err(&format!("default = \"1.36\"\n{ROW_35}"))
                .contains("default 1.36 is not one of the rows (1.35)")
        );
        assert!(
            parse_err(&format!("default = \"1.35\"\n{ROW_35}{ROW_35}"))
                .contains("minor 1.35 is listed twice")
        );
        assert!(parse_err("default = \"1.35\"\ndefault = \"1.34\"\n").contains("duplicate key"));
        let unpinned = ROW_35.replace(
            "@sha256:07b2536e30b803ed61d1677a79df6115f798ce64c80f9e22f6ed45afd09323c0",
            "",
        );
        assert!(
            parse_err(&format!("default = \"1.35\"\n{unpinned}"))
                .contains("must be pinned by digest")
        );
        let wrong_tag = ROW_35.replace("rancher/k3s:v1.35.8", "rancher/k3s:v1.36.1");
        assert!(
            parse_err(&format!("default = \"1.35\"\n{wrong_tag}"))
                .contains("k3s_image tag \"v1.36.1-k3s1\" is not for Kubernetes 1.35")
        );
        assert!(
            parse_err(&format!("default = \"1.35\"\n{ROW_35}extra = 1\n"))
                .contains("unknown field")
        );
    }

    #[test]
    fn semver_parses_release_and_prerelease_strings() {
        assert_eq!(SemVer::parse("v0.33.0"), Some(SemVer(0, 33, 0)));
        assert_eq!(SemVer::parse("5.9.0-rc.1+abc"), Some(SemVer(5, 9, 0)));
        assert_eq!(SemVer::parse("v1.2"), None);
        assert_eq!(SemVer::parse("v1.2.3.4"), None);
        assert!(SemVer(0, 29, 0) < SemVer(0, 33, 0));
        assert_eq!(SemVer(5, 9, 0).to_string(), "v5.9.0");
    }
}
