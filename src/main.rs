//! `storage-e2e`: small command-line entry points for the Makefile
//! (`make render`, ...). Tests are the main interface; this is for people.

use std::io::Write as _;

use harness::config::Config;
use harness::manifest::{self, Params};
use harness::vocab::{NamedId, Variant};

fn main() {
    if let Err(e) = run() {
        eprintln!("error: {e:#}");
        std::process::exit(2);
    }
}

fn run() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("sweep") => sweep(&args[1..]),
        Some("expectations") => print_out(&harness::expect::render_markdown()),
        Some("variants") => print_out(&variants()),
        Some("render") => print_out(&render(&args[1..], |k| std::env::var(k).ok())?),
        Some("observed") => observed(&args[1..]),
        Some("discount") => discount(&args[1..]),
        Some("matrix") => matrix(&args[1..]),
        _ => anyhow::bail!(
            "usage: storage-e2e <command>; commands: variants, render <id>, expectations, \
             sweep [--run <id>], observed --host <words> <report.json>..., \
             discount <cell> <date> <outcome> <why>, matrix --out <dir> <report.json>..."
        ),
    }
}

/// Write to stdout; a closed pipe (`| head`) is not worth a panic.
fn print_out(text: &str) -> anyhow::Result<()> {
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(()),
    }
}

/// `storage-e2e variants` (make render's usage line, scripts/lint.sh): the
/// storage variant ids on one line.
fn variants() -> String {
    let ids: Vec<&str> = Variant::ALL.iter().map(|v| v.id()).collect();
    format!("{}\n", ids.join(" "))
}

/// `storage-e2e render <id>` (make render): the variant's manifests with
/// placeholder parameters; `env` is the environment (a map in tests).
fn render(args: &[String], env: impl Fn(&str) -> Option<String>) -> anyhow::Result<String> {
    let [id] = args else {
        anyhow::bail!(
            "usage: storage-e2e render <id>  (ids: {})",
            variants().trim()
        );
    };
    let variant = Variant::parse_id(id)?;
    let config = Config::from_lookup(env)?;
    let rendered = manifest::render(&config.manifests_dir, variant, &render_params(&config))?;
    Ok(rendered.to_yaml()?)
}

/// The placeholder parameters, with what the environment says about images
/// (mirrors, air-gapped machines) and the user's StorageClass.
fn render_params(config: &Config) -> Params {
    let mut params = Params::placeholder();
    params.images = config.images.clone();
    if let Some(class) = &config.storage_class {
        params.storage_class = Some(class.clone());
    }
    params
}

/// `storage-e2e observed --host <words> <report.json>...` (make observed):
/// add real runs' reports to the record docs/expectations.md is rendered
/// with (harness::expect::ObservedRecord), dated today (UTC).
fn observed(args: &[String]) -> anyhow::Result<()> {
    let usage = "usage: storage-e2e observed --host <words> <report.json>...";
    let [flag, host, reports @ ..] = args else {
        anyhow::bail!(usage);
    };
    anyhow::ensure!(flag == "--host" && !reports.is_empty(), usage);
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(harness::expect::OBSERVED_PATH);
    let text = std::fs::read_to_string(&path)
        .map_err(|e| anyhow::anyhow!("read {}: {e}", path.display()))?;
    let mut record = harness::expect::ObservedRecord::from_json(&text)?;
    let today = harness::expect::ObservedRecord::today();
    for report in reports {
        let text =
            std::fs::read_to_string(report).map_err(|e| anyhow::anyhow!("read {report}: {e}"))?;
        let n = record
            .add_report(&text, &today, host)
            .map_err(|e| anyhow::anyhow!("{report}: {e}"))?;
        eprintln!("{report}: {n} cells recorded");
    }
    std::fs::write(&path, record.to_json())
        .map_err(|e| anyhow::anyhow!("write {}: {e}", path.display()))?;
    Ok(())
}

/// `storage-e2e discount <cell> <date> <outcome> <why>` (make discount):
/// mark observations on record as made by a harness that did not do what
/// the cell claims (shown, no longer counted), then re-render nothing: the
/// Makefile regenerates docs/expectations.md.
fn discount(args: &[String]) -> anyhow::Result<()> {
    let [cell, date, outcome, why] = args else {
        anyhow::bail!(
            "usage: storage-e2e discount '<variant/disruption on provider>' <YYYY-MM-DD> <outcome label> <why>"
        );
    };
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(harness::expect::OBSERVED_PATH);
    let text = std::fs::read_to_string(&path)
        .map_err(|e| anyhow::anyhow!("read {}: {e}", path.display()))?;
    let mut record = harness::expect::ObservedRecord::from_json(&text)?;
    let n = record.discount(cell, date, outcome, why)?;
    eprintln!("{cell}: {n} observation(s) of {date} discounted");
    std::fs::write(&path, record.to_json())
        .map_err(|e| anyhow::anyhow!("write {}: {e}", path.display()))?;
    Ok(())
}

/// `storage-e2e matrix --out <dir> <report.json>...` (make matrix): one
/// report over several runs, one per Kubernetes minor: `<dir>/report.json`
/// holds every run's cells (each with its minor, so `make observed` records
/// them all) and `<dir>/report.md` adds the cells x minors table to the
/// per-minor matrices. Each run's notes are kept, prefixed with its report.
fn matrix(args: &[String]) -> anyhow::Result<()> {
    let usage = "usage: storage-e2e matrix --out <dir> <report.json>...";
    let [flag, out, reports @ ..] = args else {
        anyhow::bail!(usage);
    };
    anyhow::ensure!(flag == "--out" && !reports.is_empty(), usage);
    let (mut cells, mut notes, mut timings) = (Vec::new(), Vec::new(), Vec::new());
    for report in reports {
        let text = std::fs::read_to_string(report).map_err(|e| {
            anyhow::anyhow!("read {report}: {e} (a minor whose run wrote no report.json failed before its first cell; its log says why)")
        })?;
        let (c, n) =
            harness::report::read_json(&text).map_err(|e| anyhow::anyhow!("{report}: {e}"))?;
        let minor = c
            .iter()
            .find_map(|c| c.k8s_version.clone())
            .unwrap_or_else(|| report.clone());
        timings.push((minor, harness::report::run_timing(&n)));
        notes.extend(n.into_iter().map(|n| format!("{report}: {n}")));
        cells.extend(c);
    }
    let out = std::path::Path::new(out);
    std::fs::create_dir_all(out).map_err(|e| anyhow::anyhow!("create {}: {e}", out.display()))?;
    for (file, text) in [
        ("report.json", harness::report::render_json(&cells, &notes)?),
        (
            "report.md",
            harness::report::render_markdown(&cells, &notes)
                + &harness::report::render_run_timings(&timings),
        ),
    ] {
        let path = out.join(file);
        std::fs::write(&path, text)
            .map_err(|e| anyhow::anyhow!("write {}: {e}", path.display()))?;
    }
    eprintln!(
        "{} cells from {} reports: {}",
        cells.len(),
        reports.len(),
        out.join("report.md").display()
    );
    Ok(())
}

/// `storage-e2e sweep [--run <id>]` (make clean): remove every cluster,
/// container, network and volume a run left behind, or only run <id>'s.
fn sweep(args: &[String]) -> anyhow::Result<()> {
    use harness::cluster::sweep::{Selector, sweep};
    let selector = match args {
        [] => Selector::All,
        [flag, id] if flag == "--run" => Selector::Run(id.clone()),
        _ => anyhow::bail!("usage: storage-e2e sweep [--run <id>]"),
    };
    let report = sweep(&selector, &std::env::var("PATH").unwrap_or_default())?;
    print!("{report}");
    report.into_result()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render_with(args: &[&str], env: &[(&str, &str)]) -> Result<String, String> {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        let lookup = |k: &str| {
            env.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        };
        render(&args, lookup).map_err(|e| format!("{e:#}"))
    }

    #[test]
    fn variants_prints_every_id_on_one_line() {
        assert_eq!(
            variants(),
            "empty-dir host-path local-pv nfs-static nfs-dynamic default-class statefulset rwop custom-class csi-rwo \
             operator-default operator-claim operator-claim-delete operator-claim-csi thanos-empty-dir thanos-claim thanos-compacting\n"
        );
    }

    #[test]
    fn render_prints_yaml_with_overrides_from_the_environment() {
        let out = render_with(
            &["custom-class"],
            &[
                ("E2E_STORAGE_CLASS", "fast-ssd"),
                ("HARNESS_PROMETHEUS_IMAGE", "mirror.local/prom:v3.7.3"),
            ],
        );
        let out = out.unwrap_or_else(|e| panic!("{e}"));
        assert!(
            out.starts_with(
                "# storage-e2e: storage variant custom-class in namespace e2e-render\n"
            ),
            "{out}"
        );
        assert!(out.contains("storageClassName: fast-ssd"), "{out}");
        assert!(out.contains("image: mirror.local/prom:v3.7.3"), "{out}");
    }

    #[test]
    fn bad_input_is_one_clear_line() {
        assert_eq!(
            render_with(&["x"], &[]),
            Err(
                "unknown storage variant \"x\": valid ones are empty-dir, host-path, local-pv, nfs-static, \
                 nfs-dynamic, default-class, statefulset, rwop, custom-class, csi-rwo, operator-default, \
                 operator-claim, operator-claim-delete, operator-claim-csi, thanos-empty-dir, thanos-claim, \
                 thanos-compacting"
                    .to_owned()
            )
        );
        let e = render_with(
            &["rwop"],
            &[("HARNESS_GRAFANA_IMAGE", "grafana/grafana:latest")],
        );
        assert!(
            matches!(&e, Err(m) if m.starts_with("HARNESS_GRAFANA_IMAGE=")),
            "{e:?}"
        );
        let e = render_with(&[], &[]);
        assert!(
            matches!(&e, Err(m) if m.starts_with("usage: storage-e2e render <id>  (ids: empty-dir host-path")),
            "{e:?}"
        );
    }

    #[test]
    fn matrix_names_a_missing_report_and_merges_the_ones_it_gets() {
        let args = |a: &[&str]| a.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        let e = matrix(&args(&["--out", "/nowhere"]))
            .unwrap_err()
            .to_string();
        assert_eq!(e, "usage: storage-e2e matrix --out <dir> <report.json>...");
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let missing = dir.path().join("1.34/report.json");
        let out = dir.path().join("all");
        let e = matrix(&args(&[
            "--out",
            &out.to_string_lossy(),
            &missing.to_string_lossy(),
        ]))
        .unwrap_err()
        .to_string();
        assert!(
            e.starts_with(&format!("read {}: ", missing.display()))
                && e.contains("failed before its first cell"),
            "{e}"
        );
        let empty = dir.path().join("empty.json");
        std::fs::write(&empty, r#"{"notes": ["n"], "cells": []}"#)
            .unwrap_or_else(|e| panic!("{e}"));
        matrix(&args(&[
            "--out",
            &out.to_string_lossy(),
            &empty.to_string_lossy(),
        ]))
        .unwrap_or_else(|e| panic!("{e}"));
        let md = std::fs::read_to_string(out.join("report.md")).unwrap_or_else(|e| panic!("{e}"));
        assert!(md.contains(&format!("- {}: n", empty.display())), "{md}");
        assert!(out.join("report.json").is_file());
    }
}
