//! The command line. Small on purpose: the driver is started by manifests
//! and tests, never by hand, so every mistake must produce one line that
//! names the argument and the fix (a pod's last log line is often all
//! anyone reads).

use std::fmt;
use std::path::{Path, PathBuf};

use crate::DRIVER_NAME;
use crate::ids::NodeId;
use crate::san::DEFAULT_ROOT;

/// The CSI socket when `--endpoint` is not given (in the container).
pub const DEFAULT_ENDPOINT: &str = "unix:///csi/csi.sock";

/// The registration socket the kubelet's plugin watcher finds.
pub fn default_registration_socket() -> PathBuf {
    PathBuf::from(format!(
        "/var/lib/kubelet/plugins_registry/{DRIVER_NAME}-reg.sock"
    ))
}

/// The CSI socket as the kubelet sees it on the node.
pub fn default_kubelet_endpoint() -> PathBuf {
    PathBuf::from(format!("/var/lib/kubelet/plugins/{DRIVER_NAME}/csi.sock"))
}

/// The usage text.
pub const USAGE: &str = "\
usage:
  storage-e2e-csi controller [--endpoint unix:///csi/csi.sock] [--san DIR]
  storage-e2e-csi node --node-id NAME [--endpoint unix:///csi/csi.sock] [--san DIR]
                       [--registration-socket PATH] [--kubelet-endpoint PATH]
  storage-e2e-csi all --node-id NAME [--endpoint ...] [--san DIR] [--registration-socket PATH]
                       (controller and node on one socket, for csi-sanity)
  storage-e2e-csi selftest [--endpoint unix:///csi/csi.sock] [--dir DIR] [--size-mib N] [--leave-staged]
                       (drive a running `all` driver through a volume's life)
  storage-e2e-csi --version | --help

--san defaults to /var/lib/storage-e2e-san: the directory every node sees.
In node mode the driver registers with the kubelet itself through
--registration-socket (default /var/lib/kubelet/plugins_registry/loop.csi.storage-e2e.test-reg.sock),
naming --kubelet-endpoint (default /var/lib/kubelet/plugins/loop.csi.storage-e2e.test/csi.sock)
as its CSI socket: the path of --endpoint as the kubelet sees it.";

/// Which services a process serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Identity + Controller (one replica per cluster).
    Controller,
    /// Identity + Node (one per node), registered with the kubelet.
    Node,
    /// Everything on one socket: csi-sanity's setup.
    All,
}

impl Mode {
    /// Whether the Controller service is served.
    pub fn controller(self) -> bool {
        matches!(self, Self::Controller | Self::All)
    }

    /// Whether the Node service is served.
    pub fn node(self) -> bool {
        matches!(self, Self::Node | Self::All)
    }

    fn name(self) -> &'static str {
        match self {
            Self::Controller => "controller",
            Self::Node => "node",
            Self::All => "all",
        }
    }
}

/// Registration with the kubelet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registration {
    /// The socket to serve `pluginregistration.Registration` on.
    pub socket: PathBuf,
    /// The CSI socket's path as the kubelet sees it.
    pub kubelet_endpoint: PathBuf,
}

/// What `controller`, `node` and `all` need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Serve {
    /// The services.
    pub mode: Mode,
    /// The CSI socket.
    pub endpoint: PathBuf,
    /// The SAN directory.
    pub san: PathBuf,
    /// This node (node and all modes).
    pub node_id: Option<NodeId>,
    /// Registration with the kubelet, when wanted.
    pub registration: Option<Registration>,
}

/// What `selftest` needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selftest {
    /// The driver's socket.
    pub endpoint: PathBuf,
    /// Where the staging and target directories go.
    pub dir: PathBuf,
    /// The volume's size.
    pub size_mib: u64,
    /// Stop with the volume staged and published, so the caller can see
    /// what a node stop does to it.
    pub leave_staged: bool,
}

/// A parsed command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Serve CSI.
    Serve(Serve),
    /// Run the self-test client.
    Selftest(Selftest),
    /// Print the usage.
    Help,
    /// Print the version.
    Version,
}

/// A command-line mistake: one line, naming the argument and the fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CliError(pub String);

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for CliError {}

fn err<T>(message: impl Into<String>) -> Result<T, CliError> {
    Err(CliError(message.into()))
}

/// The socket path of an `--endpoint` (`unix:///p`, `unix:/p` or `/p`).
///
/// # Errors
/// Anything but an absolute unix socket path.
pub fn socket_path(endpoint: &str) -> Result<PathBuf, CliError> {
    let path = endpoint
        .strip_prefix("unix://")
        .or_else(|| endpoint.strip_prefix("unix:"))
        .unwrap_or(endpoint);
    if path.starts_with('/') && !path.ends_with('/') {
        Ok(PathBuf::from(path))
    } else {
        err(format!(
            "--endpoint {endpoint:?} is not a unix socket path: use unix:///csi/csi.sock (CSI drivers serve on unix sockets)"
        ))
    }
}

fn absolute(flag: &str, value: &str) -> Result<PathBuf, CliError> {
    if Path::new(value).is_absolute() {
        Ok(PathBuf::from(value))
    } else {
        err(format!(
            "{flag} {value:?} must be an absolute path, e.g. {flag} /{value}"
        ))
    }
}

/// Parse the arguments after the program name.
///
/// # Errors
/// [`CliError`] for anything this program would not run with.
pub fn parse<I, S>(args: I) -> Result<Command, CliError>
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    let mut args = args.into_iter().map(Into::into);
    let first = match args.next() {
        None => {
            return err(
                "no mode given: run `storage-e2e-csi controller|node|all|selftest ...` (--help lists the flags)",
            );
        }
        Some(a) => a,
    };
    let mode = match first.as_str() {
        "--help" | "-h" | "help" => return Ok(Command::Help),
        "--version" | "-V" | "version" => return Ok(Command::Version),
        "controller" => Some(Mode::Controller),
        "node" => Some(Mode::Node),
        "all" => Some(Mode::All),
        "selftest" => None,
        other => {
            return err(format!(
                "unknown mode {other:?}: the first argument is controller, node, all or selftest"
            ));
        }
    };

    // Flags: `--flag value` or `--flag=value`; booleans take no value.
    let mut flags: Vec<(String, Option<String>)> = Vec::new();
    let rest: Vec<String> = args.collect();
    let mut i = 0;
    while i < rest.len() {
        let a = &rest[i];
        if a == "--help" || a == "-h" {
            return Ok(Command::Help);
        }
        let Some(name) = a.strip_prefix("--") else {
            return err(format!(
                "unexpected argument {a:?}: flags start with -- (see --help)"
            ));
        };
        if let Some((n, v)) = name.split_once('=') {
            flags.push((n.to_owned(), Some(v.to_owned())));
        } else if name == "leave-staged" {
            flags.push((name.to_owned(), None));
        } else {
            let value = rest
                .get(i + 1)
                .filter(|v| !v.starts_with("--"))
                .ok_or_else(|| {
                    CliError(format!(
                        "--{name} needs a value, e.g. --{name}={}",
                        example(name)
                    ))
                })?;
            flags.push((name.to_owned(), Some(value.clone())));
            i += 1;
        }
        i += 1;
    }

    let allowed: &[&str] = match mode {
        Some(Mode::Controller) => &["endpoint", "san"],
        Some(Mode::Node | Mode::All) => &[
            "endpoint",
            "san",
            "node-id",
            "registration-socket",
            "kubelet-endpoint",
        ],
        None => &["endpoint", "dir", "size-mib", "leave-staged"],
    };
    let mode_name = mode.map_or("selftest", Mode::name);
    let mut seen = Vec::new();
    for (name, value) in &flags {
        if !allowed.contains(&name.as_str()) {
            return err(format!(
                "--{name} is not a flag of {mode_name} mode (its flags: --{}; see --help)",
                allowed.join(", --")
            ));
        }
        if seen.contains(name) {
            return err(format!("--{name} is given twice: give it once"));
        }
        if value.as_deref() == Some("") {
            return err(format!(
                "--{name} is empty: give a value, e.g. --{name}={}",
                example(name)
            ));
        }
        seen.push(name.clone());
    }
    let get = |n: &str| {
        flags
            .iter()
            .find(|(k, _)| k == n)
            .and_then(|(_, v)| v.clone())
    };
    let endpoint = socket_path(&get("endpoint").unwrap_or_else(|| DEFAULT_ENDPOINT.to_owned()))?;

    let Some(mode) = mode else {
        let size_mib = match get("size-mib") {
            None => 64,
            Some(v) => v.parse::<u64>().ok().filter(|n| *n >= 16).ok_or_else(|| {
                CliError(format!(
                    "--size-mib {v:?} is not a number of MiB of at least 16: e.g. --size-mib=64"
                ))
            })?,
        };
        return Ok(Command::Selftest(Selftest {
            endpoint,
            dir: absolute(
                "--dir",
                &get("dir").unwrap_or_else(|| "/tmp/storage-e2e-csi-selftest".into()),
            )?,
            size_mib,
            leave_staged: flags.iter().any(|(k, _)| k == "leave-staged"),
        }));
    };

    let san = absolute(
        "--san",
        &get("san").unwrap_or_else(|| DEFAULT_ROOT.to_owned()),
    )?;
    let node_id = if mode.node() {
        let raw = get("node-id").ok_or_else(|| {
            CliError(format!(
                "--node-id is required in {} mode: pass the Kubernetes node name, e.g. --node-id=$(NODE_NAME) from the downward API (spec.nodeName)",
                mode.name()
            ))
        })?;
        Some(NodeId::parse(&raw).map_err(|why| CliError(format!("--node-id {raw:?} {why}")))?)
    } else {
        None
    };
    // A node plugin registers by default; `all` (csi-sanity) only when asked.
    let registration = match (mode, get("registration-socket")) {
        (Mode::Controller, _) | (Mode::All, None) => {
            if mode == Mode::All && get("kubelet-endpoint").is_some() {
                return err(
                    "--kubelet-endpoint needs --registration-socket in all mode: add --registration-socket PATH, or drop --kubelet-endpoint",
                );
            }
            None
        }
        (_, socket) => Some(Registration {
            socket: socket.map_or_else(
                || Ok(default_registration_socket()),
                |s| absolute("--registration-socket", &s),
            )?,
            kubelet_endpoint: get("kubelet-endpoint")
                .map_or_else(|| Ok(default_kubelet_endpoint()), |e| socket_path(&e))?,
        }),
    };
    Ok(Command::Serve(Serve {
        mode,
        endpoint,
        san,
        node_id,
        registration,
    }))
}

fn example(flag: &str) -> &'static str {
    match flag {
        "endpoint" => "unix:///csi/csi.sock",
        "san" => DEFAULT_ROOT,
        "node-id" => "kind-worker",
        "registration-socket" => {
            "/var/lib/kubelet/plugins_registry/loop.csi.storage-e2e.test-reg.sock"
        }
        "kubelet-endpoint" => "/var/lib/kubelet/plugins/loop.csi.storage-e2e.test/csi.sock",
        "dir" => "/tmp/selftest",
        "size-mib" => "64",
        _ => "VALUE",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn serve(args: &[&str]) -> Serve {
        match parse(args.iter().copied()) {
            Ok(Command::Serve(s)) => s,
            other => panic!("{args:?}: {other:?}"),
        }
    }

    fn error(args: &[&str]) -> String {
        match parse(args.iter().copied()) {
            Err(CliError(m)) => m,
            other => panic!("{args:?} parsed: {other:?}"),
        }
    }

    #[test]
    fn controller_takes_endpoint_and_san() {
        let s = serve(&[
            "controller",
            "--endpoint",
            "unix:///csi/csi.sock",
            "--san",
            "/var/lib/storage-e2e-san",
        ]);
        assert_eq!(s.mode, Mode::Controller);
        assert_eq!(s.endpoint, Path::new("/csi/csi.sock"));
        assert_eq!(s.san, Path::new("/var/lib/storage-e2e-san"));
        assert_eq!((s.node_id, s.registration), (None, None));
        assert_eq!(serve(&["controller"]).endpoint, Path::new("/csi/csi.sock"));
    }

    #[test]
    fn node_registers_by_default_and_all_only_when_asked() {
        let s = serve(&[
            "node",
            "--node-id=kind-worker",
            "--endpoint=unix:/csi/csi.sock",
        ]);
        assert_eq!(
            s.node_id.map(|n| n.to_string()),
            Some("kind-worker".to_owned())
        );
        assert_eq!(
            s.registration,
            Some(Registration {
                socket: "/var/lib/kubelet/plugins_registry/loop.csi.storage-e2e.test-reg.sock"
                    .into(),
                kubelet_endpoint: "/var/lib/kubelet/plugins/loop.csi.storage-e2e.test/csi.sock"
                    .into(),
            })
        );
        let s = serve(&[
            "node",
            "--node-id",
            "n",
            "--registration-socket",
            "/r.sock",
            "--kubelet-endpoint",
            "unix:///k/csi.sock",
        ]);
        assert_eq!(
            s.registration,
            Some(Registration {
                socket: "/r.sock".into(),
                kubelet_endpoint: "/k/csi.sock".into()
            })
        );
        assert_eq!(serve(&["all", "--node-id", "sanity"]).registration, None);
        assert!(
            serve(&[
                "all",
                "--node-id",
                "sanity",
                "--registration-socket",
                "/r.sock"
            ])
            .registration
            .is_some()
        );
    }

    #[test]
    fn selftest_has_defaults() {
        assert_eq!(
            parse(["selftest"]),
            Ok(Command::Selftest(Selftest {
                endpoint: "/csi/csi.sock".into(),
                dir: "/tmp/storage-e2e-csi-selftest".into(),
                size_mib: 64,
                leave_staged: false,
            }))
        );
        let Ok(Command::Selftest(s)) =
            parse(["selftest", "--size-mib", "32", "--leave-staged", "--dir=/d"])
        else {
            panic!("selftest");
        };
        assert_eq!(
            (s.size_mib, s.leave_staged, s.dir),
            (32, true, PathBuf::from("/d"))
        );
    }

    #[test]
    fn mistakes_name_the_argument_and_the_fix() {
        let cases: &[(&[&str], &str)] = &[
            (&[], "no mode given"),
            (&["serve"], "unknown mode \"serve\""),
            (&["node"], "--node-id is required in node mode"),
            (
                &["node", "--node-id", "Kind_Worker"],
                "--node-id \"Kind_Worker\" holds",
            ),
            (
                &["controller", "--node-id", "x"],
                "--node-id is not a flag of controller mode",
            ),
            (
                &["controller", "--endpoint", "tcp://0.0.0.0:1"],
                "is not a unix socket path: use unix:///csi/csi.sock",
            ),
            (
                &["controller", "--san"],
                "--san needs a value, e.g. --san=/var/lib/storage-e2e-san",
            ),
            (
                &["controller", "--san", "relative"],
                "--san \"relative\" must be an absolute path",
            ),
            (
                &["controller", "--san=/a", "--san=/b"],
                "--san is given twice",
            ),
            (&["controller", "--san="], "--san is empty"),
            (&["controller", "stray"], "unexpected argument \"stray\""),
            (
                &["selftest", "--size-mib", "8"],
                "--size-mib \"8\" is not a number of MiB of at least 16",
            ),
            (
                &["all", "--node-id", "n", "--kubelet-endpoint", "/k"],
                "--kubelet-endpoint needs --registration-socket",
            ),
        ];
        for (args, want) in cases {
            let got = error(args);
            assert!(got.contains(want), "{args:?}: {got}");
            assert!(!got.contains('\n'), "one line: {got}");
        }
    }

    #[test]
    fn help_and_version() {
        assert_eq!(parse(["--help"]), Ok(Command::Help));
        assert_eq!(parse(["node", "-h"]), Ok(Command::Help));
        assert_eq!(parse(["--version"]), Ok(Command::Version));
    }
}
