"""The API documents itself: Swagger UI at /docs with local assets only, the spec at
/openapi.json, and building the app raises no deprecation warning.

These are the cheap checks, in process; `tests/e2e/test_docs_browser.py` renders the page in
headless Chromium against a real server.
"""

from __future__ import annotations

import re
import warnings
from typing import Any

import pytest
from litestar.testing import TestClient

from entrypoints.container import build_container
from entrypoints.http.app import create_app
from entrypoints.http.docs import SWAGGER_UI_DIR, SWAGGER_UI_VERSION
from tests.integration.http.support import PROBLEM_CONTENT_TYPE, memory_settings, running_client

pytestmark = pytest.mark.integration

OPERATIONS = {
    ("post", "/wallets"): "OpenWallet",
    ("get", "/wallets/{customer_id}"): "GetWallets",
    ("get", "/wallets/{customer_id}/ledger"): "GetStatement",
    ("post", "/wallets/{customer_id}/credit"): "CreditWallet",
    ("post", "/wallets/{customer_id}/debit"): "DebitWallet",
    ("post", "/transfers"): "CreateTransfer",
    ("get", "/transactions/{transaction_id}"): "GetTransaction",
    ("get", "/transactions"): "ListTransactions",
    ("post", "/transactions"): "CreateTransaction",
    ("put", "/transactions/{transaction_id}"): "UpdateTransactionStatus",
    ("post", "/wallets/{customer_id}/holds"): "PlaceHold",
    ("get", "/holds/{hold_id}"): "GetHold",
    ("post", "/holds/{hold_id}/post"): "PostHold",
    ("post", "/holds/{hold_id}/void"): "VoidHold",
    ("get", "/balances"): "ListBalances",
    ("post", "/payments"): "CreatePayment",
    ("get", "/payments"): "ListPayments",
    ("get", "/payments/{payment_id}"): "GetPayment",
    ("post", "/payments/{payment_id}/retry"): "RetryPayment",
    ("post", "/payments/{payment_id}/refund"): "RefundPayment",
    ("get", "/summary"): "GetSummary",
    ("get", "/audit/events"): "ListAuditEvents",
    ("get", "/audit/accounts/{account_id}"): "GetAuditAccount",
    ("get", "/audit/payments/{payment_id}"): "GetAuditPayment",
    ("get", "/audit/verify"): "VerifyLedger",
    ("get", "/health"): "GetHealth",
    ("get", "/ready"): "GetReadiness",
    ("get", "/metrics"): "GetMetrics",
    ("post", "/charges"): "CreateCharge",
    ("get", "/charges"): "ListCharges",
    ("get", "/charges/{charge_id}"): "GetCharge",
    ("get", "/checkout"): "StartCheckout",
    ("get", "/checkout/success"): "CheckoutSuccess",
    ("get", "/checkout/cancel"): "CheckoutCancel",
    ("post", "/webhooks/stripe"): "ReceiveStripeWebhook",
    ("post", "/users"): "CreateUser",
    ("get", "/users"): "ListUsers",
    ("get", "/users/me"): "GetMe",
    ("patch", "/users/me"): "UpdateMe",
    ("delete", "/users/me"): "DeleteMe",
    ("patch", "/users/me/password"): "ChangeMyPassword",
    ("get", "/users/{user_id}"): "GetUser",
    ("patch", "/users/{user_id}"): "UpdateUser",
    ("delete", "/users/{user_id}"): "DeleteUser",
    ("post", "/users/login/access-token"): "LoginAccessToken",
    ("post", "/token"): "Token",
    ("post", "/schools"): "CreateSchool",
    ("get", "/schools"): "ListSchools",
    ("get", "/schools/{school_id}"): "GetSchool",
    ("patch", "/schools/{school_id}"): "UpdateSchool",
    ("delete", "/schools/{school_id}"): "DeleteSchool",
    ("post", "/trips"): "CreateTrip",
    ("get", "/trips"): "ListTrips",
    ("get", "/trips/{trip_id}"): "GetTrip",
    ("patch", "/trips/{trip_id}"): "UpdateTrip",
    ("delete", "/trips/{trip_id}"): "DeleteTrip",
    ("post", "/registrations"): "CreateRegistration",
    ("get", "/registrations"): "ListRegistrations",
    ("get", "/registrations/me"): "ListMyRegistrations",
    ("get", "/registrations/{registration_id}"): "GetRegistration",
    ("patch", "/registrations/{registration_id}"): "UpdateRegistration",
    ("delete", "/registrations/{registration_id}"): "CancelRegistration",
    ("post", "/installments/orders"): "CreateInstallmentOrder",
    ("get", "/installments/orders"): "ListInstallmentOrders",
    ("get", "/installments/orders/{order_id}"): "GetInstallmentOrder",
    ("get", "/installments/orders/{order_id}/installments"): "ListOrderInstallments",
    ("post", "/installments/orders/{order_id}/activate"): "ActivateInstallmentOrder",
    ("post", "/installments/orders/{order_id}/cancel"): "CancelInstallmentOrder",
    ("get", "/installments/due-installments"): "ListDueInstallments",
    ("post", "/webhook-endpoints"): "CreateWebhookEndpoint",
    ("get", "/webhook-endpoints"): "ListWebhookEndpoints",
    ("get", "/webhook-endpoints/{endpoint_id}"): "GetWebhookEndpoint",
    ("delete", "/webhook-endpoints/{endpoint_id}"): "DeleteWebhookEndpoint",
    ("get", "/webhooks"): "ListWebhookDeliveries",
    ("get", "/webhooks/{delivery_id}"): "GetWebhookDelivery",
    ("post", "/webhooks/{delivery_id}/replay"): "ReplayWebhookDelivery",
}
# Writes that take no body: the URL and the Idempotency-Key say everything.
BODYLESS_WRITES = {"RetryPayment", "ActivateInstallmentOrder", "ReplayWebhookDelivery"}
# Signed by the gateway, not called by clients: no idempotency key, no position header.
UNTRACKED_WRITES = {"ReceiveStripeWebhook"}
# Sign-ins change nothing in the log: no idempotency key, no position header.
UNTRACKED_WRITES |= {"Token", "LoginAccessToken"}
# Webhook endpoints and deliveries live in tables, not in the log: no position header, and
# registering twice makes two endpoints (each with its own secret), as a client asks.
UNTRACKED_WRITES |= {"CreateWebhookEndpoint", "ReplayWebhookDelivery"}
ASSET_TYPES = {".js": "javascript", ".css": "text/css", ".png": "image/png"}


@pytest.fixture
def client() -> Any:
    with running_client() as client:
        yield client


def test_the_docs_page_loads_only_local_assets_and_they_are_served(
    client: TestClient[Any],
) -> None:
    page = client.get("/docs")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "<title>PayLedger API</title>" in page.text
    urls = re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)["']""", page.text)
    assert len(urls) >= 4, urls  # css, bundle js, preset js, icon
    for url in urls:
        assert url.startswith("/"), url
        assert not url.startswith("//"), url
        asset = client.get(url)
        assert asset.status_code == 200, url
        suffix = url[url.rfind(".") :]
        assert ASSET_TYPES[suffix] in asset.headers["content-type"], url
        assert len(asset.content) > 100, url
    assert "http://" not in page.text.split("<body>")[0]
    assert "https://" not in page.text.split("<body>")[0]


def test_the_served_swagger_ui_is_the_vendored_5x_that_renders_openapi_31(
    client: TestClient[Any],
) -> None:
    # Swagger UI 4 answers an `openapi: 3.1.0` document with "Unable to render this definition".
    assert SWAGGER_UI_VERSION.startswith("5.")
    bundle = client.get("/docs/assets/swagger-ui-bundle.js")
    assert bundle.status_code == 200
    assert f'PACKAGE_VERSION:"{SWAGGER_UI_VERSION}"' in bundle.text
    assert SWAGGER_UI_VERSION in (SWAGGER_UI_DIR / "README.md").read_text()
    assert (SWAGGER_UI_DIR / "LICENSE").is_file()
    assert client.get("/openapi.json").json()["openapi"].startswith("3.1")


def test_every_tag_an_operation_uses_is_declared_with_a_description(
    client: TestClient[Any],
) -> None:
    spec = client.get("/openapi.json").json()
    declared = {tag["name"]: tag.get("description", "") for tag in spec["tags"]}
    used = {
        tag
        for item in spec["paths"].values()
        for operation in item.values()
        for tag in operation.get("tags", [])
    }
    untagged = [
        operation["operationId"]
        for item in spec["paths"].values()
        for operation in item.values()
        if not operation.get("tags")
    ]
    assert untagged == []
    assert used - set(declared) == set(), "used by an operation but not declared"
    assert set(declared) - used == set(), "declared but used by no operation"
    assert all(description.strip() for description in declared.values()), declared


def test_the_spec_is_json_with_every_operation(client: TestClient[Any]) -> None:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    spec = response.json()
    assert spec["info"]["title"] == "PayLedger API"
    assert spec["openapi"].startswith("3.")
    found = {
        (method, path): operation["operationId"]
        for path, item in spec["paths"].items()
        for method, operation in item.items()
    }
    assert found == OPERATIONS
    assert not any(path.startswith(("/docs", "/openapi")) for path in spec["paths"])


def test_the_spec_documents_problems_and_write_headers(client: TestClient[Any]) -> None:
    spec = client.get("/openapi.json").json()
    assert {"Problem", "FieldError"} <= set(spec["components"]["schemas"])
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            for status, response in operation["responses"].items():
                if int(status) >= 400:
                    assert list(response["content"]) == [PROBLEM_CONTENT_TYPE], (path, status)
            if method == "post" and operation["operationId"] not in UNTRACKED_WRITES:
                success = next(r for s, r in operation["responses"].items() if s < "300")
                assert "PayLedger-Position" in success["headers"], path
                has_body = "requestBody" in operation
                assert has_body != (operation["operationId"] in BODYLESS_WRITES), path
                names = [p["name"] for p in operation["parameters"]]
                assert "Idempotency-Key" in names, path
    credit = spec["components"]["schemas"]["CreditCreate"]["properties"]["amount"]
    assert (credit["type"], credit["exclusiveMinimum"]) == ("integer", 0)


def test_building_the_app_raises_no_deprecation_warning() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        app = create_app(build_container(memory_settings()))
        with TestClient(app) as client:
            assert client.get("/openapi.json").status_code == 200
