//! Tier-0 checks of the crate's shape, read from its own source files
//! (docs/architecture.md, "Rules the layout keeps"): the module graph has
//! no cycle, a `mod.rs` only declares, no `x.rs` sits beside an `x/`, and a
//! file over 600 lines says why at its top.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Test-only files: exempt from the size rule, not part of the graph.
const TEST_FILES: &[&str] = &[
    "tests.rs",
    "contract_tests.rs",
    "weakened.rs",
    "stub_api.rs",
];

fn src_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Every `.rs` file under `harness/src`, with its module path
/// (`["cell", "settle"]`; `mod.rs` is its folder's module).
fn files() -> Vec<(Vec<String>, PathBuf)> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .flatten()
            .map(|e| e.path())
            .collect();
        entries.sort();
        for p in entries {
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    let root = src_dir();
    let mut paths = Vec::new();
    walk(&root, &mut paths);
    paths
        .into_iter()
        .map(|p| {
            let rel = p.strip_prefix(&root).unwrap_or(&p).with_extension("");
            let mut parts: Vec<String> = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            if parts.last().is_some_and(|l| l == "mod" || l == "lib") {
                parts.pop();
            }
            (parts, p)
        })
        .collect()
}

fn is_test_file(path: &Path) -> bool {
    path.file_name()
        .is_some_and(|n| TEST_FILES.iter().any(|t| n == *t))
}

/// The code of a file without its comments and its inline test modules.
fn code(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let text = text
        .split("#[cfg(test)]\nmod ")
        .next()
        .unwrap_or_default()
        .to_owned();
    text.lines()
        .map(|l| l.split("//").next().unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n")
}

/// `code` with every `super::` and `self::` path written from the crate
/// root, for a file whose module is `module` (a `mod.rs` is its folder's
/// module): `super::rollout` in `disrupt/pods.rs` becomes
/// `crate::disrupt::rollout`, so relative imports count like absolute
/// ones.
fn absolute(code: &str, module: &[String]) -> String {
    let path = |up: usize| {
        module[..module.len().saturating_sub(up)]
            .iter()
            .map(|s| format!("{s}::"))
            .collect::<String>()
    };
    code.replace("super::super::", &format!("crate::{}", path(2)))
        .replace("super::", &format!("crate::{}", path(1)))
        .replace("self::", &format!("crate::{}", path(0)))
}

/// `crate::a::b` references in `code`, as `[a, b]` (b may be an item);
/// groups are expanded at any depth (`crate::{a, b::c}`,
/// `crate::a::{b, c}`), so a grouped import counts like separate ones.
fn references(code: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for (i, _) in code.match_indices("crate::") {
        paths(&code[i + "crate::".len()..], &[], &mut out);
    }
    out
}

/// The paths at the start of `rest` (after `crate::` or a group's `{`),
/// each `prefix` + up to two segments in all, into `out`.
fn paths(rest: &str, prefix: &[String], out: &mut Vec<Vec<String>>) {
    let mut path = prefix.to_vec();
    let mut rest = rest.trim_start();
    loop {
        if let Some(group) = rest.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            for item in group[..end].split(',') {
                paths(item, &path, out);
            }
            return;
        }
        let id: String = rest
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        if id.is_empty() {
            break;
        }
        path.push(id.clone());
        rest = &rest[id.len()..];
        match rest.strip_prefix("::") {
            Some(r) if path.len() < 2 => rest = r.trim_start(),
            _ => break,
        }
    }
    if !path.is_empty() && path.len() > prefix.len() {
        path.truncate(2);
        out.push(path);
    }
}

/// The graph between modules at `depth` (1: top-level modules; 2: the
/// children of one module, edges only between siblings).
fn graph(depth: usize) -> BTreeMap<String, BTreeSet<String>> {
    let sources: Vec<(Vec<String>, String)> = files()
        .into_iter()
        .filter(|(_, path)| !is_test_file(path))
        .map(|(module, path)| (module, code(&path)))
        .collect();
    graph_of(&sources, depth)
}

/// [`graph`] over `(module, code)` pairs.
fn graph_of(sources: &[(Vec<String>, String)], depth: usize) -> BTreeMap<String, BTreeSet<String>> {
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (module, code) in sources {
        if module.len() < depth || module.is_empty() {
            continue;
        }
        let me = module[..depth].join("::");
        for r in references(&absolute(code, module)) {
            if r.len() < depth || (depth == 2 && r[0] != module[0]) {
                continue;
            }
            let to = r[..depth].join("::");
            if to != me {
                edges.entry(me.clone()).or_default().insert(to);
            }
        }
    }
    edges
}

/// A cycle in `edges`, if there is one, as the modules on it.
fn find_cycle(edges: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        n: &str,
        edges: &BTreeMap<String, BTreeSet<String>>,
        done: &mut BTreeSet<String>,
        stack: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        if let Some(i) = stack.iter().position(|s| s == n) {
            return Some(stack[i..].to_vec());
        }
        if !done.insert(n.to_owned()) {
            return None;
        }
        stack.push(n.to_owned());
        for m in edges.get(n).into_iter().flatten() {
            if let Some(c) = visit(m, edges, done, stack) {
                return Some(c);
            }
        }
        stack.pop();
        None
    }
    let mut done = BTreeSet::new();
    edges
        .keys()
        .find_map(|n| visit(n, edges, &mut done, &mut Vec::new()))
}

#[test]
fn the_module_graph_has_no_cycle() {
    let top = graph(1);
    assert!(top.contains_key("cell") && top["suite"].contains("cell"));
    assert_eq!(find_cycle(&top), None, "top-level modules: {top:#?}");
    let children = graph(2);
    assert_eq!(
        find_cycle(&children),
        None,
        "sibling modules: {children:#?}"
    );
}

/// The mutant check of the graph: a cycle made only of `super::` imports
/// between sibling files (as `disrupt/pods.rs` and `disrupt/rollout.rs`
/// had) is found; written from the crate root it is the same cycle.
#[test]
fn a_cycle_through_super_imports_is_found() {
    let m = |p: &[&str]| p.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    let files = |pods: &str, rollout: &str| {
        vec![
            (
                m(&["disrupt"]),
                "mod pods;\nmod rollout;\npub use self::pods::apply;".to_owned(),
            ),
            (m(&["disrupt", "pods"]), pods.to_owned()),
            (m(&["disrupt", "rollout"]), rollout.to_owned()),
        ]
    };
    let cyclic = files(
        "use super::rollout;\nuse crate::error::Result;",
        "use super::pods::delete_pod;",
    );
    assert_eq!(
        find_cycle(&graph_of(&cyclic, 2)),
        Some(vec![
            "disrupt::pods".to_owned(),
            "disrupt::rollout".to_owned()
        ])
    );
    let absolute_paths = files(
        "use crate::disrupt::rollout;",
        "use crate::disrupt::pods::delete_pod;",
    );
    assert!(find_cycle(&graph_of(&absolute_paths, 2)).is_some());
    let grouped = files(
        "use super::{data, rollout};",
        "use super::{pods::delete_pod, target};",
    );
    assert!(find_cycle(&graph_of(&grouped, 2)).is_some());
    let acyclic = files("use super::rollout;", "use super::target::delete_pod;");
    assert_eq!(find_cycle(&graph_of(&acyclic, 2)), None);
    // `super::super::` from a nested file reaches the top level.
    assert_eq!(
        absolute("use super::super::error::Result;", &m(&["a", "b"])),
        "use crate::error::Result;"
    );
}

#[test]
fn the_vocabulary_imports_nothing_of_the_harness() {
    for (module, path) in files() {
        if module.first().is_some_and(|m| m == "vocab") {
            let refs = references(&code(&path));
            assert!(
                refs.iter().all(|r| r[0] == "vocab"),
                "{}: {refs:?}",
                path.display()
            );
        }
    }
}

#[test]
fn a_mod_rs_only_declares_and_no_file_sits_beside_its_folder() {
    for (_, path) in files() {
        let dir = path.with_extension("");
        assert!(
            path.file_name()
                .is_some_and(|n| n == "lib.rs" || n == "mod.rs")
                || !dir.is_dir(),
            "{} sits beside {}/: use {}/mod.rs",
            path.display(),
            dir.display(),
            dir.display()
        );
        if path.file_name().is_some_and(|n| n == "mod.rs") {
            let code = code(&path);
            let logic: Vec<&str> = code
                .lines()
                .map(str::trim)
                .filter(|l| {
                    !l.is_empty()
                        && !["mod ", "pub mod ", "pub(crate) mod ", "pub use ", "pub(crate) use ", "use ", "#[cfg("]
                            .iter()
                            .any(|p| l.starts_with(p))
                        // continuation lines of a multi-line `pub use`
                        && !l.chars().all(|c| c.is_alphanumeric() || " _,:{};".contains(c))
                })
                .collect();
            assert!(logic.is_empty(), "{}: {logic:?}", path.display());
        }
    }
}

#[test]
fn a_file_over_600_lines_says_why_at_its_top() {
    for (_, path) in files() {
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        if is_test_file(&path) || text.lines().count() <= 600 {
            continue;
        }
        let docs: String = text
            .lines()
            .take_while(|l| l.starts_with("//!"))
            .collect::<Vec<_>>()
            .join("\n");
        assert!(
            docs.contains("Over 600 lines because"),
            "{} has {} lines and does not say why",
            path.display(),
            text.lines().count()
        );
    }
}
