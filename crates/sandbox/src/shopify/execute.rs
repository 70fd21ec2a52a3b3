//! Runs an analysed operation: walks the selection set, asks the resolvers for each field
//! asked (and only those), and counts the actual cost of what came back.

use serde_json::{json, Map, Value as Json};

use super::analyse::MUTATION_COST;
use super::query::{arguments, collect, GqlError, Kind, Operation, Set};
use super::resolve::{self, Ctx, Obj};

/// What a resolver gives for a field.
#[derive(Debug, Clone)]
pub enum Out {
    /// A scalar, an enum or a list of them, as JSON.
    Leaf(Json),
    Object(Obj),
    List(Vec<Obj>),
    Null,
}

/// The answer's `data`, its field errors, and the actual cost.
pub fn execute(ctx: &mut Ctx<'_>, op: &Operation<'_>) -> (Json, Vec<GqlError>, u64) {
    let mut run = Run {
        ctx,
        op,
        cost: 0,
        errors: Vec::new(),
    };
    let root = Obj::Root(op.kind);
    let data = run.object(&root, &[op.selection], &mut Vec::new());
    (data, run.errors, run.cost)
}

struct Run<'r, 'c, 'o, 'd> {
    ctx: &'r mut Ctx<'c>,
    op: &'o Operation<'d>,
    cost: u64,
    errors: Vec<GqlError>,
}

impl<'d> Run<'_, '_, '_, 'd> {
    fn object(&mut self, obj: &Obj, sets: &[&'d Set<'d>], path: &mut Vec<Json>) -> Json {
        let type_name = obj.type_name();
        let mut answer = Map::new();
        for (key, fields) in collect(self.op, sets, type_name) {
            let field = fields[0];
            path.push(json!(key));
            let value = if field.name == "__typename" {
                json!(type_name)
            } else {
                let args = arguments(field, &self.op.variables);
                let mutation = matches!(obj, Obj::Root(Kind::Mutation));
                let before = self.cost;
                let resolved = resolve::field(self.ctx, obj, &field.name, &args);
                let value = match resolved {
                    Ok(out) => {
                        let sub: Vec<_> = fields.iter().map(|f| &f.selection_set).collect();
                        self.complete(out, &sub, path)
                    }
                    Err(message) => {
                        self.errors
                            .push(GqlError::new(message, Some(field.position)).path(path.clone()));
                        Json::Null
                    }
                };
                if mutation {
                    // A mutation costs a flat 10, whatever its payload selects.
                    self.cost = before + MUTATION_COST;
                }
                value
            };
            path.pop();
            answer.insert(key, value);
        }
        Json::Object(answer)
    }

    fn complete(&mut self, out: Out, sets: &[&'d Set<'d>], path: &mut Vec<Json>) -> Json {
        match out {
            Out::Leaf(value) => value,
            Out::Null => Json::Null,
            Out::Object(obj) => {
                self.cost += obj.cost();
                self.object(&obj, sets, path)
            }
            Out::List(objs) => Json::Array(
                objs.iter()
                    .enumerate()
                    .map(|(i, obj)| {
                        path.push(json!(i));
                        self.cost += obj.cost();
                        let value = self.object(obj, sets, path);
                        path.pop();
                        value
                    })
                    .collect(),
            ),
        }
    }
}
