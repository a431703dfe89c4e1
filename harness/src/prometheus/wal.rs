//! Where the WAL ended at a moment, and the cut that tears the first record
//! written after it: how wal-tail-torn loses exactly the newest writes.
//!
//! Why a mark rather than a fixed fraction of the segment: what lies past
//! half of the newest segment depends on what else Prometheus wrote there
//! (its own scrapes, a segment begun at start), so a halfway cut sometimes
//! missed the samples written last (seen on kind: statefulset kept all but
//! 1 of 302). Marking the end of the WAL right before the head's top-up and
//! tearing the first record after the mark always loses the top-up, and
//! everything after it: Prometheus's repair discards all data after a
//! corruption (tsdb/wlog/wlog.go `Repair`).

use std::fmt;

use super::api::PrometheusProbe;
use crate::error::{Error, Result};

/// The newest WAL segment and how many bytes of records it held, read in
/// the running server (before a graceful stop pads the page with zeros).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalMark {
    /// The segment's file name (eight digits).
    pub segment: String,
    /// Its size then: the end of the records written so far (the WAL
    /// flushes each batch's page to the file as it logs it).
    pub end: u64,
}

impl fmt::Display for WalMark {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "segment {} at {} bytes", self.segment, self.end)
    }
}

impl WalMark {
    /// Parse the mark script's `<segment> <size>`.
    ///
    /// # Errors
    /// [`Error::Parse`] naming what the script printed.
    pub fn parse(said: &str) -> Result<Self> {
        let bad = || Error::Parse {
            what: "the WAL mark (<segment> <bytes>)".into(),
            message: format!("got {:?}", said.trim()),
        };
        let mut words = said.split_whitespace();
        let (Some(segment), Some(end), None) = (words.next(), words.next(), words.next()) else {
            return Err(bad());
        };
        if segment.len() != 8 || !segment.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        Ok(Self {
            segment: segment.to_owned(),
            end: end.parse().map_err(|_| bad())?,
        })
    }
}

/// The shell that prints the newest WAL segment under `dir` and its size
/// (busybox and GNU tools alike: the image's own shell runs it).
fn mark_script(dir: &str) -> String {
    format!(
        r#"set -e
cd '{dir}/wal'
f=$(ls | grep -E '^[0-9]{{8}}$' | sort | tail -n 1)
[ -n "$f" ] || {{ echo "no WAL segment in {dir}/wal" >&2; exit 1; }}
echo "$f $(wc -c < "$f")""#
    )
}

/// The shell that tears the first record written after `mark` in its
/// segment under `dir`: it keeps the record's 7-byte header (type, length,
/// CRC) and half of its payload, so Prometheus finds a torn record there,
/// repairs the WAL by cutting it and loses every record from the mark on.
/// A mark too close to the end of a 32 KiB page for a header is followed by
/// padding: the next record starts on the next page. Prints `segment <f>:
/// <size> bytes, marked at <mark>, first record after it at <at> (type <t>,
/// <len> bytes) -> <cut> bytes (wal before: <file>=<size> ...)`.
pub fn cut_after_mark_script(dir: &str, mark: &WalMark) -> String {
    let WalMark { segment: f, end } = mark;
    format!(
        r#"set -e
cd '{dir}/wal'
[ -f '{f}' ] || {{ echo "WAL segment {f} (marked before the disruption) is gone: $(ls)" >&2; exit 1; }}
size=$(stat -c %s '{f}')
files=$(stat -c '%n=%s' * | tr '\n' ' ')
at={end}
byte() {{ od -An -v -tu1 -j "$1" -N 1 '{f}' | tr -d ' '; }}
t=$(byte $at)
if [ "${{t:-0}}" = 0 ]; then at=$(( (at + 32767) / 32768 * 32768 )); t=$(byte $at); fi
[ "${{t:-0}}" != 0 ] || {{ echo "no record after the mark at {end} in {f} ($size bytes): nothing was written after it" >&2; exit 1; }}
len=$(( $(byte $((at + 1))) * 256 + $(byte $((at + 2))) ))
cut=$((at + 7 + len / 2))
dd if=/dev/null of='{f}' bs=1 seek="$cut" 2>/dev/null
echo "segment {f}: $size bytes, marked at {end}, first record after it at $at (type $t, $len bytes) -> $(stat -c %s '{f}') bytes (wal before: $files)""#
    )
}

impl PrometheusProbe<'_> {
    /// Mark where the WAL ends now, through the server's own container.
    ///
    /// # Errors
    /// Exec errors; [`Error::Parse`] when the script prints no mark.
    pub async fn wal_mark(&self) -> Result<WalMark> {
        let script = mark_script(&self.data_dir);
        let out = self.exec.exec_ok(&["sh", "-c", &script], None).await?;
        WalMark::parse(&out.stdout)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(script: &str) -> (bool, String) {
        let out = std::process::Command::new("sh")
            .args(["-c", script])
            .output()
            .unwrap_or_else(|e| panic!("{e}"));
        let said = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.success(), said.trim().to_owned())
    }

    /// A data dir whose `wal/` holds `segments` (name, bytes).
    fn data_dir(segments: &[(&str, &[u8])]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let wal = dir.path().join("wal");
        std::fs::create_dir(&wal).unwrap_or_else(|e| panic!("{e}"));
        for (name, bytes) in segments {
            std::fs::write(wal.join(name), bytes).unwrap_or_else(|e| panic!("{e}"));
        }
        dir
    }

    /// The size of `dir`'s WAL segment `name`.
    fn size(dir: &tempfile::TempDir, name: &str) -> Option<u64> {
        std::fs::metadata(dir.path().join("wal").join(name))
            .map(|m| m.len())
            .ok()
    }

    /// The cut script's outcome on `dir` for a mark at `end` of `segment`.
    fn cut(dir: &tempfile::TempDir, segment: &str, end: u64) -> (bool, String) {
        let mark = WalMark {
            segment: segment.into(),
            end,
        };
        run(&cut_after_mark_script(&dir.path().to_string_lossy(), &mark))
    }

    /// A segment as a graceful stop leaves it: `records` bytes of earlier
    /// records, padding up to `at`, one record of type 1 with a 40-byte
    /// payload there, then zeros to the end of the page.
    fn segment_with_record_at(records: usize, at: usize) -> Vec<u8> {
        let mut s = vec![7u8; records];
        s.resize(at, 0);
        s.extend([1u8, 0, 40, 9, 9, 9, 9]);
        s.extend([5u8; 40]);
        s.resize(s.len().div_ceil(32768) * 32768, 0);
        s
    }

    #[test]
    fn the_mark_reads_the_newest_segment_and_its_size() {
        let dir = data_dir(&[("00000000", &[1u8; 10]), ("00000001", &[1u8; 1000])]);
        std::fs::create_dir(dir.path().join("wal/checkpoint.00000000"))
            .unwrap_or_else(|e| panic!("{e}"));
        let (ok, said) = run(&mark_script(&dir.path().to_string_lossy()));
        assert!(ok, "{said}");
        assert_eq!(
            WalMark::parse(&said).ok(),
            Some(WalMark {
                segment: "00000001".into(),
                end: 1000
            })
        );
    }

    #[test]
    fn a_mark_that_is_not_one_is_refused_naming_what_was_printed() {
        for said in ["", "00000001", "wal 12", "00000001 x", "00000001 12 13"] {
            let e = WalMark::parse(said).err().map(|e| e.to_string());
            assert!(
                e.as_ref().is_some_and(|e| e.contains("WAL mark")),
                "{said:?}: {e:?}"
            );
        }
    }

    /// The cut keeps everything before the mark and the first record's
    /// header, and half of its payload: 1000 + 7 + 20 bytes.
    #[test]
    fn the_cut_tears_the_first_record_after_the_mark() {
        let dir = data_dir(&[("00000001", &segment_with_record_at(1000, 1000))]);
        let (ok, said) = cut(&dir, "00000001", 1000);
        assert!(ok, "{said}");
        assert_eq!(
            said,
            "segment 00000001: 32768 bytes, marked at 1000, first record after it at 1000 \
             (type 1, 40 bytes) -> 1027 bytes (wal before: 00000001=32768 )"
        );
        assert_eq!(size(&dir, "00000001"), Some(1027));
    }

    /// A mark within 7 bytes of a page's end is followed by padding; the
    /// first record after it starts the next page.
    #[test]
    fn a_mark_before_page_padding_tears_the_next_page_s_first_record() {
        let dir = data_dir(&[("00000002", &segment_with_record_at(32765, 32768))]);
        let (ok, said) = cut(&dir, "00000002", 32765);
        assert!(ok, "{said}");
        assert!(
            said.contains("first record after it at 32768 (type 1, 40 bytes) -> 32795 bytes"),
            "{said}"
        );
    }

    /// Nothing written after the mark, or the segment gone: the cut refuses
    /// (a cell that lost nothing must not be judged as if it had been cut).
    #[test]
    fn the_cut_refuses_when_nothing_follows_the_mark_or_the_segment_is_gone() {
        let mut padded = vec![7u8; 1000];
        padded.resize(65536, 0);
        let dir = data_dir(&[("00000001", &padded)]);
        let (ok, said) = cut(&dir, "00000001", 1000);
        assert!(
            !ok && said.contains("nothing was written after it"),
            "{said}"
        );
        let (ok, said) = cut(&dir, "00000003", 1000);
        assert!(
            !ok && said.contains("00000003 (marked before the disruption) is gone"),
            "{said}"
        );
        assert_eq!(
            size(&dir, "00000001"),
            Some(65536),
            "a refused cut leaves the segment alone"
        );
    }
}
