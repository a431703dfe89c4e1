//! Reading what docker and the NFS tools print: a container's IP from
//! `docker inspect`, directory listings from `find -printf` (server side)
//! and libnfs `nfs-ls` (client side), and byte dumps from `od`.

use crate::error::{Error, Result, tail};
use crate::nfs::ownership::Entry;

pub(super) fn parse_network_ip(json: &str, network: &str) -> Result<String> {
    let what = || format!("the networks of a container (looking for {network})");
    let v: serde_json::Value = serde_json::from_str(json.trim())
        .map_err(|e| Error::parse(what(), format!("{e}: {}", tail(json, 200))))?;
    v.get(network)
        .and_then(|n| n.get("IPAddress"))
        .and_then(|ip| ip.as_str())
        .filter(|ip| !ip.is_empty())
        .map(str::to_owned)
        .ok_or_else(|| {
            Error::parse(
                what(),
                format!("no IP address on {network}: {}", tail(json, 300)),
            )
        })
}

/// Parse `find -printf '%f\t%U\t%G\t%m\t%s\t%y\n'`.
pub(super) fn parse_find_listing(text: &str) -> Result<Vec<Entry>> {
    let mut entries = Vec::new();
    for line in text.lines().filter(|l| !l.is_empty()) {
        let bad = || {
            Error::parse(
                "a directory listing from the NFS server",
                format!("line {line:?}"),
            )
        };
        let f: Vec<&str> = line.split('\t').collect();
        let [name, uid, gid, mode, size, kind] = f.as_slice() else {
            return Err(bad());
        };
        entries.push(Entry {
            name: (*name).to_owned(),
            uid: uid.parse().map_err(|_| bad())?,
            gid: gid.parse().map_err(|_| bad())?,
            mode: u32::from_str_radix(mode, 8).map_err(|_| bad())?,
            size: size.parse().map_err(|_| bad())?,
            is_dir: *kind == "d",
        });
    }
    entries.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(entries)
}

/// Parse libnfs `nfs-ls` lines: `-rw-rw----  1   472     0   5 name`.
pub(super) fn parse_nfs_ls(text: &str) -> Result<Vec<Entry>> {
    let mut entries = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let bad = || Error::parse("nfs-ls output", format!("line {line:?}"));
        let mut rest = line.trim_start();
        let mut fields = Vec::with_capacity(5);
        for _ in 0..5 {
            let end = rest.find(char::is_whitespace).ok_or_else(bad)?;
            fields.push(&rest[..end]);
            rest = rest[end..].trim_start();
        }
        let name = rest.trim_end();
        if name.is_empty() || name == "." || name == ".." {
            continue;
        }
        entries.push(Entry {
            name: name.to_owned(),
            mode: mode_bits(fields[0]).ok_or_else(bad)?,
            uid: fields[2].parse().map_err(|_| bad())?,
            gid: fields[3].parse().map_err(|_| bad())?,
            size: fields[4].parse().map_err(|_| bad())?,
            is_dir: fields[0].starts_with('d'),
        });
    }
    entries.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(entries)
}

/// `-rwxr-s---` -> 0o2750.
fn mode_bits(s: &str) -> Option<u32> {
    let c: Vec<char> = s.chars().collect();
    if c.len() != 10 {
        return None;
    }
    let mut mode = 0;
    for (i, special) in [(1usize, 0o4000u32), (4, 0o2000), (7, 0o1000)] {
        let shift = 3 * (2 - (i - 1) / 3) as u32;
        if c[i] == 'r' {
            mode |= 4 << shift;
        }
        if c[i + 1] == 'w' {
            mode |= 2 << shift;
        }
        match c[i + 2] {
            'x' => mode |= 1 << shift,
            's' | 't' => mode |= (1 << shift) | special,
            'S' | 'T' => mode |= special,
            '-' => {}
            _ => return None,
        }
    }
    Some(mode)
}

pub(super) fn decode_od_hex(text: &str) -> Result<Vec<u8>> {
    text.split_whitespace()
        .map(|h| {
            u8::from_str_radix(h, 16)
                .map_err(|_| Error::parse("od -tx1 output", format!("not a hex byte: {h:?}")))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nfs::ownership::Identity;

    #[test]
    fn listings_parse_with_numeric_owners() {
        let find = "b.bin\t472\t0\t660\t13\tf\na\t0\t0\t2775\t4096\td\n";
        let e = parse_find_listing(find).unwrap();
        assert_eq!(e[0].name, "a");
        assert!(e[0].is_dir);
        assert_eq!(e[0].mode, 0o2775);
        assert_eq!(e[1].owner(), Identity::GRAFANA);
        assert_eq!(e[1].size, 13);
        assert!(parse_find_listing("x\t1\n").is_err());

        let ls = "-rw-rw----  1 65534 65534           13 my file\ndrwxr-sr-x  2     0     0         4096 d\n";
        let e = parse_nfs_ls(ls).unwrap();
        assert_eq!(e[0].name, "d");
        assert_eq!(e[0].mode, 0o2755);
        assert!(e[0].is_dir);
        assert_eq!(e[1].name, "my file");
        assert_eq!(e[1].owner(), Identity::PROMETHEUS);
        assert_eq!(e[1].mode, 0o660);
        assert!(parse_nfs_ls("garbage\n").is_err());
        assert_eq!(mode_bits("-rwsr-xr-T"), Some(0o5754));
    }

    #[test]
    fn od_dumps_decode_byte_for_byte() {
        assert_eq!(
            decode_od_hex(" 61 00 ff\n fe\n").unwrap(),
            vec![0x61, 0, 0xff, 0xfe]
        );
        assert!(decode_od_hex("zz").is_err());
    }

    #[test]
    fn network_ip_is_read_from_docker_inspect() {
        let json = r#"{"e2e-net-a":{"IPAddress":"172.30.0.2"},"bridge":{"IPAddress":""}}"#;
        assert_eq!(
            parse_network_ip(json, "e2e-net-a").ok().as_deref(),
            Some("172.30.0.2")
        );
        assert!(parse_network_ip(json, "bridge").is_err());
        assert!(parse_network_ip(json, "kind").is_err());
    }
}
