//! The NFS server container (`harness::nfs`) checked with a real NFS
//! client: libnfs in a client container on the test's own Docker network
//! (this machine's kernel has no NFS client). Every test labels what it
//! creates with its own run id and ends by checking that none of it is left.

use std::time::Duration;

use anyhow::{Context as _, bail, ensure};
use harness::config::Keep;
use harness::nfs::{Entry, Identity, NfsClient, NfsServer, RunningNfs, Squash};
use rstest::rstest;

use crate::common::{self, TestNetwork};

/// Backstop for one test: a few container starts and restarts.
const TEST_TIMEOUT: Duration = Duration::from_secs(300);
/// Readiness budget for servers that are broken on purpose: long enough for
/// a healthy one (1-3 s here), short enough not to stall the run.
const MISCONFIGURED_READY_TIMEOUT: Duration = Duration::from_secs(15);

/// Content with bytes that are not UTF-8, so "byte for byte" means it.
fn payload(tag: &str) -> Vec<u8> {
    let mut bytes = format!("written over NFS by {tag}\n").into_bytes();
    bytes.extend([0x00, 0xff, 0xfe, 0x80, b'\n']);
    bytes
}

fn entry<'a>(entries: &'a [Entry], name: &str) -> anyhow::Result<&'a Entry> {
    entries
        .iter()
        .find(|e| e.name == name)
        .with_context(|| format!("{name} not in listing {entries:?}"))
}

async fn server_on(net: &TestNetwork, run: &str, squash: Squash) -> anyhow::Result<RunningNfs> {
    let server = NfsServer::new()
        .with_network(net.name())
        .with_squash(squash)
        .with_run_id(run)
        .start()
        .await?;
    println!(
        "nfs server {} (squash={}) serving after {:.1}s",
        server.name(),
        squash.id(),
        server.serving_after().as_secs_f64()
    );
    Ok(server)
}

async fn write_and_read_back(
    client: &NfsClient,
    path: &str,
    who: Identity,
    bytes: &[u8],
) -> anyhow::Result<()> {
    client
        .write(path, who, bytes)
        .await
        .with_context(|| format!("write {path} as {who}"))?;
    let back = client
        .read(path, who)
        .await
        .with_context(|| format!("read {path} as {who}"))?;
    ensure!(
        back == bytes,
        "{path} as {who}: wrote {bytes:?}, read {back:?}"
    );
    Ok(())
}

#[rstest]
#[case::no_squash(Squash::None)]
#[case::root_squash(Squash::Root)]
#[case::all_squash_to_1000(Squash::All { uid: 1000, gid: 1000 })]
#[timeout(TEST_TIMEOUT)]
#[tokio::test]
async fn files_written_as_65534_472_and_root_read_back_with_the_documented_owner(
    #[case] squash: Squash,
) -> anyhow::Result<()> {
    let run = common::run_id();
    let net = TestNetwork::create(&run).await?;
    let server = server_on(&net, &run, squash).await?;
    let client = server.client().await?;
    server.create_dir("data", 0, 0, 0o777).await?;

    let writers = [Identity::PROMETHEUS, Identity::GRAFANA, Identity::ROOT];
    for who in writers {
        write_and_read_back(
            &client,
            &format!("data/by-{}", who.uid),
            who,
            &payload(&who.to_string()),
        )
        .await?;
    }

    // Stored on the server's disk, and reported to clients over the wire.
    let on_disk = server.list("data").await?;
    let over_nfs = client.list("data", Identity::ROOT).await?;
    for who in writers {
        let name = format!("by-{}", who.uid);
        let expected = squash.owner_of_new_file(who);
        let disk = entry(&on_disk, &name)?;
        let wire = entry(&over_nfs, &name)?;
        ensure!(
            disk.owner() == expected && wire.owner() == expected,
            "squash={}: {who} wrote {name}: expected owner {expected}, disk says {}, NFS says {}",
            squash.id(),
            disk.owner(),
            wire.owner()
        );
        ensure!(
            disk.size == payload(&who.to_string()).len() as u64,
            "{name}: {disk:?}"
        );
        println!(
            "squash={}: written as {who} -> owned by {}",
            squash.id(),
            disk.owner()
        );
    }

    client.cleanup().await?;
    server.cleanup().await?;
    net.remove().await?;
    common::assert_nothing_left(&run).await
}

/// The seed article's mix: a directory chowned to Grafana (472) holding a
/// file owned by 1000, because the export squashes everyone to 1000. With
/// the directory at 0755 the squashed Grafana cannot write into its own
/// directory at all (grafana#6285).
#[rstest]
#[timeout(TEST_TIMEOUT)]
#[tokio::test]
async fn all_squash_reproduces_the_472_vs_1000_mix_of_the_seed() -> anyhow::Result<()> {
    let run = common::run_id();
    let net = TestNetwork::create(&run).await?;
    let server = server_on(
        &net,
        &run,
        Squash::All {
            uid: 1000,
            gid: 1000,
        },
    )
    .await?;
    let client = server.client().await?;

    server.create_dir("grafana", 472, 0, 0o777).await?;
    let db = payload("grafana");
    write_and_read_back(&client, "grafana/grafana.db", Identity::GRAFANA, &db).await?;
    let root = server.list("").await?;
    let inside = server.list("grafana").await?;
    let (dir, file) = (entry(&root, "grafana")?, entry(&inside, "grafana.db")?);
    ensure!(
        dir.is_dir && dir.owner() == Identity::new(472, 0),
        "{dir:?}"
    );
    ensure!(file.owner() == Identity::new(1000, 1000), "{file:?}");
    println!(
        "mix: dir grafana owned by {}, grafana.db by {}",
        dir.owner(),
        file.owner()
    );

    server.create_dir("grafana-0755", 472, 0, 0o755).await?;
    match client
        .write("grafana-0755/grafana.db", Identity::GRAFANA, &db)
        .await
    {
        Ok(()) => bail!("uid 472 squashed to 1000 wrote into a 472-owned 0755 directory"),
        Err(e) => ensure!(
            e.to_string().contains("NFS4ERR_ACCESS"),
            "unexpected failure: {e}"
        ),
    }

    client.cleanup().await?;
    server.cleanup().await?;
    net.remove().await?;
    common::assert_nothing_left(&run).await
}

#[rstest]
#[timeout(TEST_TIMEOUT)]
#[tokio::test]
async fn data_survives_a_restart_of_the_server_container() -> anyhow::Result<()> {
    let run = common::run_id();
    let net = TestNetwork::create(&run).await?;
    let mut server = server_on(&net, &run, Squash::None).await?;
    let client = server.client().await?;
    server.create_dir("prometheus", 65534, 65534, 0o755).await?;
    let before = payload("prometheus before the restart");
    write_and_read_back(&client, "prometheus/before", Identity::PROMETHEUS, &before).await?;
    let address = server.address().to_owned();

    let took = server.restart().await?;
    println!(
        "nfs server {} serving again {:.1}s after docker restart",
        server.name(),
        took.as_secs_f64()
    );

    ensure!(
        server.address() == address,
        "address moved: {address} -> {}",
        server.address()
    );
    let back = client
        .read("prometheus/before", Identity::PROMETHEUS)
        .await?;
    ensure!(
        back == before,
        "after the restart read {back:?}, wrote {before:?}"
    );
    let listed = server.list("prometheus").await?;
    ensure!(
        entry(&listed, "before")?.owner() == Identity::PROMETHEUS,
        "{listed:?}"
    );
    write_and_read_back(
        &client,
        "prometheus/after",
        Identity::PROMETHEUS,
        &payload("after"),
    )
    .await?;

    // The published port is there again (Docker may have picked a new one)
    // and accepts connections on the address tests use for published ports.
    let published = server.host_address().await?;
    let host = published.rsplit_once(':').map_or("", |(h, _)| h);
    ensure!(
        matches!(host, "127.0.0.1" | "localhost" | "[::1]"),
        "published port at {published}: run with HARNESS_CONTAINER_HOST=127.0.0.1"
    );
    tokio::net::TcpStream::connect(&published)
        .await
        .with_context(|| format!("connect to the published NFS port {published}"))?;

    client.cleanup().await?;
    server.cleanup().await?;
    net.remove().await?;
    common::assert_nothing_left(&run).await
}

#[rstest]
#[timeout(TEST_TIMEOUT)]
#[tokio::test]
async fn two_servers_side_by_side_do_not_collide() -> anyhow::Result<()> {
    let run = common::run_id();
    let net = TestNetwork::create(&run).await?;
    let (a, b) = tokio::join!(
        server_on(&net, &run, Squash::None),
        server_on(&net, &run, Squash::None)
    );
    let (a, b) = (a?, b?);
    ensure!(
        a.name() != b.name() && a.volume() != b.volume(),
        "{a:?} / {b:?}"
    );
    ensure!(a.address() != b.address(), "both at {}", a.address());
    ensure!(
        a.host_port().await? != b.host_port().await?,
        "same published port"
    );

    let (ca, cb) = (a.client().await?, b.client().await?);
    for s in [&a, &b] {
        s.create_dir("same-name", 65534, 65534, 0o755).await?;
    }
    let (da, db) = (payload("server a"), payload("server b, longer"));
    write_and_read_back(&ca, "same-name/f", Identity::PROMETHEUS, &da).await?;
    write_and_read_back(&cb, "same-name/f", Identity::PROMETHEUS, &db).await?;
    write_and_read_back(&ca, "same-name/only-on-a", Identity::PROMETHEUS, &da).await?;

    ensure!(
        ca.read("same-name/f", Identity::PROMETHEUS).await? == da,
        "a's file changed"
    );
    let on_b = b.list("same-name").await?;
    ensure!(
        on_b.iter().all(|e| e.name != "only-on-a"),
        "b sees a's file: {on_b:?}"
    );
    ensure!(entry(&on_b, "f")?.size == db.len() as u64, "{on_b:?}");

    ca.cleanup().await?;
    cb.cleanup().await?;
    a.cleanup().await?;
    b.cleanup().await?;
    net.remove().await?;
    common::assert_nothing_left(&run).await
}

/// A server that starts but cannot serve must fail the readiness check,
/// which speaks NFS, with the server's own explanation in the error, and
/// must not leave its container or volume behind.
#[rstest]
#[case::export_on_the_overlay_fs("EXPORT_PATH", "/srv/not-a-volume", &["NFS4ERR_NOENT", "overlay filesystem"])]
#[case::unknown_squash_mode("SQUASH", "bogus", &["is not running", "SQUASH=bogus"])]
#[timeout(TEST_TIMEOUT)]
#[tokio::test]
async fn readiness_fails_with_the_server_log_when_misconfigured(
    #[case] key: &str,
    #[case] value: &str,
    #[case] expected: &[&str],
) -> anyhow::Result<()> {
    let run = common::run_id();
    let started = NfsServer::new()
        .with_run_id(&run)
        .with_env(key, value)
        .with_ready_timeout(MISCONFIGURED_READY_TIMEOUT)
        .start()
        .await;
    let err = match started {
        Ok(server) => bail!("{key}={value}: {} reported serving", server.name()),
        Err(e) => harness::error::chain(&e),
    };
    println!("{key}={value} -> {err}");
    ensure!(err.contains("'s log ---\n"), "no server log in: {err}");
    for needle in expected {
        ensure!(err.contains(needle), "{needle:?} missing from: {err}");
    }
    common::assert_nothing_left(&run).await
}

/// The Drop fallback (no explicit cleanup, as after a failed `?`) removes
/// the containers and the volume; the network guard removes the network.
#[rstest]
#[timeout(TEST_TIMEOUT)]
#[tokio::test]
async fn dropped_guards_leave_no_container_network_or_volume() -> anyhow::Result<()> {
    let run = common::run_id();
    let net = TestNetwork::create(&run).await?;
    let server = NfsServer::new()
        .with_network(net.name())
        .with_run_id(&run)
        .with_keep(Keep::Never)
        .start()
        .await?;
    let client = server.client().await?;
    let before = common::leftovers(&run).await?;
    ensure!(
        before.len() == 4,
        "expected server, client, network, volume: {before:?}"
    );
    drop(client);
    drop(server);
    drop(net);
    common::assert_nothing_left(&run).await
}

/// The nfs-restart disruption as tier 2 runs it: the run's shared server
/// restarted through `disrupt::Restartable` while a cell's export
/// directory holds data, then the failure-artifact listing (numeric owners).
#[rstest]
#[timeout(TEST_TIMEOUT)]
#[tokio::test]
async fn the_nfs_restart_disruption_restarts_the_shared_server_in_place() -> anyhow::Result<()> {
    use harness::disrupt::Restartable as _;
    use harness::nfs::SharedNfs;

    let run = common::run_id();
    let net = TestNetwork::create(&run).await?;
    let server = server_on(&net, &run, Squash::None).await?;
    let client = server.client().await?;
    let shared = SharedNfs::new(server);
    shared
        .create_dir("e2e-cell/prometheus", 65534, 65534, 0o755)
        .await?;
    let bytes = payload("seeded before nfs-restart");
    write_and_read_back(
        &client,
        "e2e-cell/prometheus/seed",
        Identity::PROMETHEUS,
        &bytes,
    )
    .await?;

    shared.restart().await?;

    let back = client
        .read("e2e-cell/prometheus/seed", Identity::PROMETHEUS)
        .await?;
    ensure!(
        back == bytes,
        "after nfs-restart read {back:?}, wrote {bytes:?}"
    );
    let listing = shared.listing("e2e-cell/prometheus").await?;
    ensure!(
        listing
            .lines()
            .any(|l| l.contains(" 65534:65534 ") && l.ends_with(" seed")),
        "listing should show the seed owned by 65534:65534:\n{listing}"
    );
    client.cleanup().await?;
    shared.finish(false).await?;
    net.remove().await?;
    common::assert_nothing_left(&run).await
}
