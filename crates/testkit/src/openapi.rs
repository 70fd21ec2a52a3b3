//! Checks on a service's OpenAPI document as clients read it.

use serde_json::Value;

const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// The answers the shared stack can give that an operation of `doc` does not document,
/// as `"METHOD /path: status"`; empty when the document is complete. Every operation can
/// time out (408), fail (500) or find a dependency away (503); one that needs a credential
/// answers 401 without it; one with a body answers 400, 413, 415 and 422 to a bad one; one
/// with query parameters 400 to bad ones; one with path parameters 404 to unknown ids.
pub fn undocumented_answers(doc: &Value) -> Vec<String> {
    let global = doc.get("security").cloned().unwrap_or(Value::Array(vec![]));
    let mut gaps = Vec::new();
    for (path, item) in doc["paths"].as_object().into_iter().flatten() {
        for method in METHODS {
            let Some(op) = item.get(method) else { continue };
            let security = op.get("security").unwrap_or(&global);
            let alternatives = security.as_array().map(Vec::as_slice).unwrap_or_default();
            let protected = !alternatives.is_empty()
                && alternatives
                    .iter()
                    .all(|alt| alt.as_object().is_some_and(|a| !a.is_empty()));
            let params_in = |place: &str| {
                op["parameters"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|p| p["in"] == place)
            };
            let mut expected = vec!["408", "500", "503"];
            if protected {
                expected.push("401");
            }
            if op.get("requestBody").is_some() {
                expected.extend(["400", "413", "415", "422"]);
            }
            if params_in("query") {
                expected.push("400");
            }
            if params_in("path") {
                expected.push("404");
            }
            for status in expected {
                if op["responses"].get(status).is_none() {
                    gaps.push(format!("{} {path}: {status}", method.to_uppercase()));
                }
            }
        }
    }
    gaps
}

/// Whether `method path` of `doc` may be called without any credential.
pub fn is_anonymous(doc: &Value, method: &str, path: &str) -> bool {
    let op = &doc["paths"][path][method];
    let security = op.get("security").or(doc.get("security"));
    security
        .and_then(Value::as_array)
        .is_none_or(|alts| alts.is_empty() || alts.iter().any(|a| a == &serde_json::json!({})))
}
