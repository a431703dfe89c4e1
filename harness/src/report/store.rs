//! The report directory: cell files written atomically, the aggregate
//! re-rendered from all of them, run notes, and starting from an empty one.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use super::render::{render_json, render_markdown};
use super::result::CellResult;
use crate::error::{Error, Result};
use crate::vocab::Cell;

/// The report directory of a run.
#[derive(Debug, Clone)]
pub struct Report {
    dir: PathBuf,
}

/// How often [`Report::write`] re-renders when cells keep arriving.
pub(super) const MAX_RENDER_PASSES: usize = 50;
/// Where [`Report::record_notes`] keeps the run's notes.
pub(super) const NOTES_FILE: &str = "run-notes.json";

impl Report {
    /// The report in `dir` (E2E_REPORT_DIR; created on first write).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// Remove what an earlier run wrote here (cell files, failure and
    /// timeline folders, the rendered report, run notes), and nothing else:
    /// the report is rendered from every cell file in the directory, so a
    /// narrower run would otherwise show the earlier run's cells as its own.
    ///
    /// # Errors
    /// [`Error::Io`] naming what could not be removed.
    pub fn reset(&self) -> Result<()> {
        for dir in ["cells", "failures", "passed"] {
            let path = self.dir.join(dir);
            match std::fs::remove_dir_all(&path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(Error::io("clearing the previous report", path, e));
                }
                _ => {}
            }
        }
        for file in ["report.md", "report.json", NOTES_FILE] {
            let path = self.dir.join(file);
            match std::fs::remove_file(&path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(Error::io("clearing the previous report", path, e));
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// The report directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn cells_dir(&self) -> PathBuf {
        self.dir.join("cells")
    }

    /// Where a failed cell's artifacts go: `failures/<cell>/`.
    pub fn artifacts_dir(&self, cell: Cell) -> PathBuf {
        self.dir.join("failures").join(cell.file_stem())
    }

    /// Where a cell's `timeline.svg` goes: a failed cell's artifacts
    /// folder, or `passed/<cell>/` (E2E_TIMELINES=all).
    pub fn timeline_dir(&self, cell: Cell, passed: bool) -> PathBuf {
        if passed {
            self.dir.join("passed").join(cell.file_stem())
        } else {
            self.artifacts_dir(cell)
        }
    }

    /// Save one cell's result and re-render `report.json` and `report.md`.
    ///
    /// # Errors
    /// [`Error::Io`] when a file cannot be written, [`Error::Parse`] when a
    /// cell file of the directory cannot be read back.
    pub fn record(&self, result: &CellResult) -> Result<()> {
        let json = serde_json::to_string_pretty(result)
            .map_err(|e| Error::parse(format!("cell result {}", result.cell()), e.to_string()))?;
        let path = self
            .cells_dir()
            .join(format!("{}.json", result.cell().file_stem()));
        write_atomic(&path, &json)?;
        self.write()
    }

    /// Every cell result saved so far, in matrix order.
    ///
    /// # Errors
    /// [`Error::Io`] when the directory cannot be read, [`Error::Parse`]
    /// naming the file that is not a cell result.
    pub fn load(&self) -> Result<Vec<CellResult>> {
        let mut out = Vec::new();
        for (path, ..) in self.listing()? {
            let text = std::fs::read_to_string(&path)
                .map_err(|e| Error::io("reading cell result", &path, e))?;
            let cell: CellResult = serde_json::from_str(&text).map_err(|e| {
                Error::parse(format!("cell result {}", path.display()), e.to_string())
            })?;
            out.push(cell);
        }
        out.sort_by_key(|c| (c.cell(), c.k8s_version.clone()));
        Ok(out)
    }

    /// (path, size, mtime) of every cell file: what an aggregate was built from.
    fn listing(&self) -> Result<Vec<(PathBuf, u64, Option<SystemTime>)>> {
        let dir = self.cells_dir();
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(Error::io("listing cell results", dir, e)),
        };
        let mut out = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| Error::io("listing cell results", &dir, e))?;
            let path = entry.path();
            if path.extension().is_some_and(|x| x == "json") {
                let meta = entry
                    .metadata()
                    .map_err(|e| Error::io("reading cell result", &path, e))?;
                out.push((path, meta.len(), meta.modified().ok()));
            }
        }
        out.sort();
        Ok(out)
    }

    /// Keep the run's notes (the node image and app images it chose and
    /// why, host settings): the report shows them above the matrices.
    ///
    /// # Errors
    /// [`Error::Io`] when the file cannot be written.
    pub fn record_notes(&self, notes: &[String]) -> Result<()> {
        let json = serde_json::to_string_pretty(notes)
            .map_err(|e| Error::parse("run notes", e.to_string()))?;
        write_atomic(&self.dir.join(NOTES_FILE), &json)
    }

    /// The run's notes, if [`record_notes`](Self::record_notes) wrote any.
    fn notes(&self) -> Vec<String> {
        std::fs::read_to_string(self.dir.join(NOTES_FILE))
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or_default()
    }

    /// Render `report.json` and `report.md` from every cell file.
    ///
    /// # Errors
    /// As [`record`](Self::record).
    pub fn write(&self) -> Result<()> {
        let notes = self.notes();
        for _ in 0..MAX_RENDER_PASSES {
            let before = self.listing()?;
            let cells = self.load()?;
            write_atomic(&self.dir.join("report.json"), &render_json(&cells, &notes)?)?;
            write_atomic(
                &self.dir.join("report.md"),
                &render_markdown(&cells, &notes),
            )?;
            if self.listing()? == before {
                return Ok(());
            }
        }
        Ok(())
    }
}

/// Write via a temp file and a rename, so readers never see half a file.
pub(super) fn write_atomic(path: &Path, text: &str) -> Result<()> {
    static N: AtomicU64 = AtomicU64::new(0);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|e| Error::io("creating report directory", parent, e))?;
    }
    let tmp = path.with_extension(format!(
        "tmp-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::write(&tmp, text).map_err(|e| Error::io("writing report file", &tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| Error::io("renaming report file into place", path, e))
}
