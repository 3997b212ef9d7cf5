"""The OpenAPI document as the exact contract: what Litestar generates, finished.

Litestar derives schemas, parameters and the declared responses from the handlers. What it
cannot know is added here, in one pass over the generated document (`finish_document`):

- request bodies are closed (`additionalProperties: false`): every body struct forbids
  unknown fields (a unit test checks that each one does); their bounds are restated from the
  structs themselves (Litestar leaves out falsy ones such as `gt=0`);
- `PaymentCreate` is one of its two shapes (a payment, or seed 000's registration payment);
- public operations carry no security requirement (Litestar adds the controller's);
- every protected operation lists 401 and 403, every protected write 429 (rate limits);
- every problem response names its `code`s (`x-problem-codes` and the description), taken
  from the one table of errors to statuses (`problems.ERROR_STATUS`) and the HTTP layer's own;
- OpenAPI links join each creating operation to the operations on what it created;
- the other media type an operation can answer with (JSON Lines of the audit log).
"""

from __future__ import annotations

import copy
import inspect
from collections.abc import Iterable, Iterator
from typing import Any

import msgspec

from entrypoints.http.problems import ERROR_STATUS, PROBLEM_MEDIA_TYPE

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
WRITE_METHODS = ("put", "post", "delete", "patch")
SIGN_IN_OPERATIONS = ("Token", "LoginAccessToken")
BASE_CODES = ("error", "domain_error", "application_error")
# Public operations where a token, when sent, changes what the call may do (an admin's
# sign-up of someone else may set their role).
OPTIONAL_TOKEN_OPERATIONS = ("CreateUser",)

# The codes the HTTP layer answers with itself (decoding, auth, limits, waits, outages).
HTTP_PROBLEM_CODES: dict[int, tuple[str, ...]] = {
    400: ("malformed_json", "duplicate_json_key"),
    401: ("unauthorized",),
    403: ("forbidden",),
    404: ("not_found",),
    413: ("payload_too_large",),
    415: ("unsupported_media_type",),
    422: ("validation_error",),
    429: ("rate_limited",),
    500: ("internal_error",),
    502: ("gateway_unavailable",),
    503: ("service_unavailable", "too_many_view_waits", "not_ready"),
}

_STATUS_TEXT = {
    401: "No valid bearer token (missing, malformed, expired or revoked), or wrong credentials.",
    403: "Signed in, but this role may not do this.",
    429: "Too many requests: retry after `Retry-After` seconds.",
}

# Alternative responses: (path, method, status) -> media types and their schemas.
ALTERNATIVE_MEDIA: dict[tuple[str, str, str], dict[str, dict[str, Any]]] = {
    ("/audit/events", "get", "200"): {
        "application/x-ndjson": {
            "schema": {"type": "string", "description": "One `AuditEvent` per line."}
        },
    },
}

# Links: creating operation -> {link name: (target operation, {parameter: expression})}.
_PAYMENT = "$response.body#/id"
LINKS: dict[str, dict[str, tuple[str, dict[str, str]]]] = {
    "CreatePayment": {
        "GetPayment": ("GetPayment", {"payment_id": _PAYMENT}),
        "RefundPayment": ("RefundPayment", {"payment_id": _PAYMENT}),
        "RetryPayment": ("RetryPayment", {"payment_id": _PAYMENT}),
        "GetAuditPayment": ("GetAuditPayment", {"payment_id": _PAYMENT}),
    },
    "CreateCharge": {
        "GetCharge": ("GetCharge", {"charge_id": _PAYMENT}),
        "GetPayment": ("GetPayment", {"payment_id": _PAYMENT}),
        "RefundPayment": ("RefundPayment", {"payment_id": _PAYMENT}),
    },
    "OpenWallet": {
        "GetWallets": ("GetWallets", {"customer_id": "$response.body#/customer_id"}),
        "CreditWallet": ("CreditWallet", {"customer_id": "$response.body#/customer_id"}),
        "DebitWallet": ("DebitWallet", {"customer_id": "$response.body#/customer_id"}),
        "PlaceHold": ("PlaceHold", {"customer_id": "$response.body#/customer_id"}),
        "GetStatement": ("GetStatement", {"customer_id": "$response.body#/customer_id"}),
        "GetAuditAccount": ("GetAuditAccount", {"account_id": "$response.body#/id"}),
    },
    "PlaceHold": {
        "GetHold": ("GetHold", {"hold_id": "$response.body#/id"}),
        "PostHold": ("PostHold", {"hold_id": "$response.body#/id"}),
        "VoidHold": ("VoidHold", {"hold_id": "$response.body#/id"}),
    },
    "CreateTransfer": {
        "GetTransaction": ("GetTransaction", {"transaction_id": "$response.body#/id"}),
    },
    "CreateTransaction": {
        "GetTransaction": ("GetTransaction", {"transaction_id": "$response.body#/id"}),
        "UpdateTransactionStatus": (
            "UpdateTransactionStatus",
            {"transaction_id": "$response.body#/id"},
        ),
    },
    "CreateUser": {
        "GetUser": ("GetUser", {"user_id": "$response.body#/id"}),
        "UpdateUser": ("UpdateUser", {"user_id": "$response.body#/id"}),
        "DeleteUser": ("DeleteUser", {"user_id": "$response.body#/id"}),
    },
    "CreateSchool": {
        "GetSchool": ("GetSchool", {"school_id": "$response.body#/id"}),
        "UpdateSchool": ("UpdateSchool", {"school_id": "$response.body#/id"}),
        "DeleteSchool": ("DeleteSchool", {"school_id": "$response.body#/id"}),
    },
    "CreateTrip": {
        "GetTrip": ("GetTrip", {"trip_id": "$response.body#/id"}),
        "UpdateTrip": ("UpdateTrip", {"trip_id": "$response.body#/id"}),
        "DeleteTrip": ("DeleteTrip", {"trip_id": "$response.body#/id"}),
    },
    "CreateRegistration": {
        "GetRegistration": ("GetRegistration", {"registration_id": "$response.body#/id"}),
        "UpdateRegistration": ("UpdateRegistration", {"registration_id": "$response.body#/id"}),
        "CancelRegistration": ("CancelRegistration", {"registration_id": "$response.body#/id"}),
        "GetPayment": ("GetPayment", {"payment_id": "$response.body#/payment_id"}),
    },
    "CreateWebhookEndpoint": {
        "GetWebhookEndpoint": ("GetWebhookEndpoint", {"endpoint_id": "$response.body#/id"}),
        "DeleteWebhookEndpoint": ("DeleteWebhookEndpoint", {"endpoint_id": "$response.body#/id"}),
    },
    "CreateInstallmentOrder": {
        "GetInstallmentOrder": ("GetInstallmentOrder", {"order_id": "$response.body#/id"}),
        "ListOrderInstallments": ("ListOrderInstallments", {"order_id": "$response.body#/id"}),
        "ActivateInstallmentOrder": (
            "ActivateInstallmentOrder",
            {"order_id": "$response.body#/id"},
        ),
        "CancelInstallmentOrder": ("CancelInstallmentOrder", {"order_id": "$response.body#/id"}),
    },
    "ReplayWebhookDelivery": {
        "GetWebhookDelivery": ("GetWebhookDelivery", {"delivery_id": "$response.body#/id"}),
    },
}


def problem_codes() -> dict[int, list[str]]:
    """Every problem `code` the API answers with, by HTTP status."""
    codes: dict[int, set[str]] = {status: set(c) for status, c in HTTP_PROBLEM_CODES.items()}
    for error, status in ERROR_STATUS.items():
        code = getattr(error, "code", "error")
        if code not in BASE_CODES:  # the catch-all bases: a new error has its own code
            codes.setdefault(status, set()).add(code)
    return {status: sorted(found) for status, found in sorted(codes.items())}


def finish_document(
    document: dict[str, Any], structs: Iterable[type[msgspec.Struct]] = ()
) -> dict[str, Any]:
    """The generated document with what the module docstring lists (a new dict);
    `structs`: the request body types, whose bounds are restated."""
    finished = copy.deepcopy(document)
    codes = problem_codes()
    _close_request_bodies(finished)
    _restate_bounds(finished, structs)
    _split_payment_create(finished)
    for path, method, operation in _operations(finished):
        _dedupe_security(operation)
        _add_auth_and_limit_statuses(method, operation)
        _name_problem_codes(operation, codes)
        _add_media(path, method, operation)
    _add_links(finished)
    _clean_descriptions(finished)
    return finished


def _clean_descriptions(node: Any) -> None:
    """Descriptions taken from docstrings without their indentation: Python 3.13 strips it
    from docstrings itself, so the document is the same on every supported Python."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "description" and isinstance(value, str):
                node[key] = inspect.cleandoc(value)
            else:
                _clean_descriptions(value)
    elif isinstance(node, list):
        for value in node:
            _clean_descriptions(value)


def _operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in document.get("paths", {}).items():
        for method, operation in item.items():
            if method in HTTP_METHODS:
                yield path, method, operation


def _referenced(schema: Any) -> Iterator[str]:
    """The component names a schema refers to, at any depth."""
    if isinstance(schema, dict):
        ref = schema.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
            yield ref.rsplit("/", 1)[1]
        for value in schema.values():
            yield from _referenced(value)
    elif isinstance(schema, list):
        for value in schema:
            yield from _referenced(value)


def request_body_components(document: dict[str, Any]) -> set[str]:
    """The schemas JSON request bodies use, with the schemas those use in turn (forms, the
    OAuth2 sign-in, may carry fields of the flow the server ignores)."""
    schemas = document.get("components", {}).get("schemas", {})
    pending = [
        name
        for _, _, operation in _operations(document)
        for name in _referenced(
            operation.get("requestBody", {}).get("content", {}).get("application/json", {})
        )
    ]
    found: set[str] = set()
    while pending:
        name = pending.pop()
        if name not in found and name in schemas:
            found.add(name)
            pending.extend(_referenced(schemas[name]))
    return found


def _close_request_bodies(document: dict[str, Any]) -> None:
    schemas = document.get("components", {}).get("schemas", {})
    for name in request_body_components(document):
        schema = schemas[name]
        if schema.get("type") == "object" and "properties" in schema:
            schema["additionalProperties"] = False


def _dedupe_security(operation: dict[str, Any]) -> None:
    """One requirement once; a public operation (an empty requirement) needs none at all,
    except where a token is optional and changes what the call may do."""
    security = operation.get("security")
    if security is None:
        return
    unique: list[dict[str, Any]] = []
    for requirement in security:
        if requirement not in unique:
            unique.append(requirement)
    if {} in unique and operation.get("operationId") not in OPTIONAL_TOKEN_OPERATIONS:
        unique = []
    operation["security"] = unique


_BOUND_KEYS = {
    "ge": "minimum",
    "gt": "exclusiveMinimum",
    "le": "maximum",
    "lt": "exclusiveMaximum",
    "min_length": "minLength",
    "max_length": "maxLength",
}


def _bounds(info: Any) -> dict[str, Any]:
    """The JSON Schema bounds of a msgspec type (inside a union with None, of its one other
    member)."""
    if isinstance(info, msgspec.inspect.UnionType):
        members = [t for t in info.types if not isinstance(t, msgspec.inspect.NoneType)]
        return _bounds(members[0]) if len(members) == 1 else {}
    if isinstance(info, msgspec.inspect.Metadata):
        return _bounds(info.type)
    found: dict[str, Any] = {}
    for attribute, key in _BOUND_KEYS.items():
        value = getattr(info, attribute, None)
        if value is not None:
            if isinstance(info, msgspec.inspect.ListType) and key.endswith("Length"):
                key = key.replace("Length", "Items")
            found[key] = value
    return found


def _restate_bounds(document: dict[str, Any], structs: Iterable[type[msgspec.Struct]]) -> None:
    schemas = document.get("components", {}).get("schemas", {})
    bodies = request_body_components(document)
    by_name: dict[str, list[type[msgspec.Struct]]] = {}
    for struct in structs:
        by_name.setdefault(struct.__name__, []).append(struct)
    for name in bodies:
        found = by_name.get(name, [])
        if len(found) != 1:
            continue  # no such struct, or two of that name: nothing certain to restate
        properties = schemas[name].get("properties", {})
        for field in msgspec.inspect.type_info(found[0]).fields:  # type: ignore[attr-defined]
            if field.encode_name in properties:
                properties[field.encode_name].update(_bounds(field.type))


REGISTRATION_PAYMENT_FIELDS = ("registration_id", "card_number", "expiry_date", "cvv")
PAYMENT_REQUIRED = ("amount", "currency", "recipient")


def _not_null(schema: dict[str, Any]) -> dict[str, Any]:
    """A nullable property schema without its null branch (its constraints kept)."""
    branches = [b for b in schema.get("oneOf", []) if b != {"type": "null"}]
    if len(branches) != 1:
        return schema
    rest = {k: v for k, v in schema.items() if k != "oneOf"}
    return {**branches[0], **rest}


def _split_payment_create(document: dict[str, Any]) -> None:
    """`POST /payments` takes a payment (`amount`, `currency` and `recipient` required) or,
    as seed 000 does, a registration's card payment (`registration_id` and the card only):
    one struct decodes both, the document states the two shapes."""
    schemas = document.get("components", {}).get("schemas", {})
    both = schemas.get("PaymentCreate")
    if both is None or "properties" not in both:
        return
    properties = both["properties"]
    payment = copy.deepcopy(both)
    for name in REGISTRATION_PAYMENT_FIELDS:
        payment["properties"].pop(name, None)
    for name in PAYMENT_REQUIRED:
        payment["properties"][name] = _not_null(payment["properties"][name])
    payment["required"] = list(PAYMENT_REQUIRED)
    payment.pop("default", None)
    registration = {
        "type": "object",
        "title": "RegistrationPaymentCreate",
        "description": "Pay a trip registration by card (seed 000): the amount is the trip's "
        "price.",
        "properties": {
            **{name: _not_null(properties[name]) for name in REGISTRATION_PAYMENT_FIELDS},
            "method": {"type": "string", "enum": ["legacy"], "default": "legacy"},
            "payer_id": {"type": "string", "maxLength": 0, "default": ""},
            "description": {"type": "string", "maxLength": 0, "default": ""},
            "splits": {"type": "array", "maxItems": 0, "items": {}},
        },
        "required": list(REGISTRATION_PAYMENT_FIELDS),
        "additionalProperties": False,
    }
    schemas["PaymentCreate"] = payment
    schemas["RegistrationPaymentCreate"] = registration
    reference = {"$ref": "#/components/schemas/PaymentCreate"}
    for _, _, operation in _operations(document):
        for media in operation.get("requestBody", {}).get("content", {}).values():
            if media.get("schema") == reference:
                media["schema"] = {
                    "oneOf": [reference, {"$ref": "#/components/schemas/RegistrationPaymentCreate"}]
                }


def _protected(operation: dict[str, Any]) -> bool:
    """Whether the operation needs a token (an empty requirement makes it optional)."""
    security = operation.get("security") or []
    return bool(security) and {} not in security


def _problem_response(status: int) -> dict[str, Any]:
    return {
        "description": _STATUS_TEXT.get(status, ""),
        "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }


def _add_auth_and_limit_statuses(method: str, operation: dict[str, Any]) -> None:
    responses = operation.setdefault("responses", {})
    wanted: list[int] = []
    if _protected(operation):
        wanted += [401, 403]
        if method in WRITE_METHODS:
            wanted.append(429)
    if operation.get("operationId") in SIGN_IN_OPERATIONS:
        wanted += [401, 429]
    for status in wanted:
        responses.setdefault(str(status), _problem_response(status))


def _name_problem_codes(operation: dict[str, Any], codes: dict[int, list[str]]) -> None:
    for status_text, response in operation.get("responses", {}).items():
        if PROBLEM_MEDIA_TYPE not in response.get("content", {}):
            continue
        status = int(status_text)
        known = codes.get(status, [])
        response["x-problem-codes"] = known
        listed = ", ".join(f"`{code}`" for code in known)
        description = response.get("description") or _STATUS_TEXT.get(status, "A problem.")
        if listed and "Codes:" not in description:
            response["description"] = f"{description} Codes: {listed}."


def _add_media(path: str, method: str, operation: dict[str, Any]) -> None:
    for (where, verb, status), media in ALTERNATIVE_MEDIA.items():
        if (where, verb) == (path, method) and status in operation.get("responses", {}):
            operation["responses"][status].setdefault("content", {}).update(media)


def _add_links(document: dict[str, Any]) -> None:
    by_id = {op.get("operationId"): op for _, _, op in _operations(document)}
    for source, links in LINKS.items():
        operation = by_id[source]
        created = next(
            (r for s, r in operation["responses"].items() if s.startswith("2")),
            None,
        )
        if created is None:
            raise ValueError(f"{source} has no success response to link from")
        for name, (target, parameters) in links.items():
            if target not in by_id:
                raise ValueError(f"link {source} -> {target}: no such operation")
            created.setdefault("links", {})[name] = {
                "operationId": target,
                "parameters": dict(parameters),
            }
