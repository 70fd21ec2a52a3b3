//! Cursor pagination over a sorted list of keys, and the `query:` search filters the
//! stand-in understands (`updated_at:>'2025-01-01T00:00:00Z'`, `created_at:<=…`).

use std::collections::BTreeSet;

use base64::Engine;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as Json};

use super::analyse::page_size;

/// One page of a connection: the ids on it, each with its cursor.
#[derive(Debug, Clone)]
pub struct Window {
    pub items: Vec<(String, usize)>,
    pub has_next_page: bool,
    pub has_previous_page: bool,
}

#[derive(Serialize, Deserialize)]
struct CursorData {
    last_id: usize,
    last_value: i64,
}

fn cursor(key: i64, id: usize) -> String {
    let data = serde_json::to_vec(&CursorData {
        last_id: id,
        last_value: key,
    })
    .unwrap_or_default();
    base64::engine::general_purpose::STANDARD.encode(data)
}

fn decode(cursor: &str) -> Option<(i64, usize)> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(cursor)
        .ok()?;
    let data: CursorData = serde_json::from_slice(&bytes).ok()?;
    Some((data.last_value, data.last_id))
}

/// Pages through `keys` ((sort value, id), ascending) by `first`/`after` or
/// `last`/`before`, `reverse` flipping the order. Cursors are keyset positions, so a page
/// stays right while earlier items change.
pub fn paginate(mut keys: Vec<(i64, usize)>, args: &Map<String, Json>) -> Result<Window, String> {
    keys.sort_unstable();
    window(keys.len(), |pos| keys[pos], args)
}

/// [`paginate`] over the ids `0..len` less `gaps`, each its own sort value (a catalogue in
/// its own order, unfiltered): positions are computed, not listed, so a page costs the
/// same at any depth of a catalogue of any size.
pub fn paginate_ids(
    len: usize,
    gaps: &BTreeSet<usize>,
    args: &Map<String, Json>,
) -> Result<Window, String> {
    let gaps: Vec<usize> = gaps.range(..len).copied().collect();
    // The id at `pos`: past every gap at or below it.
    let id_at = |pos: usize| {
        let mut id = pos;
        for &gap in &gaps {
            if gap > id {
                break;
            }
            id += 1;
        }
        (id as i64, id)
    };
    window(len - gaps.len(), id_at, args)
}

/// The page of the `len` ascending keys `key_at(0..len)` that `args` asks for.
fn window(
    len: usize,
    key_at: impl Fn(usize) -> (i64, usize),
    args: &Map<String, Json>,
) -> Result<Window, String> {
    let size = page_size(args)? as usize;
    let ascending = args.get("reverse").and_then(Json::as_bool) != Some(true);
    let at = |pos: usize| key_at(if ascending { pos } else { len - 1 - pos });
    // Position of the first key after `bound` in the (possibly reversed) order.
    let after_pos = |bound: (i64, usize)| {
        partition_point(len, |pos| {
            let k = at(pos);
            if ascending {
                k <= bound
            } else {
                k >= bound
            }
        })
    };
    let before_pos = |bound: (i64, usize)| {
        partition_point(len, |pos| {
            let k = at(pos);
            if ascending {
                k < bound
            } else {
                k > bound
            }
        })
    };
    let bound = |name: &str| -> Result<Option<(i64, usize)>, String> {
        match args.get(name).and_then(Json::as_str) {
            None => Ok(None),
            Some(c) => decode(c)
                .map(Some)
                .ok_or_else(|| format!("Invalid cursor for current pagination sort: {c}")),
        }
    };
    let start = bound("after")?.map_or(0, after_pos);
    let end = bound("before")?.map_or(len, before_pos).max(start);
    let (from, to) = if args.get("first").is_some_and(|v| !v.is_null()) {
        (start, (start + size).min(end))
    } else {
        (end.saturating_sub(size).max(start), end)
    };
    Ok(Window {
        items: (from..to)
            .map(|pos| {
                let (key, id) = at(pos);
                (cursor(key, id), id)
            })
            .collect(),
        has_next_page: to < len,
        has_previous_page: from > 0,
    })
}

/// The first position in `0..len` where `pred` turns false (`pred` holds for a prefix).
fn partition_point(len: usize, pred: impl Fn(usize) -> bool) -> usize {
    let (mut low, mut high) = (0, len);
    while low < high {
        let mid = low + (high - low) / 2;
        if pred(mid) {
            low = mid + 1;
        } else {
            high = mid;
        }
    }
    low
}

/// One comparison of a search query.
#[derive(Debug, Clone, PartialEq)]
pub struct Clause {
    pub field: String,
    pub op: Op,
    pub value: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Gt,
    Ge,
    Lt,
    Le,
}

/// Parses `field:value`, `field:>value`, `field:>='quoted value'` terms joined by spaces
/// or `AND`. Free text and `OR` are not understood and are dropped, as the stand-in has
/// no full-text index.
pub fn parse_search(query: &str) -> Vec<Clause> {
    let mut clauses = Vec::new();
    let mut rest = query.trim();
    while !rest.is_empty() {
        let (term, tail) = next_term(rest);
        rest = tail.trim_start();
        let Some((field, value)) = term.split_once(':') else {
            continue;
        };
        let (op, value) = if let Some(v) = value.strip_prefix(">=") {
            (Op::Ge, v)
        } else if let Some(v) = value.strip_prefix("<=") {
            (Op::Le, v)
        } else if let Some(v) = value.strip_prefix('>') {
            (Op::Gt, v)
        } else if let Some(v) = value.strip_prefix('<') {
            (Op::Lt, v)
        } else {
            (Op::Eq, value)
        };
        clauses.push(Clause {
            field: field.to_ascii_lowercase(),
            op,
            value: value.trim_matches(|c| c == '\'' || c == '"').to_owned(),
        });
    }
    clauses
}

/// The next whitespace-separated term, quotes kept together.
fn next_term(s: &str) -> (&str, &str) {
    let mut quote = None;
    for (i, c) in s.char_indices() {
        match (quote, c) {
            (None, '\'' | '"') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (None, c) if c.is_whitespace() => return (&s[..i], &s[i..]),
            _ => {}
        }
    }
    (s, "")
}

/// True when `at` satisfies every clause on `field` (clauses whose value is not a
/// timestamp match nothing, as Shopify's search does).
pub fn time_matches(clauses: &[Clause], field: &str, at: DateTime<Utc>) -> bool {
    clauses.iter().filter(|c| c.field == field).all(|c| {
        let Some(bound) = parse_time(&c.value) else {
            return false;
        };
        match c.op {
            Op::Eq => at == bound,
            Op::Gt => at > bound,
            Op::Ge => at >= bound,
            Op::Lt => at < bound,
            Op::Le => at <= bound,
        }
    })
}

/// True when `value` equals (ignoring case) every `field:value` clause on `field`.
pub fn text_matches(clauses: &[Clause], field: &str, value: &str) -> bool {
    clauses
        .iter()
        .filter(|c| c.field == field)
        .all(|c| c.op == Op::Eq && c.value.eq_ignore_ascii_case(value))
}

/// RFC 3339 timestamps, or plain dates (midnight UTC).
fn parse_time(value: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(value)
        .map(|t| t.with_timezone(&Utc))
        .ok()
        .or_else(|| {
            chrono::NaiveDate::parse_from_str(value, "%Y-%m-%d")
                .ok()
                .and_then(|d| d.and_hms_opt(0, 0, 0))
                .map(|d| d.and_utc())
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn args(v: Json) -> Map<String, Json> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn pages_walk_to_the_end_without_gaps_or_repeats() {
        let keys: Vec<_> = (0..7).map(|i| (i as i64 * 10, i)).collect();
        let mut seen = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let w = paginate(keys.clone(), &args(json!({"first": 3, "after": after}))).unwrap();
            seen.extend(w.items.iter().map(|(_, id)| *id));
            if !w.has_next_page {
                break;
            }
            after = w.items.last().map(|(c, _)| c.clone());
        }
        assert_eq!(seen, (0..7).collect::<Vec<_>>());
        let reversed = paginate(keys, &args(json!({"first": 2, "reverse": true}))).unwrap();
        assert_eq!(
            reversed.items.iter().map(|(_, id)| *id).collect::<Vec<_>>(),
            [6, 5]
        );
        assert!(reversed.has_next_page);
    }

    #[test]
    fn computed_pages_of_ids_equal_listed_ones() {
        let gaps: BTreeSet<usize> = [0, 3, 4, 9, 12].into();
        let keys: Vec<_> = (0..12)
            .filter(|i| !gaps.contains(i))
            .map(|i| (i as i64, i))
            .collect();
        let ids = |w: &Window| w.items.clone();
        let mid = paginate(keys.clone(), &args(json!({"first": 3})))
            .unwrap()
            .items[1]
            .0
            .clone();
        for request in [
            json!({"first": 4}),
            json!({"first": 4, "after": mid}),
            json!({"last": 2, "before": mid}),
            json!({"first": 3, "reverse": true}),
            json!({"first": 3, "reverse": true, "after": mid}),
            json!({"last": 3}),
            json!({"first": 50}),
        ] {
            let listed = paginate(keys.clone(), &args(request.clone())).unwrap();
            let computed = paginate_ids(12, &gaps, &args(request.clone())).unwrap();
            assert_eq!(ids(&listed), ids(&computed), "{request}");
            assert_eq!(listed.has_next_page, computed.has_next_page, "{request}");
            assert_eq!(
                listed.has_previous_page, computed.has_previous_page,
                "{request}"
            );
        }
        let empty = paginate_ids(0, &BTreeSet::new(), &args(json!({"first": 5}))).unwrap();
        assert!(empty.items.is_empty() && !empty.has_next_page);
    }

    #[test]
    fn search_terms_parse_with_quotes_and_operators() {
        let c = parse_search("updated_at:>'2025-01-01T00:00:00Z' AND created_at:<=2025-02-01");
        assert_eq!(c.len(), 2);
        assert_eq!(c[0].op, Op::Gt);
        assert_eq!(c[0].value, "2025-01-01T00:00:00Z");
        assert_eq!(c[1].op, Op::Le);
        let at = DateTime::parse_from_rfc3339("2025-01-15T00:00:00Z")
            .unwrap()
            .to_utc();
        assert!(time_matches(&c, "updated_at", at));
        assert!(!time_matches(
            &c,
            "updated_at",
            c_time("2024-12-31T00:00:00Z")
        ));
        assert!(!time_matches(
            &parse_search("updated_at:>nonsense"),
            "updated_at",
            at
        ));
    }

    fn c_time(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().to_utc()
    }
}
