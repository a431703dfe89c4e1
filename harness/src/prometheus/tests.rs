//! Unit tests of the judgement, and contract tests of the API parsing
//! against a stub server (named as such): the v3.6+ blocks endpoint cannot
//! run for real here (the stand-ins are 2.42 and 2.53), so its documented
//! shape is pinned by a stub.

use std::collections::BTreeMap;
use std::time::{Duration, Instant, UNIX_EPOCH};

use super::api::{ms_to_seconds, seconds_to_ms, storage_error};
use super::blocks::parse_meta_listing;
use super::judge::{coverage_gaps, show_samples, show_span};
use super::*;
use crate::cmd::Output;
use crate::error::{Error, Result};
use crate::exec::Exec;
use crate::vocab::{Judgement, Part, PartKind, Verdict};

fn history() -> History {
    History::ending_before(
        "e2e-unit",
        UNIX_EPOCH + Duration::from_secs(1_795_312_200),
        24,
    )
}

fn block(ulid: &str, min: i64, max: i64, sources: &[&str]) -> BlockInfo {
    BlockInfo {
        ulid: ulid.into(),
        min_time: min,
        max_time: max,
        num_samples: 480,
        level: if sources.len() > 1 { 2 } else { 1 },
        sources: sources.iter().map(|s| (*s).to_owned()).collect(),
    }
}

/// The blocks promtool writes for `h`: one per 2 h, named B00..B11.
fn seeded_blocks(h: &History) -> Vec<BlockInfo> {
    (0..12)
        .map(|i| {
            let lo = h.start_ms() + i * 7_200_000;
            let name = format!("B{i:02}");
            block(&name, lo, lo + 7_200_000 - 15_000 + 1, &[&name])
        })
        .collect()
}

fn sample(at_ms: i64, value: &str) -> HeadSample {
    HeadSample {
        labels: [
            ("__name__", "scrape_duration_seconds"),
            ("instance", "localhost:9090"),
            ("job", "prometheus"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect(),
        at_ms,
        value: value.into(),
    }
}

/// A snapshot of a server that has everything seeded.
fn complete(h: &History) -> Snapshot {
    Snapshot {
        history: h.clone(),
        taken_at_ms: h.end_ms() + 5 * 3_600_000,
        block_source: BlockSource::MetaJson,
        blocks: seeded_blocks(h),
        marker_count: Some(h.samples()),
        marker_values: h
            .checkpoints()
            .into_iter()
            .map(|at_ms| MarkerValue {
                at_ms,
                expected: h.value_at(at_ms).unwrap(),
                found: h.value_at(at_ms),
            })
            .collect(),
        head: Head {
            min_time: Some(h.end_ms() + 4 * 3_600_000),
            max_time: Some(h.end_ms() + 5 * 3_600_000),
            num_series: 400,
            sample: Some(sample(h.end_ms() + 5 * 3_600_000, "0.003887366")),
            count: Some(head_count(h, Some(240))),
        },
        clean_start: Some(1),
        data_dir_owner: "65534:65534".into(),
        read_errors: Vec::new(),
    }
}

/// The count of [`complete`]'s head series over its head: the last hour.
fn head_count(h: &History, samples: Option<u64>) -> HeadCount {
    HeadCount {
        labels: sample(0, "").labels,
        from_ms: h.end_ms() + 4 * 3_600_000,
        to_ms: h.end_ms() + 5 * 3_600_000,
        samples,
    }
}

/// A read Prometheus refused with the answer the 2.42 stand-in gave for a
/// block whose index has a bad series checksum.
fn refused(read: Read, query: &str, at_ms: i64) -> ReadError {
    ReadError {
        read,
        query: query.into(),
        at_ms: Some(at_ms),
        status: 422,
        error_type: "execution".into(),
        message:
            "expanding series: get series 4: block: 01M8S75MSHJK1FES6VPNSF6MZE: invalid checksum"
                .into(),
    }
}

/// A snapshot of a server with none of it (a fresh container).
fn empty(h: &History) -> Snapshot {
    let mut s = complete(h);
    s.blocks.clear();
    s.marker_count = None;
    for m in &mut s.marker_values {
        m.found = None;
    }
    s.head.sample = None;
    s.head.count = Some(head_count(h, Some(0)));
    s
}

#[test]
fn everything_there_survives_and_recovery_is_carried() {
    let h = history();
    let j = compare(
        &complete(&h),
        &complete(&h),
        Some(Duration::from_millis(2500)),
    );
    assert_eq!(j.verdict, Verdict::Survived, "{:#?}", j.details);
    assert_eq!(j.recovery, Some(Duration::from_millis(2500)));
    assert!(
        j.details
            .iter()
            .any(|d| d.contains("12 kept, 0 merged by compaction, 0 gone")),
        "{:#?}",
        j.details
    );
    assert!(j.details.iter().any(|d| d.contains("still there")));
}

#[test]
fn compaction_merging_blocks_still_survives_and_is_reported() {
    let h = history();
    let before = complete(&h);
    let mut after = complete(&h);
    let sources: Vec<String> = before.blocks.iter().map(|b| b.ulid.clone()).collect();
    let refs: Vec<&str> = sources.iter().map(String::as_str).collect();
    after.blocks = vec![
        block(
            "MERGED1",
            h.start_ms(),
            h.start_ms() + 6 * 7_200_000,
            &refs[..6],
        ),
        block(
            "MERGED2",
            h.start_ms() + 6 * 7_200_000,
            h.end_ms(),
            &refs[6..],
        ),
    ];
    let j = compare(&before, &after, None);
    assert_eq!(j.verdict, Verdict::Survived, "{:#?}", j.details);
    assert!(
        j.details
            .iter()
            .any(|d| d.contains("12 before, 2 after; 0 kept, 12 merged by compaction, 0 gone")),
        "{:#?}",
        j.details
    );
}

#[test]
fn a_fresh_server_loses_blocks_and_head() {
    let h = history();
    let j = compare(&complete(&h), &empty(&h), None);
    assert_lost(&j, &[PartKind::Blocks, PartKind::HeadWal]);
    assert!(
        j.details
            .iter()
            .any(|d| d.starts_with("blocks: 0 of 5760 seeded samples")),
        "{:#?}",
        j.details
    );
    assert_detail_has(&j, "misses [");
    assert_detail_has(&j, "12 gone");
}

#[test]
fn lost_blocks_with_a_surviving_head_name_only_blocks() {
    let h = history();
    let mut after = complete(&h);
    after.blocks.clear();
    after.marker_count = None;
    after.marker_values.iter_mut().for_each(|m| m.found = None);
    let j = compare(&complete(&h), &after, None);
    assert_lost(&j, &[PartKind::Blocks]);
}

#[test]
fn a_lost_head_with_surviving_blocks_names_only_the_head() {
    let h = history();
    let mut after = complete(&h);
    after.head.sample = None;
    let j = compare(&complete(&h), &after, None);
    assert_lost(&j, &[PartKind::HeadWal]);
    assert!(j.details.iter().any(|d| d.contains("is gone")));
}

#[test]
fn one_missing_block_is_a_loss_even_when_metadata_lies() {
    let h = history();
    // Metadata still lists every block, but one block's samples are gone.
    let mut after = complete(&h);
    after.marker_count = Some(h.samples() - 480);
    let j = compare(&complete(&h), &after, None);
    assert_lost(&j, &[PartKind::Blocks]);
    // And a gap in the metadata alone is a loss too.
    let mut after = complete(&h);
    after.blocks.remove(5);
    let j = compare(&complete(&h), &after, None);
    assert_lost(&j, &[PartKind::Blocks]);
    assert_detail_has(&j, "(2.0h)");
}

#[test]
fn a_different_value_is_a_change_not_a_survival() {
    let h = history();
    let mut after = complete(&h);
    after.marker_values[3].found = Some(-1.0);
    after.head.sample = Some(sample(after.head.sample.as_ref().unwrap().at_ms, "9"));
    let j = compare(&complete(&h), &after, None);
    match j.verdict {
        Verdict::Changed { parts } => {
            assert_eq!(parts.len(), 2, "{parts:?}");
            let shown: Vec<String> = parts.iter().map(ToString::to_string).collect();
            assert!(shown[0].starts_with("blocks: at "), "{shown:?}");
            assert!(
                shown[1].starts_with("head/wal: sample scrape_duration_seconds{"),
                "{shown:?}"
            );
        }
        other => panic!("expected Changed, got {other:?}"),
    }
}

/// The head series of [`complete`], as the judgement shows it.
const HEAD_SERIES: &str = r#"scrape_duration_seconds{instance="localhost:9090",job="prometheus"}"#;

#[test]
fn head_count_query_counts_the_closed_window_in_both_range_semantics() {
    let h = history();
    let c = head_count(&h, None);
    // 3 600 000 ms between the ends, plus 1: 3.x (left-open) counts
    // (from - 1, to] = [from, to], 2.x (closed) [from - 1, to].
    assert_eq!(
        c.query(),
        r#"count_over_time({__name__="scrape_duration_seconds",instance="localhost:9090",job="prometheus"}[3600001ms])"#
    );
    assert_eq!(c.window(), "[1795305600000, 1795309200000] ms (60.0 min)");
}

#[test]
fn spans_and_sample_counts_read_as_words() {
    assert_eq!(show_samples(0), "0 samples");
    assert_eq!(show_samples(1), "1 sample");
    assert_eq!(show_samples(41), "41 samples");
    assert_eq!(show_span(90_001), "90 s");
    assert_eq!(show_span(119_000), "119 s");
    assert_eq!(show_span(750_000), "12.5 min");
    assert_eq!(show_span(11_520_000), "3.2 h");
}

#[test]
fn the_same_head_count_after_survives_and_says_so() {
    let h = history();
    let j = compare(&complete(&h), &complete(&h), None);
    assert_eq!(j.verdict, Verdict::Survived, "{:#?}", j.details);
    assert_detail(
        &j,
        &format!(
            "head/wal: {HEAD_SERIES}: 240 samples before and after over [1795305600000, 1795309200000] ms (60.0 min)"
        ),
    );
}

#[test]
fn fewer_head_samples_over_the_window_is_a_loss_with_both_counts() {
    let h = history();
    let mut after = complete(&h);
    after.head.count = Some(head_count(&h, Some(90)));
    let j = compare(&complete(&h), &after, None);
    assert_lost(&j, &[PartKind::HeadWal]);
    assert_eq!(
        j.verdict,
        Verdict::Lost {
            parts: vec![Part::new(PartKind::HeadWal).with_evidence(format!(
                "{HEAD_SERIES}: 240 samples before, 90 after over [1795305600000, 1795309200000] ms (60.0 min) (150 lost)"
            ))]
        },
        "the lost part carries both counts and the difference"
    );
    assert_detail(
        &j,
        &format!(
            "head/wal: {HEAD_SERIES}: 240 samples before, 90 after over [1795305600000, 1795309200000] ms (60.0 min)"
        ),
    );
    // The exact sample is still there: only the count saw the loss.
    assert_detail(
        &j,
        &format!("head/wal: sample {HEAD_SERIES} @1795309200000 = 0.003887366 still there"),
    );
}

#[test]
fn more_head_samples_over_the_window_is_a_change() {
    let h = history();
    let mut after = complete(&h);
    after.head.count = Some(head_count(&h, Some(241)));
    let j = compare(&complete(&h), &after, None);
    assert_eq!(
        j.verdict,
        Verdict::Changed {
            parts: vec![Part::new(PartKind::HeadWal).with_evidence(format!(
                "{HEAD_SERIES}: 240 samples before, 241 after over [1795305600000, 1795309200000] ms (60.0 min)"
            ))]
        }
    );
}

#[test]
fn a_head_count_prometheus_refuses_after_is_a_loss_with_the_error() {
    let h = history();
    let mut after = complete(&h);
    let c = head_count(&h, None);
    after.read_errors = vec![refused(Read::HeadCount, &c.query(), c.to_ms)];
    after.head.count = Some(c);
    let j = compare(&complete(&h), &after, None);
    assert_lost(&j, &[PartKind::HeadWal]);
    let details = j.details.join("\n");
    assert!(
        details.contains(&format!(
            "head/wal: {HEAD_SERIES}: 240 samples before, none countable after over [1795305600000, 1795309200000] ms (60.0 min)\n\
             head/wal: unreadable: count_over_time({{__name__=\"scrape_duration_seconds\",instance=\"localhost:9090\",job=\"prometheus\"}}[3600001ms]) at 1795309200000 ms answered 422 execution: expanding series: get series 4: block: 01M8S75MSHJK1FES6VPNSF6MZE: invalid checksum\n"
        )),
        "{details}"
    );
}

#[test]
fn no_head_count_before_is_already_missing_before() {
    let h = history();
    let mut before = complete(&h);
    before.head.count = Some(head_count(&h, None));
    let j = compare(&before, &complete(&h), None);
    assert_eq!(
        j.verdict,
        Verdict::Lost {
            parts: vec![
                Part::new(PartKind::HeadWal)
                    .missing_before()
                    .with_evidence("no sample count was recorded before the disruption")
            ]
        }
    );
    assert!(
        j.details
            .contains(&"head/wal: no sample count was recorded before the disruption".to_owned()),
        "{:#?}",
        j.details
    );
}

/// `complete(h)` after a block whose index Prometheus cannot read: the
/// whole-history count and the checkpoint in that block are refused.
fn with_unreadable_block(h: &History) -> Snapshot {
    let mut after = complete(h);
    let at = h.checkpoints()[1];
    after.marker_count = None;
    after.marker_values[1].found = None;
    after.read_errors = vec![
        refused(Read::MarkerCount, &h.count_query(), h.last_ms()),
        refused(
            Read::MarkerValue { at_ms: at },
            &format!("{}[1ms]", h.selector()),
            at,
        ),
    ];
    after
}

#[test]
fn an_unreadable_block_is_lost_with_the_query_error_as_evidence() {
    let h = history();
    let j = compare(&complete(&h), &with_unreadable_block(&h), None);
    assert_lost(&j, &[PartKind::Blocks]);
    let details = j.details.join("\n");
    assert!(
        details.starts_with(
            "blocks: the count of seeded samples of storage_e2e_marker{run=\"e2e-unit\"} is unreadable; 13 of 14 checkpoints answer the seeded value (1 unreadable); block metadata (MetaJson) covers the seeded range\n\
             blocks: unreadable: count_over_time(storage_e2e_marker{run=\"e2e-unit\"}[86392500ms]) at 1795291185000 ms answered 422 execution: expanding series: get series 4: block: 01M8S75MSHJK1FES6VPNSF6MZE: invalid checksum\n\
             blocks: unreadable: storage_e2e_marker{run=\"e2e-unit\"}[1ms] at 1795208400000 ms answered 422 execution: expanding series: get series 4: block: 01M8S75MSHJK1FES6VPNSF6MZE: invalid checksum\n"
        ),
        "{details}"
    );
}

#[test]
fn errors_before_the_disruption_are_shown() {
    let h = history();
    let before = with_unreadable_block(&h);
    let j = compare(&before, &complete(&h), None);
    assert!(
        j.details.contains(
            &"blocks: unreadable before the disruption: storage_e2e_marker{run=\"e2e-unit\"}[1ms] at 1795208400000 ms answered 422 execution: expanding series: get series 4: block: 01M8S75MSHJK1FES6VPNSF6MZE: invalid checksum"
                .to_owned()
        ),
        "{:#?}",
        j.details
    );
}

#[test]
fn storage_errors_are_evidence_and_everything_else_is_the_harnesss() {
    let answer =
        |t: &str, e: &str| format!(r#"{{"status":"error","errorType":"{t}","error":"{e}"}}"#);
    // Recorded from the 2.42 stand-in: a truncated chunk file, a bad index checksum.
    let chunk = "cannot populate chunk 560 from block 00000000000000000000000000: segment doesn't include enough bytes to read the chunk size data field - required:565, available:500";
    let index =
        "expanding series: get series 4: block: 01M8S75MSHJK1FES6VPNSF6MZE: invalid checksum";
    assert_eq!(
        storage_error(422, &answer("execution", chunk)),
        Some(("execution".into(), chunk.into()))
    );
    assert_eq!(
        storage_error(500, &answer("internal", index)),
        Some(("internal".into(), index.into()))
    );
    // Not about the data: a bad query, a busy server, a query limit, a
    // proxy's page, an error type that is not an evaluation's.
    assert_eq!(
        storage_error(400, &answer("bad_data", "invalid parameter \\\"query\\\"")),
        None
    );
    assert_eq!(storage_error(503, &answer("unavailable", index)), None);
    assert_eq!(
        storage_error(
            422,
            &answer(
                "execution",
                "query processing would load too many samples into memory in query execution"
            )
        ),
        None
    );
    assert_eq!(storage_error(500, "<html>chunk proxy error</html>"), None);
    assert_eq!(storage_error(422, &answer("bad_data", index)), None);
    assert_eq!(storage_error(200, &answer("execution", index)), None);
}

/// The mutant check on recorded snapshots: the weakened judges pass the
/// damage the full judgement catches, so tests asserting the full verdict
/// fail if the judgement is weakened.
#[test]
fn weakened_judges_say_survived_where_the_full_judgement_says_lost() {
    let h = history();
    let mut fewer = complete(&h);
    fewer.head.count = Some(head_count(&h, Some(90)));
    let unreadable = with_unreadable_block(&h);
    let before = complete(&h);

    assert_eq!(
        compare(&before, &fewer, None).verdict.lost_kinds(),
        Some(vec![PartKind::HeadWal])
    );
    let weak = weakened::compare_one_exact_head_sample(&before, &fewer);
    assert_eq!(weak.verdict, Verdict::Survived, "{:#?}", weak.details);

    assert_eq!(
        compare(&before, &unreadable, None).verdict.lost_kinds(),
        Some(vec![PartKind::Blocks])
    );
    let weak = weakened::compare_ignoring_read_errors(&before, &unreadable);
    assert_eq!(weak.verdict, Verdict::Survived, "{:#?}", weak.details);
}

/// The weakened judges of the mutant checks, shared with tier 1.
mod weakened {
    use super::*;

    include!("weakened.rs");
}

#[test]
fn coverage_gaps_are_exact() {
    let b = |lo, hi| block("X", lo, hi, &["X"]);
    assert!(coverage_gaps(&[b(0, 10), b(10, 20)], 0, 20).is_empty());
    assert!(coverage_gaps(&[b(-5, 30)], 0, 20).is_empty());
    assert_eq!(coverage_gaps(&[b(0, 5), b(8, 20)], 0, 20), [(5, 8)]);
    assert_eq!(coverage_gaps(&[], 0, 20), [(0, 20)]);
    assert_eq!(coverage_gaps(&[b(0, 5), b(2, 12)], 0, 20), [(12, 20)]);
    assert_eq!(coverage_gaps(&[b(3, 25)], 0, 20), [(0, 3)]);
}

#[test]
fn meta_json_listing_parses_blocks_and_skips_scratch_dirs() {
    // The 2.42 stand-in's meta.json for a promtool block (level 1, one source).
    let out = "@@e2e-meta /prometheus/01M80F5HFH13ZP45D1JXCWWYJY/meta.json\n\
{\n\t\"ulid\": \"01M80F5HFH13ZP45D1JXCWWYJY\",\n\t\"minTime\": 1795212000000,\n\t\"maxTime\": 1795219140001,\n\t\"stats\": {\n\t\t\"numSamples\": 120,\n\t\t\"numSeries\": 1,\n\t\t\"numChunks\": 1\n\t},\n\t\"compaction\": {\n\t\t\"level\": 1,\n\t\t\"sources\": [\n\t\t\t\"01M80F5HFH13ZP45D1JXCWWYJY\"\n\t\t]\n\t},\n\t\"version\": 1\n}\n\
@@e2e-meta /prometheus/01M80F75JX5G508SQ60C7R5MY2.tmp-for-creation/meta.json\n{\"broken\n\
@@e2e-meta /prometheus/01M80F5HEN2FVY524N0NW96HH4/meta.json\n\
{\"ulid\":\"01M80F5HEN2FVY524N0NW96HH4\",\"minTime\":1795208400000,\"maxTime\":1795211940001,\"version\":1}\n";
    let blocks = parse_meta_listing(out).unwrap();
    assert_eq!(blocks.len(), 2);
    assert_eq!(
        blocks[0].ulid, "01M80F5HEN2FVY524N0NW96HH4",
        "sorted by minTime"
    );
    assert_eq!(blocks[0].num_samples, 0, "stats are omitempty");
    assert_eq!(blocks[0].sources, ["01M80F5HEN2FVY524N0NW96HH4"]);
    assert_eq!(blocks[1].num_samples, 120);
    assert_eq!(
        (blocks[1].min_time, blocks[1].max_time),
        (1_795_212_000_000, 1_795_219_140_001)
    );
}

#[test]
fn an_invalid_meta_json_is_an_error_naming_the_file() {
    let out = "@@e2e-meta /prometheus/01M80F5HEN2FVY524N0NW96HH4/meta.json\n\n";
    let e = parse_meta_listing(out)
        .expect_err("empty meta.json")
        .to_string();
    assert!(
        e.starts_with("could not parse /prometheus/01M80F5HEN2FVY524N0NW96HH4/meta.json"),
        "{e}"
    );
}

#[test]
fn timestamps_round_trip_between_seconds_and_ms() {
    assert_eq!(ms_to_seconds(1_795_312_243_622), "1795312243.622");
    assert_eq!(ms_to_seconds(1_795_312_243_002), "1795312243.002");
    assert_eq!(seconds_to_ms(1_795_312_243.622), 1_795_312_243_622);
    assert_eq!(seconds_to_ms(1_795_294_740.0), 1_795_294_740_000);
}

/// An [`Exec`] stub for the contract tests: answers `stat` and the meta.json
/// listing with canned output, and records nothing else.
struct StubExec {
    meta_listing: String,
}

#[async_trait::async_trait]
impl Exec for StubExec {
    async fn exec(&self, argv: &[&str], _stdin: Option<&[u8]>) -> Result<Output> {
        let stdout = match argv.first() {
            Some(&"stat") => "65534:65534\n".to_owned(),
            Some(&"sh") => self.meta_listing.clone(),
            _ => String::new(),
        };
        Ok(Output {
            code: Some(0),
            stdout,
            stderr: String::new(),
        })
    }

    fn target(&self) -> String {
        "stub".into()
    }
}

mod contract {
    use super::*;
    use serde_json::json;
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    /// A stub Prometheus answering GET `at` with `answer`.
    async fn stub_get(at: &str, answer: ResponseTemplate) -> MockServer {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path(at))
            .respond_with(answer)
            .mount(&server)
            .await;
        server
    }

    /// The documented answer of `/api/v1/status/tsdb/blocks` (docs/querying/api.md, v3.6).
    const BLOCKS_V3: &str = r#"{"status":"success","data":{"blocks":[{"ulid":"01JZ8JNVWDFNQDVHKQ3X8Z5MJG","minTime":1750860620060,"maxTime":1750867200000,"stats":{"numSamples":13701,"numSeries":716,"numChunks":716},"compaction":{"level":1,"sources":["01JZ8JKZY6XSK3PTDP9ZKRWT60"]},"version":1}]}}"#;

    #[tokio::test]
    async fn stub_v3_blocks_endpoint_is_used_when_it_answers() {
        let server = stub_get(
            "/api/v1/status/tsdb/blocks",
            ResponseTemplate::new(200).set_body_string(BLOCKS_V3),
        )
        .await;
        let exec = StubExec {
            meta_listing: String::new(),
        };
        let probe = PrometheusProbe::new(server.uri(), &exec);
        let (source, blocks) = probe.blocks().await.unwrap();
        assert_eq!(source, BlockSource::Api);
        assert_eq!(blocks.len(), 1);
        assert_eq!(blocks[0].num_samples, 13701);
        assert_eq!(blocks[0].sources, ["01JZ8JKZY6XSK3PTDP9ZKRWT60"]);
    }

    #[tokio::test]
    async fn stub_404_falls_back_to_meta_json_through_exec() {
        // 2.42 answers the unknown path with a plain 404 (seen on the stand-in).
        let server = stub_get(
            "/api/v1/status/tsdb/blocks",
            ResponseTemplate::new(404).set_body_string("404 page not found\n"),
        )
        .await;
        let exec = StubExec {
            meta_listing: "@@e2e-meta /prometheus/01M80F5HEN2FVY524N0NW96HH4/meta.json\n{\"ulid\":\"01M80F5HEN2FVY524N0NW96HH4\",\"minTime\":1,\"maxTime\":2}\n".into(),
        };
        let probe = PrometheusProbe::new(server.uri(), &exec);
        let (source, blocks) = probe.blocks().await.unwrap();
        assert_eq!(source, BlockSource::MetaJson);
        assert_eq!(blocks[0].ulid, "01M80F5HEN2FVY524N0NW96HH4");
        assert_eq!(probe.data_dir_owner().await.unwrap(), "65534:65534");
    }

    #[tokio::test]
    async fn stub_api_error_is_reported_with_the_servers_message() {
        let server = stub_get("/api/v1/query", ResponseTemplate::new(400).set_body_string(
                r#"{"status":"error","errorType":"bad_data","error":"invalid parameter \"query\""}"#,
            )).await;
        let exec = StubExec {
            meta_listing: String::new(),
        };
        let probe = PrometheusProbe::new(server.uri(), &exec);
        let e = probe
            .marker_count(&history())
            .await
            .expect_err("400")
            .to_string();
        assert!(
            e.contains("/api/v1/query sent query=count_over_time("),
            "{e}"
        );
        assert!(e.contains("got 400"), "{e}");
    }

    #[tokio::test]
    async fn stub_wait_ready_times_out_with_the_last_status() {
        let server = stub_get(
            "/-/ready",
            ResponseTemplate::new(503).set_body_string("Service Unavailable"),
        )
        .await;
        let exec = StubExec {
            meta_listing: String::new(),
        };
        let probe = PrometheusProbe::new(server.uri(), &exec);
        let e = probe
            .wait_ready_within(Instant::now(), Duration::from_millis(600))
            .await
            .expect_err("never ready")
            .to_string();
        assert!(
            e.contains("/-/ready to answer 200; last seen: HTTP 503: Service Unavailable"),
            "{e}"
        );
    }

    /// The head series `scrape_duration_seconds{job="prometheus"}` of the
    /// 2.42 stand-in over three runs (15 s scrapes, a restart between runs),
    /// as `[1h]` answered it before the disruption.
    const HEAD_BEFORE: &[(i64, &str)] = &[
        (1_796_142_603_787, "0.00510243"),
        (1_796_142_618_787, "0.007794026"),
        (1_796_142_633_787, "0.004217401"),
        (1_796_142_648_787, "0.007425031"),
        (1_796_142_678_787, "0.004101346"),
        (1_796_142_693_787, "0.003345741"),
    ];
    /// The same after the stand-in was stopped, the WAL segment of the
    /// second run emptied, and started again: replayed around it without a
    /// log line; the newest sample is still there.
    const HEAD_AFTER_EMPTIED_SEGMENT: &[(i64, &str)] = &[
        (1_796_142_603_787, "0.00510243"),
        (1_796_142_618_787, "0.007794026"),
        (1_796_142_678_787, "0.004101346"),
        (1_796_142_693_787, "0.003345741"),
    ];
    /// The 2.42 stand-in's answer to a query touching a block whose index
    /// has a bad series checksum (one byte of its first series entry changed).
    const BAD_INDEX_ANSWER: &str = r#"{"status":"error","errorType":"execution","error":"expanding series: get series 4: block: 01M8S75MSHJK1FES6VPNSF6MZE: invalid checksum"}"#;

    /// A stub of the query API for the judgement contract tests: answers
    /// the probe's queries (a marker count or exact value, the head series'
    /// raw samples or count) from `history` and the raw `head` samples, and
    /// answers a marker read touching `broken` (a block's `[min, max)` ms)
    /// with a recorded error answer. It models the probe's queries, not
    /// PromQL; ranges are left-open, as in 3.x.
    struct StubQueries {
        history: History,
        head: &'static [(i64, &'static str)],
        broken: Option<((i64, i64), &'static str)>,
    }

    impl StubQueries {
        fn answer(&self, query: &str, at_ms: i64) -> ResponseTemplate {
            let (counting, inner) = match query
                .strip_prefix("count_over_time(")
                .and_then(|q| q.strip_suffix(')'))
            {
                Some(inner) => (true, inner),
                None => (false, query),
            };
            let (selector, range) = inner.rsplit_once('[').expect("a range selector");
            let range = range.trim_end_matches(']');
            let split = range.find(|c: char| !c.is_ascii_digit()).expect("a unit");
            let unit_ms = match &range[split..] {
                "ms" => 1,
                "s" => 1000,
                "m" => 60_000,
                "h" => 3_600_000,
                other => panic!("unit {other}"),
            };
            let range_ms = unit_ms * range[..split].parse::<i64>().expect("a number");
            let inside = |t: i64| at_ms - range_ms < t && t <= at_ms;
            let marker = selector.starts_with(crate::prometheus::history::MARKER_METRIC);
            if let Some(((lo, hi), body)) = self.broken
                && marker
                && at_ms - range_ms < hi
                && lo <= at_ms
            {
                return ResponseTemplate::new(422).set_body_string(body);
            }
            let h = &self.history;
            let samples: Vec<(i64, String)> = if marker {
                (h.start_ms()..h.end_ms())
                    .step_by(usize::try_from(h.step_ms()).expect("step"))
                    .filter(|t| inside(*t))
                    .map(|t| (t, h.value_at(t).expect("a sample time").to_string()))
                    .collect()
            } else {
                self.head
                    .iter()
                    .filter(|(t, _)| inside(*t))
                    .map(|(t, v)| (*t, (*v).to_owned()))
                    .collect()
            };
            let secs = |ms: i64| ms as f64 / 1000.0;
            let result = match (counting, samples.is_empty()) {
                (_, true) => json!([]),
                (true, false) => {
                    json!([{"metric": {}, "value": [secs(at_ms), samples.len().to_string()]}])
                }
                (false, false) => {
                    let metric = if marker {
                        json!({"__name__": crate::prometheus::history::MARKER_METRIC, "run": h.run()})
                    } else {
                        json!({"__name__": "scrape_duration_seconds", "instance": "localhost:9090", "job": "prometheus"})
                    };
                    let values: Vec<_> =
                        samples.iter().map(|(t, v)| json!([secs(*t), v])).collect();
                    json!([{"metric": metric, "values": values}])
                }
            };
            let kind = if counting { "vector" } else { "matrix" };
            ResponseTemplate::new(200).set_body_json(
                json!({"status": "success", "data": {"resultType": kind, "result": result}}),
            )
        }
    }

    impl wiremock::Respond for StubQueries {
        fn respond(&self, request: &wiremock::Request) -> ResponseTemplate {
            let params: BTreeMap<String, String> = request.url.query_pairs().into_owned().collect();
            // "Now" is just after the newest head sample.
            let now = self.head.last().map_or(0, |(t, _)| t + 1000);
            let at_ms = params
                .get("time")
                .map_or(now, |t| seconds_to_ms(t.parse().expect("time")));
            self.answer(&params["query"], at_ms)
        }
    }

    /// A stub server around `queries`: head stats from its head samples,
    /// clean_start 1, and the 2.x 404 for the v3.6 blocks endpoint (blocks
    /// come from [`meta_listing`] through [`StubExec`]).
    async fn serve(queries: StubQueries) -> MockServer {
        let server = MockServer::start().await;
        let min = queries.head.first().map_or(0, |(t, _)| *t);
        let max = queries.head.last().map_or(0, |(t, _)| *t);
        Mock::given(method("GET"))
            .and(path("/api/v1/status/tsdb"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "status": "success",
                "data": {"headStats": {"numSeries": 360, "minTime": min, "maxTime": max}}
            })))
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path("/metrics"))
            .respond_with(
                ResponseTemplate::new(200).set_body_string("prometheus_tsdb_clean_start 1\n"),
            )
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path("/api/v1/status/tsdb/blocks"))
            .respond_with(ResponseTemplate::new(404).set_body_string("404 page not found\n"))
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path("/api/v1/query"))
            .respond_with(queries)
            .mount(&server)
            .await;
        server
    }

    /// The meta.json listing of [`seeded_blocks`], with ULID names.
    fn meta_listing(h: &History) -> String {
        seeded_blocks(h)
            .iter()
            .enumerate()
            .map(|(i, b)| {
                let ulid = format!("01M80F5HEN2FVY524N0NW96H{i:02}");
                let meta = json!({
                    "ulid": ulid, "minTime": b.min_time, "maxTime": b.max_time,
                    "stats": {"numSamples": 480}, "compaction": {"level": 1, "sources": [ulid]}, "version": 1
                });
                format!("@@e2e-meta /prometheus/{ulid}/meta.json\n{meta}\n")
            })
            .collect()
    }

    /// Snapshot a stub with `before`'s head, then one with `after`'s head
    /// and `broken` block, as a cell does around a disruption.
    async fn snapshots(
        after: &'static [(i64, &'static str)],
        broken: Option<((i64, i64), &'static str)>,
    ) -> (Snapshot, Snapshot) {
        let h = history();
        let exec = StubExec {
            meta_listing: meta_listing(&h),
        };
        let server = serve(StubQueries {
            history: h.clone(),
            head: HEAD_BEFORE,
            broken: None,
        })
        .await;
        let before = PrometheusProbe::new(server.uri(), &exec)
            .snapshot(&h)
            .await
            .expect("before snapshot");
        let server = serve(StubQueries {
            history: h.clone(),
            head: after,
            broken,
        })
        .await;
        let after = PrometheusProbe::new(server.uri(), &exec)
            .snapshot_after(&before)
            .await
            .expect("after snapshot: a storage error is a finding, not an error");
        (before, after)
    }

    #[tokio::test]
    async fn stub_head_replayed_around_an_emptied_wal_segment_is_lost_and_only_the_count_sees_it() {
        let (before, after) = snapshots(HEAD_AFTER_EMPTIED_SEGMENT, None).await;
        assert_eq!(
            before
                .head
                .count
                .as_ref()
                .map(|c| (c.from_ms, c.to_ms, c.samples)),
            Some((1_796_142_603_787, 1_796_142_693_787, Some(6))),
            "the window runs from the head's min time to the newest sample"
        );
        let j = compare(&before, &after, None);
        assert_eq!(
            j.verdict.lost_kinds(),
            Some(vec![PartKind::HeadWal]),
            "{:#?}",
            j.details
        );
        assert_detail(
            &j,
            &format!(
                "head/wal: {HEAD_SERIES}: 6 samples before, 4 after over [1796142603787, 1796142693787] ms (90 s)"
            ),
        );
        // The mutant check: the one-exact-sample head check passes it.
        let weak = weakened::compare_one_exact_head_sample(&before, &after);
        assert_eq!(weak.verdict, Verdict::Survived, "{:#?}", weak.details);
    }

    #[tokio::test]
    async fn stub_unreadable_block_is_a_verdict_with_the_error_not_an_error() {
        let h = history();
        let first_block = (h.start_ms(), h.start_ms() + 7_200_000);
        let (before, after) = snapshots(HEAD_BEFORE, Some((first_block, BAD_INDEX_ANSWER))).await;
        assert_eq!(
            after.read_errors.iter().map(|e| e.read).collect::<Vec<_>>(),
            [
                Read::MarkerCount,
                Read::MarkerValue {
                    at_ms: h.start_ms()
                },
                Read::MarkerValue {
                    at_ms: h.start_ms() + 3_600_000
                },
            ]
        );
        let j = compare(&before, &after, None);
        assert_eq!(
            j.verdict.lost_kinds(),
            Some(vec![PartKind::Blocks]),
            "{:#?}",
            j.details
        );
        assert!(
            j.details.contains(
                &"blocks: unreadable: count_over_time(storage_e2e_marker{run=\"e2e-unit\"}[86392500ms]) at 1795291185000 ms answered 422 execution: expanding series: get series 4: block: 01M8S75MSHJK1FES6VPNSF6MZE: invalid checksum"
                    .to_owned()
            ),
            "{:#?}",
            j.details
        );
        // The mutant check: a judge ignoring query errors passes it.
        let weak = weakened::compare_ignoring_read_errors(&before, &after);
        assert_eq!(weak.verdict, Verdict::Survived, "{:#?}", weak.details);
    }

    #[tokio::test]
    async fn stub_answers_that_say_nothing_about_the_data_stay_harness_errors() {
        let h = history();
        let before = complete(&h);
        let exec = StubExec {
            meta_listing: meta_listing(&h),
        };
        for (status, body, shown) in [
            (
                400,
                r#"{"status":"error","errorType":"bad_data","error":"invalid parameter \"query\""}"#,
                "got 400",
            ),
            (
                503,
                r#"{"status":"error","errorType":"unavailable","error":"block reload in progress"}"#,
                "got 503",
            ),
            (
                422,
                r#"{"status":"error","errorType":"execution","error":"query processing would load too many samples into memory in query execution"}"#,
                "got 422",
            ),
        ] {
            let server = stub_get("/api/v1/status/tsdb/blocks", ResponseTemplate::new(404)).await;
            Mock::given(method("GET"))
                .and(path("/api/v1/query"))
                .respond_with(ResponseTemplate::new(status).set_body_string(body))
                .mount(&server)
                .await;
            let e = PrometheusProbe::new(server.uri(), &exec)
                .snapshot_after(&before)
                .await
                .expect_err(body)
                .to_string();
            assert!(e.contains(shown), "{e}");
        }
        // Nothing listening: no answer at all.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let e = PrometheusProbe::new(format!("127.0.0.1:{port}"), &exec)
            .snapshot_after(&before)
            .await
            .expect_err("connection refused");
        assert!(matches!(e, Error::Http { .. }), "{e:?}");
    }
}

/// `j` gives `line` among its details (all of them shown when not).
/// `j` is a loss of exactly `kinds` (none of them missing before).
fn assert_lost(j: &Judgement, kinds: &[PartKind]) {
    assert_eq!(j.verdict.lost_kinds(), Some(kinds.to_vec()), "{:#?}", j);
}

fn assert_detail(j: &Judgement, line: &str) {
    assert!(
        j.details.iter().any(|d| d == line),
        "{line:?} not in {:#?}",
        j.details
    );
}

/// Some detail of `j` contains `part` (all of them shown when not).
fn assert_detail_has(j: &Judgement, part: &str) {
    assert!(
        j.details.iter().any(|d| d.contains(part)),
        "{part:?} in none of {:#?}",
        j.details
    );
}
