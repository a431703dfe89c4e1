//! Tier-0 tests of timeline records.

use super::record::{DeploymentRecord, Entry, PodRecord, Record, Timeline};

fn pod(name: &str) -> Record {
    Record::Pod(PodRecord {
        name: name.into(),
        uid: String::new(),
        node: Some("n1".into()),
        phase: "Running".into(),
        ready: true,
        terminating: false,
        deleted: false,
        unschedulable: None,
        containers: vec![],
    })
}

#[test]
fn only_keeps_the_workloads_objects() {
    let t = Timeline::from_records([
        pod("prometheus-7d9f8-abcde"),
        pod("grafana-5c6b7-xyz12"),
        Record::Deployment(DeploymentRecord {
            name: "prometheus".into(),
            replicas: 1,
            updated: 1,
            ready: 1,
            available: 1,
            observed: true,
            conditions: vec![],
        }),
        Record::Note { text: "x".into() },
    ]);
    let p = t.only("prometheus");
    assert_eq!(p.entries.len(), 2);
    assert!(
        p.entries
            .iter()
            .all(|e| e.record.object().contains("prometheus"))
    );
}

#[test]
fn pods_keep_the_last_state() {
    let mut second = pod("a");
    if let Record::Pod(p) = &mut second {
        p.ready = false;
    }
    let t = Timeline::from_records([pod("a"), pod("b"), second]);
    let pods = t.pods();
    assert_eq!(pods.len(), 2);
    assert!(!pods[0].ready);
}

#[test]
fn render_text_has_elapsed_time() {
    let t = Timeline {
        entries: vec![Entry {
            at_ms: 12_345,
            record: pod("p"),
        }],
    };
    assert_eq!(
        t.render_text(),
        "[   12.3s] Pod/p Running ready=true node=n1\n"
    );
}
