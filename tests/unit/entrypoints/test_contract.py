"""The OpenAPI contract (`entrypoints/http/contract.py`): the checked-in document is current,
and what it promises holds of the code behind it."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from entrypoints.cli import main
from entrypoints.http.contract import LINKS, problem_codes, request_body_components
from entrypoints.http.docs import project_structs
from entrypoints.http.problems import ERROR_STATUS

pytestmark = pytest.mark.unit

DOCUMENT_PATH = Path(__file__).resolve().parents[3] / "docs" / "openapi.json"
METHODS = ("get", "put", "post", "delete", "patch")


@pytest.fixture(scope="module")
def printed() -> str:
    result = CliRunner().invoke(main, ["openapi"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture(scope="module")
def document(printed: str) -> dict[str, Any]:
    parsed: dict[str, Any] = json.loads(printed)
    return parsed


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    ]


def test_the_checked_in_document_is_the_one_the_code_prints(printed: str) -> None:
    assert DOCUMENT_PATH.read_text() == printed, (
        "docs/openapi.json is stale: run `uv run payledger openapi > docs/openapi.json`"
    )


def test_every_request_body_is_closed_and_its_struct_refuses_unknown_fields(
    document: dict[str, Any],
) -> None:
    structs = {struct.__name__: struct for struct in project_structs()}
    bodies = request_body_components(document)
    assert {"PaymentCreate", "TransferCreate", "CardIn", "UserCreate"} <= bodies
    for name in bodies:
        schema = document["components"]["schemas"][name]
        if schema.get("type") != "object":
            continue  # an enum
        assert schema["additionalProperties"] is False, name
        if name in structs:  # RegistrationPaymentCreate is PaymentCreate's second shape
            assert structs[name].__struct_config__.forbid_unknown_fields, name


def test_bounds_litestar_leaves_out_are_restated(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    assert schemas["RefundCreate"]["properties"]["amount"]["exclusiveMinimum"] == 0
    balances = {p["name"]: p["schema"] for p in document["paths"]["/balances"]["get"]["parameters"]}
    assert balances["min_position"]["minimum"] == 0
    assert balances["min_position"]["maximum"] == 2**63 - 1
    assert re.fullmatch(balances["cursor"]["pattern"].strip("^$"), "acct_" + "0" * 32)


def test_a_payment_body_is_one_of_its_two_shapes(document: dict[str, Any]) -> None:
    body = document["paths"]["/payments"]["post"]["requestBody"]["content"]["application/json"]
    refs = [choice["$ref"].rsplit("/", 1)[1] for choice in body["schema"]["oneOf"]]
    assert refs == ["PaymentCreate", "RegistrationPaymentCreate"]
    schemas = document["components"]["schemas"]
    assert schemas["PaymentCreate"]["required"] == ["amount", "currency", "recipient"]
    assert "registration_id" not in schemas["PaymentCreate"]["properties"]
    assert set(schemas["RegistrationPaymentCreate"]["required"]) == {
        "registration_id",
        "card_number",
        "expiry_date",
        "cvv",
    }


def test_protected_operations_list_401_and_403_and_public_ones_need_no_token(
    document: dict[str, Any],
) -> None:
    public = set()
    for path, method, operation in operations(document):
        security = operation.get("security")
        if security:
            assert {"401", "403"} <= set(operation["responses"]), (method, path)
        else:
            public.add(operation["operationId"])
    assert {"Token", "LoginAccessToken", "ListSchools", "GetTrip", "GetHealth"} <= public
    assert "ListPayments" not in public


def test_every_problem_response_names_its_codes(document: dict[str, Any]) -> None:
    codes = problem_codes()
    for error, status in ERROR_STATUS.items():
        if error.code not in ("domain_error", "application_error"):
            assert error.code in codes[status], error
    for path, method, operation in operations(document):
        for status, response in operation["responses"].items():
            if "application/problem+json" in response.get("content", {}):
                assert response["x-problem-codes"] == codes[int(status)], (method, path, status)


def test_links_name_operations_and_their_path_parameters(document: dict[str, Any]) -> None:
    by_id = {operation["operationId"]: operation for _, _, operation in operations(document)}
    linked = 0
    for source in LINKS:
        created = next(r for s, r in by_id[source]["responses"].items() if s.startswith("2"))
        for link in created["links"].values():
            target = by_id[link["operationId"]]
            path_parameters = {p["name"] for p in target["parameters"] if p["in"] == "path"}
            assert set(link["parameters"]) == path_parameters, link
            linked += 1
    assert linked >= 30
