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
        Some("expectations") => print!("{}", harness::expect::render_markdown()),
        _ => anyhow::bail!("usage: storage-e2e <command>; commands: expectations"),
    }
    Ok(())
}
