"""Checks the sandbox shops and the Shopify client's queries against the vendors' specs.

Run by `cargo xtask conformance --specs DIR`, which starts the sandbox and passes its URL and
a tenant's credentials. The specs are the vendors' own machine-readable contracts
(the Shopify Admin GraphQL introspection, the SP-API models, Kaufland's OpenAPI document);
they are not part of this repository.

Every answer the probes get must carry a status the vendor's operation lists and a body that
validates against that status's schema. Each Shopify query file must validate against the
schema of the pinned version, and the sandbox's answer to each read query must be a valid
result of it (checked by executing the query over the answer with graphql-core).
"""

import argparse
import gzip
import hashlib
import hmac
import json
import pathlib
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

import graphql
import jsonschema

FAILURES = []
CHECKED = []


def fail(what, why):
    FAILURES.append(f"{what}: {why}")
    print(f"  FAIL {what}: {why}")


def ok(what):
    CHECKED.append(what)
    print(f"  ok   {what}")


def call(method, url, headers=None, body=None):
    """(status, headers, parsed JSON or raw text) without raising on 4xx/5xx."""
    data = body.encode() if isinstance(body, str) else body
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            status, raw, got = response.status, response.read(), response.headers
    except urllib.error.HTTPError as e:
        status, raw, got = e.code, e.read(), e.headers
    try:
        return status, got, json.loads(raw) if raw else None
    except ValueError:
        return status, got, raw.decode(errors="replace")


# OpenAPI / Swagger response schemas -----------------------------------------------------


def nullable_to_json_schema(node):
    """OpenAPI 3.0's `nullable: true` (and Swagger's `x-nullable`) as JSON Schema."""
    if isinstance(node, list):
        return [nullable_to_json_schema(n) for n in node]
    if not isinstance(node, dict):
        return node
    node = {k: nullable_to_json_schema(v) for k, v in node.items()}
    if node.pop("nullable", False) or node.pop("x-nullable", False):
        if "$ref" in node or "allOf" in node or "oneOf" in node or "anyOf" in node:
            return {"anyOf": [node, {"type": "null"}]}
        if "type" in node:
            node["type"] = [node["type"], "null"]
        if "enum" in node:
            node["enum"] = list(node["enum"]) + [None]
    return node


class Spec:
    def __init__(self, path):
        self.doc = nullable_to_json_schema(json.loads(pathlib.Path(path).read_text()))
        self.name = pathlib.Path(path).name
        self.swagger2 = "swagger" in self.doc

    def operation(self, method, template):
        return self.doc["paths"][template][method.lower()]

    def resolve(self, node):
        while isinstance(node, dict) and "$ref" in node:
            target = self.doc
            for part in node["$ref"].lstrip("#/").split("/"):
                target = target[part]
            node = target
        return node

    def response_schema(self, method, template, status):
        responses = self.operation(method, template)["responses"]
        response = responses.get(str(status)) or responses.get("default")
        if response is None:
            return None, f"status {status} is not among the documented {sorted(responses)}"
        response = self.resolve(response)
        if self.swagger2:
            return response.get("schema"), None
        content = response.get("content") or {}
        for media in ("application/json", "application/problem+json", *content.keys()):
            if media in content:
                return content[media].get("schema"), None
        return None, None

    def check(self, what, method, template, status, body):
        schema, problem = self.response_schema(method, template, status)
        if problem:
            return fail(what, problem)
        if schema is None:
            return ok(f"{what} ({status}, no body documented)")
        root = dict(self.doc)
        root.update(schema)
        validator_class = jsonschema.validators.validator_for({}, default=jsonschema.Draft4Validator)
        validator = validator_class(root)
        errors = sorted(validator.iter_errors(body), key=lambda e: list(e.path))
        if errors:
            e = errors[0]
            path = "/".join(str(p) for p in e.absolute_path)
            return fail(what, f"{len(errors)} schema error(s), first at /{path}: {e.message[:300]}")
        ok(f"{what} ({status})")


# Amazon SP-API --------------------------------------------------------------------------


def amazon(specs, base, creds):
    print("Amazon SP-API")
    orders = Spec(specs / "amazon-sp-api/ordersV0.json")
    listings = Spec(specs / "amazon-sp-api/listingsItems_2021-08-01.json")
    inventory = Spec(specs / "amazon-sp-api/fbaInventory.json")
    form = urllib.parse.urlencode({
        "grant_type": "refresh_token",
        "refresh_token": creds["refresh_token"],
        "client_id": creds["client_id"],
        "client_secret": creds["client_secret"],
    })
    status, _, token = call("POST", f"{base}/auth/o2/token",
                            {"Content-Type": "application/x-www-form-urlencoded"}, form)
    if status != 200 or not isinstance(token, dict) or not {"access_token", "token_type", "expires_in"} <= token.keys():
        return fail("LWA token", f"HTTP {status}: {str(token)[:200]}")
    ok("LWA token (200, access_token/token_type/expires_in)")
    bad_form = form.replace(urllib.parse.quote(creds["client_secret"], safe=""), "wrong")
    status, _, body = call("POST", f"{base}/auth/o2/token",
                           {"Content-Type": "application/x-www-form-urlencoded"}, bad_form)
    if status in (400, 401) and isinstance(body, dict) and "error" in body:
        ok(f"LWA refusal ({status}, error={body['error']})")
    else:
        fail("LWA refusal", f"HTTP {status}: {str(body)[:200]}")

    auth = {"x-amz-access-token": token["access_token"], "Accept": "application/json"}
    market = creds["marketplace_id"]
    seller = creds["seller_id"]

    q = urllib.parse.urlencode({"MarketplaceIds": market, "LastUpdatedAfter": "2000-01-01T00:00:00Z",
                                "MaxResultsPerPage": 5})
    status, _, body = call("GET", f"{base}/orders/v0/orders?{q}", auth)
    orders.check("getOrders", "GET", "/orders/v0/orders", status, body)
    order_id = (((body or {}).get("payload") or {}).get("Orders") or [{}])[0].get("AmazonOrderId")
    if order_id:
        status, _, body = call("GET", f"{base}/orders/v0/orders/{order_id}", auth)
        orders.check("getOrder", "GET", "/orders/v0/orders/{orderId}", status, body)
        status, _, body = call("GET", f"{base}/orders/v0/orders/{order_id}/orderItems", auth)
        orders.check("getOrderItems", "GET", "/orders/v0/orders/{orderId}/orderItems", status, body)
    status, _, body = call("GET", f"{base}/orders/v0/orders?CreatedAfter=2000-01-01T00:00:00Z", auth)
    orders.check("getOrders without MarketplaceIds", "GET", "/orders/v0/orders", status, body)
    if status != 400:
        fail("getOrders without MarketplaceIds", f"expected 400, got {status}")
    status, _, body = call("GET", f"{base}/orders/v0/orders?{q}", {"x-amz-access-token": "Atza|forged"})
    orders.check("getOrders with a forged token", "GET", "/orders/v0/orders", status, body)
    if status != 403:
        fail("getOrders with a forged token", f"expected 403, got {status}")

    q = urllib.parse.urlencode({"granularityType": "Marketplace", "granularityId": market,
                                "marketplaceIds": market, "details": "true"})
    status, _, body = call("GET", f"{base}/fba/inventory/v1/summaries?{q}", auth)
    inventory.check("getInventorySummaries", "GET", "/fba/inventory/v1/summaries", status, body)
    summaries = ((body or {}).get("payload") or {}).get("inventorySummaries") or []
    sku = summaries[0].get("sellerSku") if summaries else None

    included = "summaries,attributes,offers,fulfillmentAvailability,issues"
    q = urllib.parse.urlencode({"marketplaceIds": market, "includedData": included, "pageSize": 5})
    status, _, body = call("GET", f"{base}/listings/2021-08-01/items/{seller}?{q}", auth)
    if status == 404 and not isinstance(body, dict):
        print("  --   searchListingsItems not served")
    else:
        listings.check("searchListingsItems", "GET", "/listings/2021-08-01/items/{sellerId}", status, body)
        items = (body or {}).get("items") or []
        sku = sku or (items[0].get("sku") if items else None)
    if not sku:
        return fail("listings", "no SKU found to probe")
    path = f"{base}/listings/2021-08-01/items/{seller}/{urllib.parse.quote(sku, safe='')}"
    q = urllib.parse.urlencode({"marketplaceIds": market, "includedData": included})
    status, _, body = call("GET", f"{path}?{q}", auth)
    listings.check("getListingsItem", "GET", "/listings/2021-08-01/items/{sellerId}/{sku}", status, body)
    patch = {"productType": "PRODUCT", "patches": [{
        "op": "replace", "path": "/attributes/fulfillment_availability",
        "value": [{"fulfillment_channel_code": "DEFAULT", "quantity": 7}]}]}
    q = urllib.parse.urlencode({"marketplaceIds": market})
    status, _, body = call("PATCH", f"{path}?{q}", dict(auth, **{"Content-Type": "application/json"}),
                           json.dumps(patch))
    listings.check("patchListingsItem", "PATCH", "/listings/2021-08-01/items/{sellerId}/{sku}", status, body)
    status, _, body = call("GET", f"{base}/listings/2021-08-01/items/{seller}/NO-SUCH-SKU?{q}", auth)
    listings.check("getListingsItem, unknown SKU", "GET", "/listings/2021-08-01/items/{sellerId}/{sku}",
                   status, body)


# Kaufland Seller API v2 -----------------------------------------------------------------


def kaufland(specs, base, creds):
    print("Kaufland Seller API v2")
    spec = Spec(specs / "kaufland/seller-api-v2_2.27.0.swagger.json")

    def signed(method, path, body="", secret=None):
        url = f"{base}{path}"
        ts = str(int(time.time()))
        message = "\n".join([method, url, body, ts])
        key = (secret or creds["secret_key"]).encode()
        headers = {
            "Accept": "application/json",
            "Shop-Client-Key": creds["client_key"],
            "Shop-Timestamp": ts,
            "Shop-Signature": hmac.new(key, message.encode(), hashlib.sha256).hexdigest(),
            "User-Agent": "ShopMarkets-conformance",
        }
        if body:
            headers["Content-Type"] = "application/json"
        return call(method, url, headers, body or None)

    status, _, body = signed("GET", "/status/ping")
    spec.check("GET /status/ping", "GET", "/status/ping", status, body)
    status, _, body = signed("GET", "/units?storefront=de&limit=5")
    spec.check("GET /units", "GET", "/units", status, body)
    units = (body or {}).get("data") or []
    if units:
        unit = units[0]["id_unit"]
        status, _, body = signed("GET", f"/units/{unit}?storefront=de")
        spec.check("GET /units/{id_unit}", "GET", "/units/{id_unit}", status, body)
        status, _, body = signed("PATCH", f"/units/{unit}?storefront=de", json.dumps({"amount": 5}))
        spec.check("PATCH /units/{id_unit}", "PATCH", "/units/{id_unit}", status, body)
        status, _, body = signed("PATCH", f"/units/{unit}?storefront=de", json.dumps({"amount": -5}))
        spec.check("PATCH /units/{id_unit} with a negative amount", "PATCH", "/units/{id_unit}", status, body)
    else:
        fail("GET /units", "no units to probe")
    status, _, body = signed("GET", "/units?limit=5")
    spec.check("GET /units without storefront", "GET", "/units", status, body)
    status, _, body = signed("GET", "/units?storefront=de&limit=5", secret="0" * 64)
    spec.check("GET /units with a wrong signature", "GET", "/units", status, body)
    if status != 401:
        fail("GET /units with a wrong signature", f"expected 401, got {status}")

    status, _, body = signed("GET", "/order-units?storefront=de&limit=5")
    spec.check("GET /order-units", "GET", "/order-units", status, body)
    order_units = (body or {}).get("data") or []
    if order_units:
        ou = order_units[0]["id_order_unit"]
        status, _, body = signed("GET", f"/order-units/{ou}")
        spec.check("GET /order-units/{id}", "GET", "/order-units/{id_order_unit}", status, body)
        if status != 200:
            fail("GET /order-units/{id}", f"an id from the list answered {status}")
    status, _, body = signed("GET", "/orders?storefront=de&limit=5")
    if status == 404 and not (isinstance(body, dict) and body.get("type")):
        print("  --   GET /orders not served")
    else:
        spec.check("GET /orders", "GET", "/orders", status, body)
        orders = (body or {}).get("data") or []
        if orders:
            status, _, body = signed("GET", f"/orders/{orders[0]['id_order']}")
            spec.check("GET /orders/{id_order}", "GET", "/orders/{id_order}", status, body)


# Shopify Admin GraphQL ------------------------------------------------------------------

# Values for the variables of read queries, by name; `id` is taken from earlier answers.
SAMPLE_VARIABLES = {
    "first": 5, "after": None, "cursor": None, "variants": 3, "media": 2, "lines": 3,
    "query": "updated_at:>='2000-01-01T00:00:00Z'",
    "callbackUrl": "https://example.com/webhooks", "topics": ["PRODUCTS_UPDATE"],
}


def first_gid(value, kind):
    """The first `gid://shopify/{kind}/...` found in an answer."""
    if isinstance(value, str) and value.startswith(f"gid://shopify/{kind}/"):
        return value
    children = value.values() if isinstance(value, dict) else value if isinstance(value, list) else []
    for child in children:
        found = first_gid(child, kind)
        if found:
            return found
    return None


def shopify(specs, base, creds, queries):
    print("Shopify Admin GraphQL 2025-01")
    with gzip.open(specs / "shopify/admin_schema_2025-01.json.gz") as f:
        introspection = json.load(f)
    schema = graphql.build_client_schema(introspection.get("data", introspection))
    # Answers name no __typename unless asked: an abstract type's value is taken to be the
    # first possible type that has every field the answer holds.
    for named in schema.type_map.values():
        if graphql.is_abstract_type(named):
            named.resolve_type = lambda value, info, abstract: next(
                (t.name for t in info.schema.get_possible_types(abstract)
                 if value.get("__typename", t.name) == t.name and set(value) - {"__typename"} <= set(t.fields)),
                None)
    url = f"{base}/shopify/{creds['shop_domain']}/admin/api/2025-01/graphql.json"
    headers = {"X-Shopify-Access-Token": creds["access_token"], "Content-Type": "application/json"}

    # Lists first, so that queries of one object can use an id from them.
    files = sorted(pathlib.Path(queries).glob("*.graphql"),
                   key=lambda f: (f.stem not in ("products", "orders"), f.name))
    answers = []
    if not files:
        fail("Shopify queries", f"no .graphql files in {queries}")
    for file in files:
        document = graphql.parse(file.read_text())
        errors = graphql.validate(schema, document)
        if errors:
            fail(f"query {file.name}", "; ".join(e.message for e in errors)[:400])
            continue
        ok(f"query {file.name} validates")
        operation = next(d for d in document.definitions if isinstance(d, graphql.OperationDefinitionNode))
        if operation.operation != graphql.OperationType.QUERY:
            continue
        names = [v.variable.name.value for v in operation.variable_definitions]
        required = [v.variable.name.value for v in operation.variable_definitions
                    if isinstance(v.type, graphql.NonNullTypeNode) and v.default_value is None]
        samples = dict(SAMPLE_VARIABLES)
        kind = "Order" if "order" in file.stem else "Product"
        samples["id"] = first_gid(answers, kind)
        if any(samples.get(n) is None for n in required):
            fail(f"answer to {file.name}", f"no sample values for {required}")
            continue
        variables = {n: samples[n] for n in names if n in samples}
        status, _, body = call("POST", url, headers, json.dumps({"query": file.read_text(), "variables": variables}))
        if status != 200 or not isinstance(body, dict) or "data" not in body or body.get("errors"):
            fail(f"answer to {file.name}", f"HTTP {status}: {str(body)[:300]}")
            continue
        answers.append(body["data"])
        # Executing the query over the answer checks every field's type and nullability.
        result = graphql.execute_sync(schema, document, root_value=body["data"], variable_values=variables)
        if result.errors:
            fail(f"answer to {file.name}", "; ".join(e.message for e in result.errors)[:400])
        elif result.data != body["data"]:
            fail(f"answer to {file.name}", "fields beyond the selection or values that do not serialise back")
        else:
            ok(f"answer to {file.name} is a valid result")
        cost = (body.get("extensions") or {}).get("cost") or {}
        throttle = cost.get("throttleStatus") or {}
        if not {"requestedQueryCost", "actualQueryCost"} <= cost.keys() or not {
                "maximumAvailable", "currentlyAvailable", "restoreRate"} <= throttle.keys():
            fail(f"cost of {file.name}", f"extensions.cost incomplete: {cost}")

    status, _, body = call("POST", url, dict(headers, **{"X-Shopify-Access-Token": "shpat_forged"}),
                           json.dumps({"query": "{ shop { name } }"}))
    if status == 401 and isinstance(body, dict) and isinstance(body.get("errors"), str):
        ok("forged token (401, errors as a string)")
    else:
        fail("forged token", f"HTTP {status}: {str(body)[:200]}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--specs", required=True, type=pathlib.Path)
    parser.add_argument("--sandbox", required=True)
    parser.add_argument("--credentials", required=True, type=pathlib.Path)
    parser.add_argument("--shopify-queries", required=True)
    args = parser.parse_args()
    creds = json.loads(args.credentials.read_text())
    base = args.sandbox.rstrip("/")
    shopify(args.specs, base, creds["shopify"], args.shopify_queries)
    amazon(args.specs, f"{base}/amazon", creds["amazon"])
    kaufland(args.specs, f"{base}/kaufland/v2", creds["kaufland"])
    print(f"\n{len(CHECKED)} checks passed, {len(FAILURES)} failed")
    for failure in FAILURES:
        print(f"  {failure}")
    sys.exit(1 if FAILURES else 0)


if __name__ == "__main__":
    main()
