//! The server's log: read with `docker logs`, both streams merged in time
//! order, and cut down to what an error should quote.

use crate::cmd::Cmd;
use crate::error::Result;

/// The log of container `name`, both streams merged in time order.
pub(super) async fn container_logs(name: &str) -> Result<String> {
    let out = Cmd::new("docker")
        .args(["logs", "--timestamps", name])
        .quiet()
        .run_async()
        .await?;
    Ok(merge_timestamped(&out.stdout, &out.stderr))
}

/// The entrypoint's own `nfs-server:` lines (what it exported, or why it
/// refused), then the last `n` other lines: ganesha's log can be long.
pub(super) fn log_excerpt(text: &str, n: usize) -> String {
    let (ours, theirs): (Vec<&str>, Vec<&str>) =
        text.lines().partition(|l| l.starts_with("nfs-server:"));
    let tail = &theirs[theirs.len().saturating_sub(n)..];
    ours.iter()
        .chain(tail)
        .copied()
        .collect::<Vec<_>>()
        .join("\n")
}

/// Merge `docker logs --timestamps` stdout and stderr into one stream in
/// time order, without the timestamps. Docker's timestamps have a fixed
/// width, so they sort as strings.
fn merge_timestamped(stdout: &str, stderr: &str) -> String {
    let mut lines: Vec<(&str, &str)> = stdout
        .lines()
        .chain(stderr.lines())
        .map(|l| l.split_once(' ').unwrap_or((l, "")))
        .collect();
    lines.sort_by(|a, b| a.0.cmp(b.0));
    let mut out = String::new();
    for (_, text) in lines {
        out.push_str(text);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logs_merge_in_time_order_and_keep_the_end() {
        let out =
            "2026-11-22T01:50:48.000000002Z ganesha up\n2026-11-22T01:50:49.000000000Z later\n";
        let err = "2026-11-22T01:50:48.000000001Z nfs-server: configuration error\n";
        let merged = merge_timestamped(out, err);
        assert_eq!(
            merged,
            "nfs-server: configuration error\nganesha up\nlater\n"
        );
        assert_eq!(
            log_excerpt(&merged, 1),
            "nfs-server: configuration error\nlater"
        );
    }
}
