// The deliberately weakened judges of the mutant checks. Test builds only:
// included by prometheus/tests.rs (tier 0) and by
// tests/containers/prom_support.rs (tier 1), never by the library. Each runs
// the real `compare` on an `after` snapshot with one kind of evidence taken
// out, so a damage test can show that this evidence is what catches the
// damage: where a weakened judge says survived, the full one must not.
//
// The includer brings `compare`, `Judgement`, `Read` and `Snapshot` into scope.

/// The head check before sample counting: only the one exact head sample
/// is looked up. The after count is replaced by the before count (and a
/// count Prometheus refused is forgotten), so no shortfall can show.
pub fn compare_one_exact_head_sample(before: &Snapshot, after: &Snapshot) -> Judgement {
    let mut after = after.clone();
    after.head.count.clone_from(&before.head.count);
    after.read_errors.retain(|e| e.read != Read::HeadCount);
    compare(before, &after, None)
}

/// A judge that ignores query errors: every read Prometheus answered with a
/// storage error is taken as if it had answered what it answered before
/// the disruption, so only the reads that succeeded are judged.
pub fn compare_ignoring_read_errors(before: &Snapshot, after: &Snapshot) -> Judgement {
    let mut after = after.clone();
    for e in std::mem::take(&mut after.read_errors) {
        match e.read {
            Read::MarkerCount => after.marker_count = before.marker_count,
            Read::MarkerValue { at_ms } => {
                let was = before
                    .marker_values
                    .iter()
                    .find(|m| m.at_ms == at_ms)
                    .and_then(|m| m.found);
                for m in after.marker_values.iter_mut().filter(|m| m.at_ms == at_ms) {
                    m.found = was;
                }
            }
            Read::HeadSample => after.head.sample.clone_from(&before.head.sample),
            Read::HeadCount => after.head.count.clone_from(&before.head.count),
        }
    }
    compare(before, &after, None)
}
