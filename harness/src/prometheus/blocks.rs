//! TSDB blocks as a snapshot lists them: from `/api/v1/status/tsdb/blocks`
//! on v3.6+, else from the `meta.json` files in the data dir, read through
//! [`Exec`](crate::exec::Exec).

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result, tail};
use crate::prometheus::api::PrometheusProbe;
use crate::prometheus::history::is_ulid;

/// Where a snapshot's block list came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum BlockSource {
    /// `GET /api/v1/status/tsdb/blocks` (Prometheus v3.6+): the blocks the TSDB has loaded.
    Api,
    /// The `<ulid>/meta.json` files in the data dir, read through [`Exec`].
    ///
    /// [`Exec`]: crate::exec::Exec
    MetaJson,
}

/// One TSDB block, as `meta.json` describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BlockInfo {
    /// Block id.
    pub(crate) ulid: String,
    /// First timestamp (ms, inclusive).
    pub(crate) min_time: i64,
    /// End (ms, exclusive).
    pub(crate) max_time: i64,
    /// Samples in the block.
    pub(crate) num_samples: u64,
    /// Compaction level (1 = as written).
    pub(crate) level: u32,
    /// The level-1 blocks compaction merged into this one (itself when never compacted).
    pub(crate) sources: Vec<String>,
}

impl PrometheusProbe<'_> {
    /// The blocks the server has: from `/api/v1/status/tsdb/blocks` when it
    /// exists (v3.6+), else from the `meta.json` files in the data dir.
    ///
    /// # Errors
    /// HTTP errors other than the endpoint's 404, exec errors, and
    /// [`Error::Parse`] for a `meta.json` that is not valid (a finding in
    /// itself: Prometheus will not open such a block).
    pub(crate) async fn blocks(&self) -> Result<(BlockSource, Vec<BlockInfo>)> {
        match self
            .api::<BlocksData>("/api/v1/status/tsdb/blocks", &[])
            .await
        {
            Ok(data) => Ok((BlockSource::Api, to_infos(data.blocks))),
            Err(Error::HttpStatus { status: 404, .. }) => {
                Ok((BlockSource::MetaJson, self.blocks_from_meta_json().await?))
            }
            Err(e) => Err(e),
        }
    }

    /// The blocks described by `<data dir>/<ulid>/meta.json`, read through the exec.
    ///
    /// # Errors
    /// Exec errors, and [`Error::Parse`] naming an invalid `meta.json`.
    pub(crate) async fn blocks_from_meta_json(&self) -> Result<Vec<BlockInfo>> {
        let out = self
            .exec
            .exec_ok(
                &[
                    "sh",
                    "-c",
                    // A block compaction deletes may vanish between the glob and
                    // the read: print only what could be read whole.
                    r#"for f in "$1"/*/meta.json; do m=$(cat "$f" 2>/dev/null) && printf '@@e2e-meta %s\n%s\n' "$f" "$m"; done; true"#,
                    "sh",
                    &self.data_dir,
                ],
                None,
            )
            .await?;
        parse_meta_listing(&out.stdout)
    }
}

/// Split the output of the meta.json listing script into blocks; entries
/// whose directory is not a ULID (scratch dirs, `*.tmp-for-*`) are skipped.
pub(super) fn parse_meta_listing(out: &str) -> Result<Vec<BlockInfo>> {
    let mut chunks: Vec<(&str, String)> = Vec::new();
    for line in out.lines() {
        if let Some(path) = line.strip_prefix("@@e2e-meta ") {
            chunks.push((path.trim(), String::new()));
        } else if let Some((_, text)) = chunks.last_mut() {
            text.push_str(line);
            text.push('\n');
        }
    }
    let mut metas = Vec::new();
    for (path, text) in chunks {
        let dir = path
            .trim_end_matches("/meta.json")
            .rsplit('/')
            .next()
            .unwrap_or_default();
        if !is_ulid(dir) {
            continue;
        }
        let meta: BlockMeta = serde_json::from_str(&text).map_err(|e| {
            Error::parse(
                path.to_owned(),
                format!("{e}; content: {}", tail(&text, 300)),
            )
        })?;
        metas.push(meta);
    }
    Ok(to_infos(metas))
}

fn to_infos(metas: Vec<BlockMeta>) -> Vec<BlockInfo> {
    let mut blocks: Vec<BlockInfo> = metas
        .into_iter()
        .map(|m| BlockInfo {
            sources: if m.compaction.sources.is_empty() {
                vec![m.ulid.clone()]
            } else {
                m.compaction.sources
            },
            ulid: m.ulid,
            min_time: m.min_time,
            max_time: m.max_time,
            num_samples: m.stats.num_samples,
            level: m.compaction.level,
        })
        .collect();
    blocks.sort_by(|a, b| (a.min_time, &a.ulid).cmp(&(b.min_time, &b.ulid)));
    blocks
}

#[derive(Debug, Deserialize)]
struct BlocksData {
    blocks: Vec<BlockMeta>,
}

/// `meta.json` (tsdb/block.go); stats and compaction are `omitempty`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct BlockMeta {
    ulid: String,
    min_time: i64,
    max_time: i64,
    #[serde(default)]
    stats: BlockStats,
    #[serde(default)]
    compaction: Compaction,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct BlockStats {
    #[serde(default)]
    num_samples: u64,
}

#[derive(Debug, Default, Deserialize)]
struct Compaction {
    #[serde(default)]
    level: u32,
    #[serde(default)]
    sources: Vec<String>,
}
