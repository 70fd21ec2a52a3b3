//! Static checks before anything runs (fields, arguments, selections, fragments, page
//! sizes) and the requested cost as Shopify documents it: scalars and enums 0, objects 1,
//! connections 2 + first × the cost of one node, every mutation 10.

use graphql_parser::query::{Selection, TypeCondition};
use serde_json::{json, Map, Value as Json};

use super::query::{arguments, included, GqlError, GqlField, Kind, Operation, Set};
use super::schema::{self, Shape};

/// The most objects one connection page may return.
pub const MAX_PAGE_SIZE: i64 = 250;
/// What a mutation costs, whatever it selects.
pub const MUTATION_COST: u64 = 10;
/// How many selections the analysis visits (fragments expanded) before refusing the
/// query: fragments spreading fragments could otherwise multiply without end.
const MAX_SELECTIONS: usize = 20_000;

/// The requested cost of the operation, or every static error found.
pub fn analyse(op: &Operation<'_>) -> Result<u64, Vec<GqlError>> {
    let root = match op.kind {
        Kind::Query => "QueryRoot",
        Kind::Mutation => "Mutation",
    };
    let mut walk = Walk {
        op,
        errors: Vec::new(),
        path: vec![Json::from(op.label.clone())],
        visited: 0,
    };
    let cost = walk.set(op.selection, root, 0, op.kind == Kind::Mutation);
    if walk.errors.is_empty() {
        Ok(cost)
    } else {
        Err(walk.errors)
    }
}

struct Walk<'o, 'd> {
    op: &'o Operation<'d>,
    errors: Vec<GqlError>,
    path: Vec<Json>,
    visited: usize,
}

impl<'d> Walk<'_, 'd> {
    /// The cost of one object's selection (its own cost not included).
    fn set(&mut self, set: &'d Set<'d>, parent: &str, depth: usize, mutation_root: bool) -> u64 {
        if depth > super::query::MAX_FRAGMENT_DEPTH {
            self.errors.push(GqlError::new(
                "Fragments nest too deeply (is there a cycle?)",
                Some(set.span.0),
            ));
            return 0;
        }
        let mut cost = 0;
        for selection in &set.items {
            self.visited += 1;
            if self.visited > MAX_SELECTIONS {
                if self.visited == MAX_SELECTIONS + 1 {
                    self.errors.push(GqlError::new(
                        format!("Query has too many selections (more than {MAX_SELECTIONS} with fragments expanded)"),
                        Some(set.span.0),
                    ).extensions(json!({"code": "MAX_COMPLEXITY_EXCEEDED"})));
                }
                return cost;
            }
            match selection {
                Selection::Field(field) => {
                    if !included(&field.directives, &self.op.variables) {
                        continue;
                    }
                    self.path.push(Json::from(field.name.clone()));
                    let field_cost = self.field(field, parent);
                    self.path.pop();
                    cost += if mutation_root {
                        MUTATION_COST
                    } else {
                        field_cost
                    };
                }
                Selection::InlineFragment(inline) => {
                    if !included(&inline.directives, &self.op.variables) {
                        continue;
                    }
                    let on = match &inline.type_condition {
                        Some(TypeCondition::On(on)) => on.as_str(),
                        None => parent,
                    };
                    if self.condition(on, parent, inline.position) {
                        self.path.push(Json::from(format!("... on {on}")));
                        cost += self.set(&inline.selection_set, on, depth + 1, mutation_root);
                        self.path.pop();
                    }
                }
                Selection::FragmentSpread(spread) => {
                    if !included(&spread.directives, &self.op.variables) {
                        continue;
                    }
                    let name = spread.fragment_name.as_str();
                    let Some(fragment) = self.op.fragments.get(name) else {
                        self.errors.push(
                            GqlError::new(
                                format!("Fragment {name} was used, but not defined"),
                                Some(spread.position),
                            )
                            .path(self.path.clone())
                            .extensions(
                                json!({"code": "useAndDefineFragment", "fragmentName": name}),
                            ),
                        );
                        continue;
                    };
                    let TypeCondition::On(on) = &fragment.type_condition;
                    if self.condition(on, parent, spread.position) {
                        self.path.push(Json::from(format!("... {name}")));
                        cost += self.set(&fragment.selection_set, on, depth + 1, mutation_root);
                        self.path.pop();
                    }
                }
            }
        }
        cost
    }

    /// True when a fragment on `on` may sit in a selection on `parent`.
    fn condition(&mut self, on: &str, parent: &str, at: graphql_parser::Pos) -> bool {
        if !schema::is_composite(on) {
            self.errors.push(
                GqlError::new(
                    format!("No such type {on}, so it can't be a fragment condition"),
                    Some(at),
                )
                .path(self.path.clone())
                .extensions(json!({"code": "undefinedType", "typeName": on})),
            );
            return false;
        }
        if !schema::overlaps(parent, on) {
            self.errors.push(
                GqlError::new(
                    format!("Fragment on {on} can't be spread inside {parent}"),
                    Some(at),
                )
                .path(self.path.clone())
                .extensions(json!({
                    "code": "fragmentSpreadTypeMismatch",
                    "argumentName": null,
                    "fragmentName": format!("... on {on}"),
                    "parentName": parent,
                    "typeName": on,
                })),
            );
            return false;
        }
        true
    }

    /// The cost of one selected field (the object it returns included).
    fn field(&mut self, field: &'d GqlField<'d>, parent: &str) -> u64 {
        let name = field.name.as_str();
        let Some(def) = schema::field(parent, name) else {
            self.error(
                field,
                format!("Field '{name}' doesn't exist on type '{parent}'"),
                json!({"code": "undefinedField", "typeName": parent, "fieldName": name}),
            );
            return 0;
        };
        for (arg, _) in &field.arguments {
            if !def.args.iter().any(|a| a.name == arg) {
                self.error(
                    field,
                    format!("Field '{name}' doesn't accept argument '{arg}'"),
                    json!({"code": "argumentNotAccepted", "name": name, "typeName": "Field", "argumentName": arg}),
                );
            }
        }
        let args = arguments(field, &self.op.variables);
        let missing: Vec<_> = def
            .args
            .iter()
            .filter(|a| a.ty.ends_with('!') && args.get(a.name).is_none_or(Json::is_null))
            .map(|a| a.name)
            .collect();
        if !missing.is_empty() {
            self.error(
                field,
                format!(
                    "Field '{name}' is missing required arguments: {}",
                    missing.join(", ")
                ),
                json!({"code": "missingRequiredArguments", "className": "Field", "name": name, "arguments": missing.join(", ")}),
            );
        }
        let has_selection = !field.selection_set.items.is_empty();
        if def.shape == Shape::Leaf {
            if has_selection {
                self.error(
                    field,
                    format!(
                        "Selections can't be made on scalars (field '{name}' returns {} but has selections [{}])",
                        def.ty,
                        selected_names(&field.selection_set)
                    ),
                    json!({"code": "selectionMismatch", "nodeName": format!("field '{name}'"), "typeName": def.named}),
                );
            }
            return 0;
        }
        if !has_selection {
            self.error(
                field,
                format!(
                    "Field must have selections (field '{name}' returns {} but has no selections. Did you mean '{name} {{ ... }}'?)",
                    def.ty
                ),
                json!({"code": "selectionMismatch", "nodeName": format!("field '{name}'"), "typeName": def.named}),
            );
            return 0;
        }
        let inner = self.set(&field.selection_set, &def.named, 0, false);
        match def.shape {
            Shape::Leaf | Shape::Free => 0,
            Shape::Object => 1 + inner,
            // Edges are free, their nodes cost; `nodes` elements cost as objects.
            Shape::Elements if def.named.ends_with("Edge") => inner,
            Shape::Elements => 1 + inner,
            Shape::Connection => match page_size(&args) {
                Ok(n) => 2 + n * inner,
                Err(message) => {
                    self.error(
                        field,
                        message,
                        json!({"code": "invalidPageSize", "fieldName": name}),
                    );
                    0
                }
            },
        }
    }

    fn error(&mut self, field: &GqlField<'_>, message: String, extensions: Json) {
        self.errors.push(
            GqlError::new(message, Some(field.position))
                .path(self.path.clone())
                .extensions(extensions),
        );
    }
}

/// `first` or `last`, which one of must be given and at most 250.
pub fn page_size(args: &Map<String, Json>) -> Result<u64, String> {
    let first = args.get("first").filter(|v| !v.is_null());
    let last = args.get("last").filter(|v| !v.is_null());
    let n = match (first, last) {
        (Some(n), None) | (None, Some(n)) => n,
        (None, None) => return Err("you must provide one of first or last".to_owned()),
        (Some(_), Some(_)) => {
            return Err("providing both first and last is not supported".to_owned())
        }
    };
    match n.as_i64() {
        Some(n) if (0..=MAX_PAGE_SIZE).contains(&n) => Ok(n as u64),
        Some(n) if n > MAX_PAGE_SIZE => Err(format!(
            "The value of first or last ({n}) exceeds the maximum page size of {MAX_PAGE_SIZE}"
        )),
        _ => Err("first and last must be non-negative integers".to_owned()),
    }
}

fn selected_names(set: &Set<'_>) -> String {
    set.items
        .iter()
        .filter_map(|s| match s {
            Selection::Field(f) => Some(format!("\"{}\"", f.name)),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join(", ")
}
