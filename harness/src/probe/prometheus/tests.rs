//! Unit tests of the judgement, and contract tests of the API parsing
//! against a stub server (named as such): the v3.6+ blocks endpoint cannot
//! run for real here (the stand-in is 2.42), so its documented shape is
//! pinned by a stub.

use super::*;
use crate::cmd::Output;

use std::time::{Duration, UNIX_EPOCH};

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
        },
        clean_start: Some(1),
        data_dir_owner: "65534:65534".into(),
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
    assert_eq!(
        j.verdict,
        Verdict::Lost {
            parts: vec![part::BLOCKS.into(), part::HEAD.into()]
        }
    );
    assert!(
        j.details
            .iter()
            .any(|d| d.starts_with("blocks: 0 of 5760 seeded samples")),
        "{:#?}",
        j.details
    );
    assert!(
        j.details.iter().any(|d| d.contains("misses [")),
        "{:#?}",
        j.details
    );
    assert!(
        j.details.iter().any(|d| d.contains("12 gone")),
        "{:#?}",
        j.details
    );
}

#[test]
fn lost_blocks_with_a_surviving_head_name_only_blocks() {
    let h = history();
    let mut after = complete(&h);
    after.blocks.clear();
    after.marker_count = None;
    after.marker_values.iter_mut().for_each(|m| m.found = None);
    let j = compare(&complete(&h), &after, None);
    assert_eq!(
        j.verdict,
        Verdict::Lost {
            parts: vec![part::BLOCKS.into()]
        }
    );
}

#[test]
fn a_lost_head_with_surviving_blocks_names_only_the_head() {
    let h = history();
    let mut after = complete(&h);
    after.head.sample = None;
    let j = compare(&complete(&h), &after, None);
    assert_eq!(
        j.verdict,
        Verdict::Lost {
            parts: vec![part::HEAD.into()]
        }
    );
    assert!(j.details.iter().any(|d| d.contains("is gone")));
}

#[test]
fn one_missing_block_is_a_loss_even_when_metadata_lies() {
    let h = history();
    // Metadata still lists every block, but one block's samples are gone.
    let mut after = complete(&h);
    after.marker_count = Some(h.samples() - 480);
    let j = compare(&complete(&h), &after, None);
    assert_eq!(
        j.verdict,
        Verdict::Lost {
            parts: vec![part::BLOCKS.into()]
        }
    );
    // And a gap in the metadata alone is a loss too.
    let mut after = complete(&h);
    after.blocks.remove(5);
    let j = compare(&complete(&h), &after, None);
    assert_eq!(
        j.verdict,
        Verdict::Lost {
            parts: vec![part::BLOCKS.into()]
        }
    );
    assert!(
        j.details.iter().any(|d| d.contains("(2.0h)")),
        "{:#?}",
        j.details
    );
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
            assert!(parts[0].starts_with("blocks: at "), "{parts:?}");
            assert!(
                parts[1].starts_with("head/wal: sample scrape_duration_seconds{"),
                "{parts:?}"
            );
        }
        other => panic!("expected Changed, got {other:?}"),
    }
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
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    /// The documented answer of `/api/v1/status/tsdb/blocks` (docs/querying/api.md, v3.6).
    const BLOCKS_V3: &str = r#"{"status":"success","data":{"blocks":[{"ulid":"01JZ8JNVWDFNQDVHKQ3X8Z5MJG","minTime":1750860620060,"maxTime":1750867200000,"stats":{"numSamples":13701,"numSeries":716,"numChunks":716},"compaction":{"level":1,"sources":["01JZ8JKZY6XSK3PTDP9ZKRWT60"]},"version":1}]}}"#;

    #[tokio::test]
    async fn stub_v3_blocks_endpoint_is_used_when_it_answers() {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path("/api/v1/status/tsdb/blocks"))
            .respond_with(ResponseTemplate::new(200).set_body_string(BLOCKS_V3))
            .mount(&server)
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
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path("/api/v1/status/tsdb/blocks"))
            .respond_with(ResponseTemplate::new(404).set_body_string("404 page not found\n"))
            .mount(&server)
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
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path("/api/v1/query"))
            .respond_with(ResponseTemplate::new(400).set_body_string(
                r#"{"status":"error","errorType":"bad_data","error":"invalid parameter \"query\""}"#,
            ))
            .mount(&server)
            .await;
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
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path("/-/ready"))
            .respond_with(ResponseTemplate::new(503).set_body_string("Service Unavailable"))
            .mount(&server)
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
}
