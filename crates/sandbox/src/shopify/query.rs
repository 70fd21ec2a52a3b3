//! A parsed request: the operation to run, its coerced variables, its fragments, and the
//! GraphQL errors in the shape Shopify (graphql-ruby) gives them.

use std::collections::HashMap;

use graphql_parser::query::{
    Definition, Directive, Document, Field, FragmentDefinition, OperationDefinition, Selection,
    SelectionSet, Type, Value,
};
use graphql_parser::Pos;
use serde_json::{json, Map, Value as Json};

pub type Doc<'a> = Document<'a, String>;
pub type Set<'a> = SelectionSet<'a, String>;
pub type GqlField<'a> = Field<'a, String>;

/// One entry of the answer's `errors`.
#[derive(Debug)]
pub struct GqlError {
    pub message: String,
    pub locations: Vec<Pos>,
    pub path: Vec<Json>,
    pub extensions: Option<Json>,
}

impl GqlError {
    pub fn new(message: impl Into<String>, at: Option<Pos>) -> Self {
        GqlError {
            message: message.into(),
            locations: at.into_iter().collect(),
            path: Vec::new(),
            extensions: None,
        }
    }

    pub fn path(mut self, path: Vec<Json>) -> Self {
        self.path = path;
        self
    }

    pub fn extensions(mut self, extensions: Json) -> Self {
        self.extensions = Some(extensions);
        self
    }

    pub fn to_json(&self) -> Json {
        let mut error = Map::new();
        error.insert("message".into(), json!(self.message));
        if !self.locations.is_empty() {
            let locations: Vec<_> = self
                .locations
                .iter()
                .map(|p| json!({"line": p.line, "column": p.column}))
                .collect();
            error.insert("locations".into(), json!(locations));
        }
        if !self.path.is_empty() {
            error.insert("path".into(), json!(self.path));
        }
        if let Some(extensions) = &self.extensions {
            error.insert("extensions".into(), extensions.clone());
        }
        Json::Object(error)
    }
}

/// Parses the query; a syntax error comes back the way graphql-ruby words it.
pub fn parse(query: &str) -> Result<Doc<'_>, GqlError> {
    graphql_parser::parse_query::<String>(query).map_err(|e| {
        // The parser reports "Parse error at L:C\n<what>\n<expected>"; keep the words,
        // lift the position into `locations`.
        let text = e.to_string();
        let detail = text
            .lines()
            .skip(1)
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect::<Vec<_>>()
            .join(", ");
        let at = text
            .split("Parse error at ")
            .nth(1)
            .and_then(|rest| rest.lines().next())
            .and_then(|lc| lc.split_once(':'))
            .and_then(|(l, c)| Some((l.trim().parse().ok()?, c.trim().parse().ok()?)));
        let (line, column) = at.unwrap_or((1, 1));
        GqlError::new(
            format!("syntax error, {detail} at [{line}, {column}]"),
            Some(Pos { line, column }),
        )
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Query,
    Mutation,
}

/// The operation a request runs, ready to analyse and execute.
pub struct Operation<'d> {
    pub kind: Kind,
    /// `query` or `query Name`: the first element of static-validation error paths.
    pub label: String,
    pub selection: &'d Set<'d>,
    pub variables: Map<String, Json>,
    pub fragments: HashMap<&'d str, &'d FragmentDefinition<'d, String>>,
}

/// Picks the operation (by `operationName` when there are several) and coerces its
/// variables.
pub fn operation<'d>(
    doc: &'d Doc<'d>,
    operation_name: Option<&str>,
    given: &Map<String, Json>,
) -> Result<Operation<'d>, Vec<GqlError>> {
    let mut fragments = HashMap::new();
    let mut operations = Vec::new();
    for definition in &doc.definitions {
        match definition {
            Definition::Fragment(f) => {
                fragments.insert(f.name.as_str(), f);
            }
            Definition::Operation(op) => operations.push(op),
        }
    }
    let chosen = match operation_name {
        Some(name) => operations
            .iter()
            .find(|op| op_parts(op).1 == Some(name))
            .copied(),
        None if operations.len() == 1 => operations.first().copied(),
        None => return Err(vec![GqlError::new("An operation name is required", None)]),
    };
    let Some(chosen) = chosen else {
        return Err(vec![GqlError::new(
            format!("No operation named \"{}\"", operation_name.unwrap_or("")),
            None,
        )]);
    };
    let (kind, name, definitions, selection, at) = op_parts(chosen);
    let kind = match kind {
        Some(kind) => kind,
        None => {
            return Err(vec![GqlError::new(
                "Subscriptions are not supported by the Admin API",
                Some(at),
            )])
        }
    };
    let keyword = if kind == Kind::Query {
        "query"
    } else {
        "mutation"
    };
    let label = match name {
        Some(name) => format!("{keyword} {name}"),
        None => keyword.to_owned(),
    };
    let mut variables = Map::new();
    let mut errors = Vec::new();
    for def in definitions {
        let value = match given.get(&def.name) {
            Some(v) => Some(v.clone()),
            None => def.default_value.as_ref().map(|d| to_json(d, &Map::new())),
        };
        let non_null = matches!(def.var_type, Type::NonNullType(_));
        match value {
            Some(Json::Null) | None if non_null => errors.push(
                GqlError::new(
                    format!(
                        "Variable ${} of type {} was provided invalid value",
                        def.name, def.var_type
                    ),
                    Some(def.position),
                )
                .extensions(json!({
                    "value": null,
                    "problems": [{"path": [], "explanation": "Expected value to not be null"}],
                })),
            ),
            Some(v) => {
                variables.insert(def.name.clone(), v);
            }
            None => {}
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(Operation {
        kind,
        label,
        selection,
        variables,
        fragments,
    })
}

type Parts<'d> = (
    Option<Kind>,
    Option<&'d str>,
    &'d [graphql_parser::query::VariableDefinition<'d, String>],
    &'d Set<'d>,
    Pos,
);

fn op_parts<'d>(op: &'d OperationDefinition<'d, String>) -> Parts<'d> {
    match op {
        OperationDefinition::SelectionSet(s) => (Some(Kind::Query), None, &[], s, s.span.0),
        OperationDefinition::Query(q) => (
            Some(Kind::Query),
            q.name.as_deref(),
            &q.variable_definitions,
            &q.selection_set,
            q.position,
        ),
        OperationDefinition::Mutation(m) => (
            Some(Kind::Mutation),
            m.name.as_deref(),
            &m.variable_definitions,
            &m.selection_set,
            m.position,
        ),
        OperationDefinition::Subscription(s) => (
            None,
            s.name.as_deref(),
            &s.variable_definitions,
            &s.selection_set,
            s.position,
        ),
    }
}

/// A literal or variable as JSON (enums as their name; unknown variables as null).
pub fn to_json(value: &Value<'_, String>, variables: &Map<String, Json>) -> Json {
    match value {
        Value::Variable(name) => variables.get(name).cloned().unwrap_or(Json::Null),
        Value::Int(n) => n.as_i64().map(Json::from).unwrap_or(Json::Null),
        Value::Float(f) => json!(f),
        Value::String(s) => json!(s),
        Value::Boolean(b) => json!(b),
        Value::Null => Json::Null,
        Value::Enum(e) => json!(e),
        Value::List(items) => Json::Array(items.iter().map(|v| to_json(v, variables)).collect()),
        Value::Object(fields) => Json::Object(
            fields
                .iter()
                .map(|(k, v)| (k.clone(), to_json(v, variables)))
                .collect(),
        ),
    }
}

/// The field's arguments with variables substituted.
pub fn arguments(field: &GqlField<'_>, variables: &Map<String, Json>) -> Map<String, Json> {
    field
        .arguments
        .iter()
        .map(|(name, value)| (name.clone(), to_json(value, variables)))
        .collect()
}

/// False when `@skip(if: true)` or `@include(if: false)` drops the selection.
pub fn included(directives: &[Directive<'_, String>], variables: &Map<String, Json>) -> bool {
    directives.iter().all(|d| {
        let condition = d
            .arguments
            .iter()
            .find(|(name, _)| name == "if")
            .map(|(_, v)| to_json(v, variables))
            .and_then(|v| v.as_bool());
        !matches!(
            (d.name.as_str(), condition),
            ("skip", Some(true)) | ("include", Some(false))
        )
    })
}

/// How deep fragments may nest: deeper is a spread cycle.
pub const MAX_FRAGMENT_DEPTH: usize = 16;

/// The fields a selection set asks of an object of type `object`, grouped by response key
/// in the order asked (fragments that apply are flattened in).
pub fn collect<'d>(
    op: &Operation<'d>,
    sets: &[&'d Set<'d>],
    object: &str,
) -> Vec<(String, Vec<&'d GqlField<'d>>)> {
    let mut out: Vec<(String, Vec<&'d GqlField<'d>>)> = Vec::new();
    for set in sets {
        collect_into(op, set, object, &mut out, 0);
    }
    out
}

fn collect_into<'d>(
    op: &Operation<'d>,
    set: &'d Set<'d>,
    object: &str,
    out: &mut Vec<(String, Vec<&'d GqlField<'d>>)>,
    depth: usize,
) {
    if depth > MAX_FRAGMENT_DEPTH {
        return;
    }
    for selection in &set.items {
        match selection {
            Selection::Field(field) => {
                if !included(&field.directives, &op.variables) {
                    continue;
                }
                let key = field.alias.as_ref().unwrap_or(&field.name).clone();
                match out.iter_mut().find(|(k, _)| *k == key) {
                    Some((_, fields)) => fields.push(field),
                    None => out.push((key, vec![field])),
                }
            }
            Selection::InlineFragment(inline) => {
                let applies = match &inline.type_condition {
                    Some(graphql_parser::query::TypeCondition::On(on)) => {
                        super::schema::fits(object, on)
                    }
                    None => true,
                };
                if applies && included(&inline.directives, &op.variables) {
                    collect_into(op, &inline.selection_set, object, out, depth + 1);
                }
            }
            Selection::FragmentSpread(spread) => {
                let Some(fragment) = op.fragments.get(spread.fragment_name.as_str()) else {
                    continue;
                };
                let graphql_parser::query::TypeCondition::On(on) = &fragment.type_condition;
                if super::schema::fits(object, on) && included(&spread.directives, &op.variables) {
                    collect_into(op, &fragment.selection_set, object, out, depth + 1);
                }
            }
        }
    }
}
