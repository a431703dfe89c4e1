//! Strategic-merge patches, the subset the storage variants use.
//!
//! A variant changes a base object with a file named `*.patch.yaml` holding
//! partial objects, read the way `kubectl patch --type strategic` (and
//! kustomize) read them:
//! - maps merge key by key; `key: null` removes the key;
//! - lists of containers, init containers, volumes and env merge by `name`,
//!   volumeMounts by `mountPath`; an item with `$patch: delete` removes the
//!   base item with that key;
//! - every other list, and every scalar, replaces the base value;
//! - `$patch: delete` at the top removes the whole base object.
//!
//! Kubernetes merges a few more lists by key (ports, tolerations are not
//! among them); a patch that needs those should restate the whole list.

use serde_json::{Map, Value};

/// The key a list field's items are merged by; `None` means "replace".
fn merge_key(field: &str) -> Option<&'static str> {
    match field {
        "containers" | "initContainers" | "ephemeralContainers" | "volumes" | "env" => Some("name"),
        "volumeMounts" => Some("mountPath"),
        _ => None,
    }
}

/// What a patch document does to its target.
#[derive(Debug, PartialEq)]
pub(crate) enum Outcome {
    /// The target was changed in place.
    Merged,
    /// The patch says `$patch: delete`: the caller removes the target.
    Delete,
}

/// Apply `patch` (a whole patch document) to `target`.
///
/// # Errors
/// A message saying what in the patch cannot be applied, with its path.
pub(crate) fn apply(target: &mut Value, patch: &Value) -> Result<Outcome, String> {
    let Value::Object(p) = patch else {
        return Err("a patch must be a mapping".into());
    };
    match p.get("$patch") {
        None => {}
        Some(Value::String(s)) if s == "delete" => return Ok(Outcome::Delete),
        Some(other) => return Err(format!("unsupported `$patch: {other}` at the top")),
    }
    let Value::Object(t) = target else {
        return Err("the patched object is not a mapping".into());
    };
    merge_map(t, p, "")?;
    Ok(Outcome::Merged)
}

fn merge_map(
    base: &mut Map<String, Value>,
    patch: &Map<String, Value>,
    path: &str,
) -> Result<(), String> {
    for (key, pv) in patch {
        let here = if path.is_empty() {
            key.clone()
        } else {
            format!("{path}.{key}")
        };
        if key.starts_with('$') {
            return Err(format!("unsupported directive `{here}`"));
        }
        if pv.is_null() {
            base.remove(key);
            continue;
        }
        match base.get_mut(key) {
            None => {
                base.insert(key.clone(), plain(pv, &here)?);
            }
            Some(bv) => merge_value(bv, pv, key, &here)?,
        }
    }
    Ok(())
}

fn merge_value(base: &mut Value, patch: &Value, key: &str, path: &str) -> Result<(), String> {
    match (base, patch, merge_key(key)) {
        (Value::Object(b), Value::Object(p), _) => merge_map(b, p, path),
        (Value::Array(b), Value::Array(p), Some(mk)) => merge_list(b, p, mk, path),
        (b, p, _) => {
            *b = plain(p, path)?;
            Ok(())
        }
    }
}

fn merge_list(base: &mut Vec<Value>, patch: &[Value], mk: &str, path: &str) -> Result<(), String> {
    for (n, item) in patch.iter().enumerate() {
        let here = format!("{path}[{n}]");
        let Value::Object(pi) = item else {
            return Err(format!(
                "`{here}` must be a mapping (items are merged by `{mk}`)"
            ));
        };
        let Some(Value::String(k)) = pi.get(mk) else {
            return Err(format!(
                "`{here}` has no `{mk}`, which items of this list are merged by"
            ));
        };
        let pos = base
            .iter()
            .position(|b| b.get(mk) == Some(&Value::String(k.clone())));
        match (pi.get("$patch"), pos) {
            (Some(Value::String(d)), Some(i)) if d == "delete" => {
                base.remove(i);
            }
            (Some(Value::String(d)), None) if d == "delete" => {
                return Err(format!(
                    "`{here}` deletes `{k}`, which the base does not have"
                ));
            }
            (Some(other), _) => return Err(format!("unsupported `$patch: {other}` at `{here}`")),
            (None, Some(i)) => match &mut base[i] {
                Value::Object(bi) => merge_map(bi, pi, &here)?,
                other => *other = plain(item, &here)?,
            },
            (None, None) => base.push(plain(item, &here)?),
        }
    }
    Ok(())
}

/// A patch value inserted as is: it must not carry directives, and its
/// nulls mean "not set".
fn plain(value: &Value, path: &str) -> Result<Value, String> {
    match value {
        Value::Object(m) => {
            let mut out = Map::new();
            for (k, v) in m {
                if k.starts_with('$') {
                    return Err(format!("unsupported directive `{path}.{k}`"));
                }
                if !v.is_null() {
                    out.insert(k.clone(), plain(v, &format!("{path}.{k}"))?);
                }
            }
            Ok(Value::Object(out))
        }
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(n, v)| plain(v, &format!("{path}[{n}]")))
            .collect::<Result<_, _>>()
            .map(Value::Array),
        other => Ok(other.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn deployment() -> Value {
        json!({
            "kind": "Deployment",
            "metadata": {"name": "p", "labels": {"a": "1"}},
            "spec": {"template": {"spec": {
                "containers": [{"name": "c", "image": "i:1", "args": ["--x"],
                                "volumeMounts": [{"name": "data", "mountPath": "/d"}]}],
                "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "pd"}},
                            {"name": "config", "configMap": {"name": "cm"}}]
            }}}
        })
    }

    #[test]
    fn named_lists_merge_and_null_removes() {
        let mut d = deployment();
        let patch = json!({
            "kind": "Deployment",
            "metadata": {"name": "p"},
            "spec": {"template": {"spec": {
                "nodeSelector": {"kubernetes.io/hostname": "n1"},
                "initContainers": [{"name": "chown", "image": "busybox:1"}],
                "containers": [{"name": "c", "args": ["--y"]}],
                "volumes": [{"name": "data", "persistentVolumeClaim": null, "emptyDir": {}}]
            }}}
        });
        assert_eq!(apply(&mut d, &patch), Ok(Outcome::Merged));
        let spec = &d["spec"]["template"]["spec"];
        assert_eq!(spec["volumes"][0], json!({"name": "data", "emptyDir": {}}));
        assert_eq!(spec["volumes"][1]["configMap"]["name"], "cm");
        assert_eq!(spec["containers"][0]["image"], "i:1");
        assert_eq!(
            spec["containers"][0]["args"],
            json!(["--y"]),
            "plain lists are replaced"
        );
        assert_eq!(spec["initContainers"][0]["name"], "chown");
        assert_eq!(spec["nodeSelector"]["kubernetes.io/hostname"], "n1");
        assert_eq!(d["metadata"]["labels"]["a"], "1");
    }

    #[test]
    fn delete_directives() {
        let mut d = deployment();
        let whole = json!({"kind": "Deployment", "metadata": {"name": "p"}, "$patch": "delete"});
        assert_eq!(apply(&mut d, &whole), Ok(Outcome::Delete));
        let item = json!({"spec": {"template": {"spec": {
            "volumes": [{"name": "config", "$patch": "delete"}]}}}});
        assert_eq!(apply(&mut d, &item), Ok(Outcome::Merged));
        assert_eq!(
            d["spec"]["template"]["spec"]["volumes"]
                .as_array()
                .map(Vec::len),
            Some(1)
        );
        let missing = json!({"spec": {"template": {"spec": {
            "volumes": [{"name": "nope", "$patch": "delete"}]}}}});
        assert_eq!(
            apply(&mut d, &missing),
            Err(
                "`spec.template.spec.volumes[0]` deletes `nope`, which the base does not have"
                    .into()
            )
        );
    }

    #[test]
    fn bad_patches_say_where() {
        let mut d = deployment();
        let e = apply(&mut d, &json!({"spec": {"$retainKeys": []}}));
        assert_eq!(e, Err("unsupported directive `spec.$retainKeys`".into()));
        let e = apply(
            &mut d,
            &json!({"spec": {"template": {"spec": {"volumes": [{"emptyDir": {}}]}}}}),
        );
        assert_eq!(
            e,
            Err("`spec.template.spec.volumes[0]` has no `name`, which items of this list are merged by".into())
        );
    }
}
