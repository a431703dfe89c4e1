//! Rendering one variant: load base and variant files, fill in the
//! parameters, apply patches, type and check every document.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::names::{GRAFANA, PROMETHEUS, addons_for};
use super::rendered::{Manifest, Rendered, Source};
use super::{Object, Params, check, load, object, patch};
use crate::error::{Error, Result};
use crate::vocab::{App, NamedId, Setup, Variant};

/// Render `variant` from `manifests_dir` with `params`.
///
/// # Errors
/// - [`Error::Config`] for a parameter with a value that cannot be used;
/// - [`Error::Io`] when a folder or file cannot be read (e.g. no
///   `storage/<id>/` for the variant);
/// - [`Error::Manifest`] naming the file, document index, `Kind/name` and
///   what is wrong: YAML that does not parse, an unknown or unset
///   `${PLACEHOLDER}`, an unknown kind, a field the Kubernetes type does not
///   have, a patch without a target, a broken reference, a rule of the
///   project (ownership label, pinned image, nothing under /tmp, namespaced
///   names).
pub fn render(manifests_dir: &Path, variant: Variant, params: &Params) -> Result<Rendered> {
    params.validate()?;
    let setup = variant.setup();
    let mut raw = Vec::new();
    for file in load::yaml_files(&manifests_dir.join(setup.base_dir()), "listing manifests")? {
        if load::is_patch_file(&file) {
            return Err(Error::Manifest {
                file,
                doc: 0,
                object: "?".into(),
                message: format!(
                    "patches belong in storage/<id>/, {}/ holds whole objects",
                    setup.base_dir()
                ),
            });
        }
        raw.extend(load::read_docs(&file, params)?);
    }
    let variant_dir = manifests_dir.join("storage").join(variant.id());
    let mut patches = Vec::new();
    for file in load::yaml_files(&variant_dir, "listing the storage variant's manifests")? {
        let docs = load::read_docs(&file, params)?;
        if load::is_patch_file(&file) {
            patches.extend(docs);
        } else {
            raw.extend(docs);
        }
    }
    let mut raw: Vec<(load::RawDoc, Vec<PathBuf>)> = reject_duplicates(raw)?
        .into_iter()
        .map(|d| (d, Vec::new()))
        .collect();
    for p in &patches {
        let key = p.key();
        let Some(i) = raw.iter().position(|(d, _)| d.key() == key) else {
            return Err(p.error(format!(
                "patches {}, which no base or variant manifest defines (in namespace {:?})",
                p.object(),
                key.1
            )));
        };
        match patch::apply(&mut raw[i].0.value, &p.value).map_err(|e| p.error(e))? {
            patch::Outcome::Delete => {
                raw.remove(i);
            }
            patch::Outcome::Merged => raw[i].1.push(p.file.clone()),
        }
    }
    let mut objects = raw
        .into_iter()
        .map(|(d, patched_by)| typed(d, patched_by))
        .collect::<Result<Vec<_>>>()?;
    objects.sort_by_key(|m| m.object.apply_rank());
    check::check(&objects, Some(&params.namespace))?;

    let mut addons = Vec::new();
    for name in addons_for(variant) {
        let dir = manifests_dir.join("addons").join(name);
        let mut set = Vec::new();
        for file in load::yaml_files(&dir, "listing an addon's manifests")? {
            for d in load::read_docs(&file, params)? {
                set.push(typed(d, Vec::new())?);
            }
        }
        let set = reject_duplicates_typed(set)?;
        check::check(&set, None)?;
        addons.push(((*name).to_owned(), set));
    }

    let prometheus = match setup {
        Setup::Plain | Setup::Thanos => find_workload(&objects, PROMETHEUS, &variant_dir)?,
        Setup::Operator => find_resource(&objects, PROMETHEUS, &variant_dir)?,
    };
    let grafana = if setup.apps().contains(&App::Grafana) {
        let grafana = find_workload(&objects, GRAFANA, &variant_dir)?;
        if !matches!(objects[grafana].object, Object::Deployment(_)) {
            return Err(objects[grafana].error("Grafana must be a Deployment"));
        }
        Some(grafana)
    } else {
        None
    };
    #[cfg(not(test))]
    let _ = grafana;
    Ok(Rendered {
        variant,
        namespace: params.namespace.clone(),
        manifests_dir: manifests_dir.to_owned(),
        objects,
        addons,
        prometheus,
        #[cfg(test)]
        grafana,
    })
}

/// Type one raw document, strictly.
pub(super) fn typed(mut d: load::RawDoc, patched_by: Vec<PathBuf>) -> Result<Manifest> {
    object::strip_nulls(&mut d.value);
    let field = |k: &str| {
        d.value
            .get(k)
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .to_owned()
    };
    let (api_version, kind) = (field("apiVersion"), field("kind"));
    if api_version.is_empty() || kind.is_empty() {
        return Err(d.error("needs apiVersion and kind"));
    }
    let value = d.value.clone();
    let obj = match Object::from_json(&api_version, &kind, value) {
        None => {
            return Err(d.error(format!(
                "kind {kind} ({api_version}) is not one the harness knows; known: {}",
                Object::known_kinds().join(", ")
            )));
        }
        Some(Err(e)) => return Err(d.error(format!("is not a valid {kind}: {e}"))),
        Some(Ok(o)) => o,
    };
    let back = obj
        .to_json()
        .map_err(|e| d.error(format!("cannot be serialized again: {e}")))?;
    let differences = object::strict_differences(&d.value, &back);
    if !differences.is_empty() {
        return Err(d.error(differences.join("; ")));
    }
    Ok(Manifest {
        source: Source {
            file: d.file,
            doc: d.doc,
            patched_by,
        },
        object: obj,
    })
}

pub(super) fn reject_duplicates(raw: Vec<load::RawDoc>) -> Result<Vec<load::RawDoc>> {
    let mut seen: BTreeMap<(String, String, String), (PathBuf, usize)> = BTreeMap::new();
    for d in &raw {
        if let Some((file, doc)) = seen.insert(d.key(), (d.file.clone(), d.doc)) {
            return Err(d.error(format!(
                "is defined twice: also in {} document {doc} (a variant changes a base object with a *.patch.yaml file)",
                file.display()
            )));
        }
    }
    Ok(raw)
}

pub(super) fn reject_duplicates_typed(set: Vec<Manifest>) -> Result<Vec<Manifest>> {
    let mut set = set;
    set.sort_by_key(|m| m.object.apply_rank());
    for (i, m) in set.iter().enumerate() {
        let twin = set[..i].iter().find(|x| {
            x.object.kind() == m.object.kind()
                && x.object.name() == m.object.name()
                && x.object.namespace() == m.object.namespace()
        });
        if let Some(t) = twin {
            return Err(m.error(format!(
                "is defined twice: also in {}",
                t.source.file.display()
            )));
        }
    }
    Ok(set)
}

/// The index of the workload named `name`, which must exist once, with a pod
/// spec and a container of the same name.
pub(super) fn find_workload(objects: &[Manifest], name: &str, variant_dir: &Path) -> Result<usize> {
    let i = find_one(
        objects,
        name,
        variant_dir,
        "Deployment or StatefulSet",
        |o| matches!(o, Object::Deployment(_) | Object::StatefulSet(_)),
    )?;
    let m = &objects[i];
    let spec = m
        .object
        .pod_spec()
        .ok_or_else(|| m.error("has no pod template spec"))?;
    if !spec.containers.iter().any(|c| c.name == name) {
        return Err(m.error(format!("has no container named {name:?}")));
    }
    Ok(i)
}

/// The index of the operator's `Prometheus` resource named `name`, which
/// must exist once.
fn find_resource(objects: &[Manifest], name: &str, variant_dir: &Path) -> Result<usize> {
    find_one(objects, name, variant_dir, "Prometheus resource", |o| {
        matches!(o, Object::Prometheus(_))
    })
}

/// The index of the one object named `name` that `is_kind` accepts (`what`
/// names those kinds in the error when there is not exactly one).
fn find_one(
    objects: &[Manifest],
    name: &str,
    variant_dir: &Path,
    what: &str,
    is_kind: impl Fn(&Object) -> bool,
) -> Result<usize> {
    let found: Vec<usize> = objects
        .iter()
        .enumerate()
        .filter(|(_, m)| is_kind(&m.object) && m.object.name() == name)
        .map(|(i, _)| i)
        .collect();
    let [i] = found[..] else {
        return Err(Error::Manifest {
            file: variant_dir.to_owned(),
            doc: 0,
            object: format!("?/{name}"),
            message: format!(
                "base + variant must define exactly one {what} named {name:?}, found {}",
                found.len()
            ),
        });
    };
    Ok(i)
}

/// The YAML files of an upstream folder (the operator's CRDs), sorted by name.
///
/// # Errors
/// [`Error::Io`] when the folder cannot be listed.
pub(crate) fn upstream_yaml_files(dir: &Path) -> Result<Vec<PathBuf>> {
    load::yaml_files(dir, "listing upstream manifests")
}

/// The objects of an upstream file (no placeholders), typed and checked
/// strictly like the project's own: a field the typed object would drop
/// is an error, not a silently different object in the cluster.
///
/// # Errors
/// [`Error::Io`] or [`Error::Manifest`] naming the file.
pub(crate) fn read_upstream(file: &Path) -> Result<Vec<Manifest>> {
    load::read_docs_verbatim(file)?
        .into_iter()
        .map(|d| typed(d, Vec::new()))
        .collect()
}
