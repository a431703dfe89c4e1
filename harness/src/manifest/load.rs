//! Reading manifest folders: YAML files, their documents, placeholders.

use std::path::{Path, PathBuf};

use serde::Deserialize as _;
use serde_json::Value;

use super::params::{Params, substitute};
use crate::error::{Error, Result};

/// One YAML document of a manifest file, parsed and with its placeholders
/// filled in, not yet typed.
#[derive(Debug, Clone)]
pub(crate) struct RawDoc {
    /// The file it came from.
    pub(crate) file: PathBuf,
    /// Zero-based index of the document in the file.
    pub(crate) doc: usize,
    /// The document as JSON.
    pub(crate) value: Value,
}

impl RawDoc {
    /// `Kind/name` as far as the raw document says, `?` for what is missing.
    pub(crate) fn object(&self) -> String {
        object_name(&self.value)
    }

    /// `(kind, namespace, name)`: what patches and duplicates are matched by.
    pub(crate) fn key(&self) -> (String, String, String) {
        let s = |v: Option<&Value>| v.and_then(Value::as_str).unwrap_or_default().to_owned();
        (
            s(self.value.get("kind")),
            s(self.value.pointer("/metadata/namespace")),
            s(self.value.pointer("/metadata/name")),
        )
    }

    /// An [`Error::Manifest`] about this document.
    pub(crate) fn error(&self, message: impl Into<String>) -> Error {
        Error::Manifest {
            file: self.file.clone(),
            doc: self.doc,
            object: self.object(),
            message: message.into(),
        }
    }
}

/// `Kind/name` of a raw document, `?` for the parts it lacks.
pub(crate) fn object_name(value: &Value) -> String {
    let kind = value.get("kind").and_then(Value::as_str).unwrap_or("?");
    let name = value
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("?");
    format!("{kind}/{name}")
}

/// Whether `file` holds patches (`*.patch.yaml`) rather than objects.
pub(crate) fn is_patch_file(file: &Path) -> bool {
    file.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.ends_with(".patch.yaml") || n.ends_with(".patch.yml"))
}

/// The YAML files of `dir`, sorted by name so the order is stable.
///
/// # Errors
/// [`Error::Io`] when the folder cannot be listed.
pub(crate) fn yaml_files(dir: &Path, action: &'static str) -> Result<Vec<PathBuf>> {
    let entries = std::fs::read_dir(dir).map_err(|e| Error::io(action, dir, e))?;
    let mut files = Vec::new();
    for entry in entries {
        let path = entry.map_err(|e| Error::io(action, dir, e))?.path();
        let yaml = path.extension().is_some_and(|x| x == "yaml" || x == "yml");
        if yaml && path.is_file() {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

/// Every non-empty document of `file`, placeholders filled in.
///
/// # Errors
/// [`Error::Io`] when the file cannot be read; [`Error::Manifest`] for YAML
/// that does not parse, a document that is not a mapping, or a placeholder
/// that is unknown or has no value.
pub(crate) fn read_docs(file: &Path, params: &Params) -> Result<Vec<RawDoc>> {
    docs_of(file, Some(params))
}

/// Every non-empty document of `file` as written: for upstream files
/// (the operator's CRDs), whose descriptions may hold `${...}` of their
/// own and are not the project's manifests.
///
/// # Errors
/// As [`read_docs`], without the placeholder ones.
pub(crate) fn read_docs_verbatim(file: &Path) -> Result<Vec<RawDoc>> {
    docs_of(file, None)
}

fn docs_of(file: &Path, params: Option<&Params>) -> Result<Vec<RawDoc>> {
    let text = std::fs::read_to_string(file).map_err(|e| Error::io("reading manifest", file, e))?;
    let mut docs = Vec::new();
    for (doc, de) in serde_yaml_ng::Deserializer::from_str(&text).enumerate() {
        let at = |object: String, message: String| Error::Manifest {
            file: file.to_owned(),
            doc,
            object,
            message,
        };
        let yaml = serde_yaml_ng::Value::deserialize(de)
            .map_err(|e| at("?".into(), format!("not valid YAML: {e}")))?;
        if yaml.is_null() {
            continue;
        }
        let mut value = serde_json::to_value(&yaml)
            .map_err(|e| at("?".into(), format!("cannot be read as JSON: {e}")))?;
        if !value.is_object() {
            return Err(at(
                "?".into(),
                format!(
                    "expected a Kubernetes object (a mapping), found {}",
                    kind_of(&value)
                ),
            ));
        }
        // Name the object with its real name when that much can be filled in.
        let mut probe = serde_json::json!({
            "kind": value.get("kind"),
            "metadata": {"name": value.pointer("/metadata/name")},
        });
        if let Some(params) = params {
            let object = match fill(&mut probe, params, "") {
                Ok(()) => object_name(&probe),
                Err(_) => object_name(&value),
            };
            fill(&mut value, params, "")
                .map_err(|(path, why)| at(object.clone(), format!("{why} (at `{path}`)")))?;
        }
        docs.push(RawDoc {
            file: file.to_owned(),
            doc,
            value,
        });
    }
    Ok(docs)
}

/// Fill placeholders in every string value; on failure, the path and why.
fn fill(value: &mut Value, params: &Params, path: &str) -> Result<(), (String, String)> {
    match value {
        Value::String(s) if s.contains("${") => {
            *s = substitute(s, params).map_err(|e| (path.to_owned(), e.to_string()))?;
        }
        Value::Array(items) => {
            for (n, item) in items.iter_mut().enumerate() {
                fill(item, params, &format!("{path}[{n}]"))?;
            }
        }
        Value::Object(map) => {
            for (key, item) in map.iter_mut() {
                let here = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                fill(item, params, &here)?;
            }
        }
        _ => {}
    }
    Ok(())
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "nothing",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}
