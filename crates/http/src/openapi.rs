//! The OpenAPI side of the shared stack: the answers every operation can give because of
//! the extractors, the auth check and the middleware, added to a service's document in one
//! place so that handlers only document what is their own.

use utoipa::openapi::path::{Operation, ParameterIn, PathItem};
use utoipa::openapi::schema::{Object, ObjectBuilder, Type};
use utoipa::openapi::security::SecurityRequirement;
use utoipa::openapi::{Content, OpenApi, Ref, RefOr, Response};
use utoipa::{Modify, PartialSchema, ToSchema};

use crate::ErrorBody;

/// Adds the shared error answers (with the [`ErrorBody`] schema) to every operation of a
/// document, keeping any answer an operation documents itself:
///
/// - 401 where the operation needs a credential, and 429 there too when the service limits
///   failed authentications;
/// - 400, 413, 415 and 422 where it takes a request body ([`crate::Json`]'s rejections);
/// - 400 where it takes query parameters ([`crate::Query`]'s rejection);
/// - 404 where it takes path parameters (an id that cannot exist is not found);
/// - 408, 500 and 503 everywhere (timeout layer, panic catcher, database or dependency away).
///
/// Apply it to the finished document, after every route is merged in.
pub struct CommonResponses {
    /// The service answers 429 to a client after too many failed authentications.
    pub limits_failed_auth: bool,
}

impl Modify for CommonResponses {
    fn modify(&self, doc: &mut OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        let mut schemas = vec![(ErrorBody::name().into_owned(), ErrorBody::schema())];
        ErrorBody::schemas(&mut schemas);
        for (name, schema) in schemas {
            components.schemas.entry(name).or_insert(schema);
        }

        let global = doc.security.clone().unwrap_or_default();
        for item in doc.paths.paths.values_mut() {
            for operation in operations(item) {
                let protected = needs_credential(operation.security.as_ref().unwrap_or(&global));
                let has_body = operation.request_body.is_some();
                let params_in = |place: ParameterIn| {
                    operation
                        .parameters
                        .iter()
                        .flatten()
                        .any(|p| p.parameter_in == place)
                };
                let (has_query, has_path) =
                    (params_in(ParameterIn::Query), params_in(ParameterIn::Path));

                let mut add = Vec::new();
                if protected {
                    add.push(UNAUTHENTICATED);
                    if self.limits_failed_auth {
                        add.push(TOO_MANY_FAILED_AUTHENTICATIONS);
                    }
                }
                if has_body {
                    add.extend([
                        BAD_BODY,
                        BODY_TOO_LARGE,
                        UNSUPPORTED_MEDIA_TYPE,
                        INVALID_BODY,
                    ]);
                } else if has_query {
                    add.push(BAD_QUERY);
                }
                if has_path {
                    add.push(NOT_FOUND);
                }
                add.extend([TIMEOUT, INTERNAL, UNAVAILABLE]);
                for (status, description) in add {
                    operation
                        .responses
                        .responses
                        .entry(status.to_owned())
                        .or_insert_with(|| error_response(description));
                }
            }
        }
    }
}

/// A string schema admitting only `values`: for parameters a handler parses itself, as
/// `#[param(schema_with = ...)]` (the function there takes no arguments, so wrap this).
pub fn string_enum(values: &[&str]) -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(values.iter().copied()))
        .build()
}

type Answer = (&'static str, &'static str);
const UNAUTHENTICATED: Answer = ("401", "unauthenticated: no valid credential was sent");
const TOO_MANY_FAILED_AUTHENTICATIONS: Answer = (
    "429",
    "too_many_requests: too many failed authentications from this network",
);
const BAD_BODY: Answer = ("400", "malformed_json or unreadable_body, or invalid_query");
const BODY_TOO_LARGE: Answer = ("413", "payload_too_large");
const UNSUPPORTED_MEDIA_TYPE: Answer = ("415", "unsupported_media_type");
const INVALID_BODY: Answer = ("422", "invalid_body or validation_failed");
const BAD_QUERY: Answer = ("400", "invalid_query");
const NOT_FOUND: Answer = ("404", "not_found");
const TIMEOUT: Answer = ("408", "request_timeout");
const INTERNAL: Answer = ("500", "internal_error");
const UNAVAILABLE: Answer = (
    "503",
    "a dependency (database, security service) is unavailable, or busy_try_again (send it again after Retry-After)",
);

/// True when none of the alternatives is the empty requirement (anonymous access).
fn needs_credential(security: &[SecurityRequirement]) -> bool {
    !security.is_empty() && !security.contains(&SecurityRequirement::default())
}

fn operations(item: &mut PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        &mut item.get,
        &mut item.put,
        &mut item.post,
        &mut item.delete,
        &mut item.options,
        &mut item.head,
        &mut item.patch,
        &mut item.trace,
    ]
    .into_iter()
    .flatten()
}

fn error_response(description: &str) -> RefOr<Response> {
    let body = Content::new(Some(Ref::from_schema_name(ErrorBody::name())));
    Response::builder()
        .description(description)
        .content("application/json", body)
        .build()
        .into()
}

#[cfg(test)]
mod tests {
    use utoipa::openapi::path::{HttpMethod, OperationBuilder, ParameterBuilder, PathsBuilder};
    use utoipa::openapi::request_body::RequestBody;
    use utoipa::openapi::OpenApiBuilder;

    use super::*;

    fn statuses(doc: &OpenApi, path: &str) -> Vec<String> {
        let item = &doc.paths.paths[path];
        let op = item.get.as_ref().or(item.post.as_ref()).unwrap();
        op.responses.responses.keys().cloned().collect()
    }

    fn doc(limits_failed_auth: bool) -> OpenApi {
        let op = || OperationBuilder::new().response("200", Response::new("ok"));
        let param = |place| {
            ParameterBuilder::new()
                .name("p")
                .parameter_in(place)
                .build()
        };
        let paths = PathsBuilder::new()
            .path(
                "/open",
                PathItem::new(
                    HttpMethod::Get,
                    op().security(SecurityRequirement::default()),
                ),
            )
            .path(
                "/query",
                PathItem::new(HttpMethod::Get, op().parameter(param(ParameterIn::Query))),
            )
            .path(
                "/things/{id}",
                PathItem::new(
                    HttpMethod::Post,
                    op().parameter(param(ParameterIn::Path))
                        .request_body(Some(RequestBody::new()))
                        .response("422", Response::new("the route's own words")),
                ),
            );
        let mut doc = OpenApiBuilder::new()
            .paths(paths)
            .security(Some([SecurityRequirement::new(
                "bearer",
                Vec::<String>::new(),
            )]))
            .build();
        CommonResponses { limits_failed_auth }.modify(&mut doc);
        doc
    }

    #[test]
    fn adds_what_each_operation_can_answer() {
        let doc = doc(true);
        assert_eq!(statuses(&doc, "/open"), ["200", "408", "500", "503"]);
        assert_eq!(
            statuses(&doc, "/query"),
            ["200", "400", "401", "408", "429", "500", "503"]
        );
        assert_eq!(
            statuses(&doc, "/things/{id}"),
            ["200", "400", "401", "404", "408", "413", "415", "422", "429", "500", "503"]
        );
        assert!(doc.components.unwrap().schemas.contains_key("ErrorBody"));
    }

    #[test]
    fn keeps_an_operations_own_answers_and_429_only_when_limited() {
        let doc = doc(false);
        assert!(!statuses(&doc, "/query").contains(&"429".to_owned()));
        let post = doc.paths.paths["/things/{id}"].post.as_ref().unwrap();
        let RefOr::T(own) = &post.responses.responses["422"] else {
            panic!("a reference")
        };
        assert_eq!(own.description, "the route's own words");
    }
}
