//! `storage-e2e`: small command-line entry points for the Makefile
//! (`make render`, ...). Tests are the main interface; this is for people.

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
        _ => anyhow::bail!("usage: storage-e2e <command>; commands: sweep [--run <id>]"),
    }
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
