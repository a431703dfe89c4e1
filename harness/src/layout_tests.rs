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

/// `crate::a::b` references in `code`, as `[a, b]` (b may be an item).
fn references(code: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for (i, _) in code.match_indices("crate::") {
        let rest = &code[i + "crate::".len()..];
        // `crate::{a, b::c}` groups: take every first segment inside.
        if let Some(group) = rest.strip_prefix('{') {
            let end = group.find(';').unwrap_or(group.len());
            for part in group[..end].split(',') {
                let path: Vec<String> = part
                    .trim()
                    .trim_start_matches('{')
                    .split("::")
                    .map(|s| s.trim_matches(|c: char| !c.is_alphanumeric() && c != '_'))
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect();
                if !path.is_empty() {
                    out.push(path);
                }
            }
            continue;
        }
        let path: Vec<String> = rest
            .split("::")
            .map_while(|s| {
                let id: String = s
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                (!id.is_empty()).then_some(id)
            })
            .take(2)
            .collect();
        if !path.is_empty() {
            out.push(path);
        }
    }
    out
}

/// The graph between modules at `depth` (1: top-level modules; 2: the
/// children of one module, edges only between siblings).
fn graph(depth: usize) -> BTreeMap<String, BTreeSet<String>> {
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (module, path) in files() {
        if module.len() < depth || is_test_file(&path) || module.is_empty() {
            continue;
        }
        let me = module[..depth].join("::");
        for r in references(&code(&path)) {
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
