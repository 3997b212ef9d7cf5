"""Schemathesis hooks for the contract test (loaded through SCHEMATHESIS_HOOKS).

- Who calls: each generated request is sent as one of three people, an admin and two
  customers, drawn per request (so customers also meet each other's resources and the
  admin-only routes); the stateful phase's scenarios run as the admin, who may follow every
  link (a customer following a link to another's resource gets the documented 404). Their
  tokens come from signing in; a token the server stops honouring (a password changed, a
  user deleted by a generated request) is dropped, and a customer who can no longer sign in
  is replaced by a fresh sign-up.
- What counts as accepted: Schemathesis's `positive_data_acceptance` wants every
  schema-valid request to succeed (or fail with 401/403/404/409). Some rules cannot be written
  in JSON Schema (an unknown currency code, a debit beyond the balance, a key reused); the
  document lists their problem codes per operation and status (`x-problem-codes`). The
  check here accepts a 400 or 422 only when its `code` is one of those and is not a
  validation error, which schema-valid data must never get. One exception, documented in
  the API's description: JSON Schema counts `25000.0` as an integer, the API does not (so
  an amount in major units, `250.00`, can never pass for minor units): a request holding
  such a number may get a validation error.

Configuration from the environment: PAYLEDGER_CONTRACT_BASE_URL, PAYLEDGER_CONTRACT_ADMIN
(`email:password`).
"""

from __future__ import annotations

import os
import random
import threading
import uuid
from typing import Any

import httpx
import schemathesis

BASE_URL = os.environ.get("PAYLEDGER_CONTRACT_BASE_URL", "")
ADMIN = os.environ.get("PAYLEDGER_CONTRACT_ADMIN", ":")
CUSTOMER_PASSWORD = "contract-customer-password"
# Operations on the caller's own account that would lock the admin out for the rest of the
# run (a changed email or password): only customers, who can be replaced, call them.
CUSTOMER_ONLY = {"UpdateMe", "ChangeMyPassword", "DeleteMe"}
NEVER_ACCEPTED = {"validation_error", "malformed_json", "duplicate_json_key"}


class Identity:
    """One person the test acts as, and their current token. `creator` (an admin's
    identity) makes an admin's replacement; without one a replacement signs up."""

    def __init__(
        self, email: str, password: str, replaceable: bool, creator: Identity | None = None
    ) -> None:
        self.email = email
        self.password = password
        self.replaceable = replaceable
        self.creator = creator
        self.token: str | None = None

    def bearer(self) -> str:
        if self.token is None:
            self.token = self._sign_in() or self._replace()
        return self.token

    def _sign_in(self) -> str | None:
        form = {"username": self.email, "password": self.password}
        response = httpx.post(f"{BASE_URL}/token", data=form, timeout=30.0)
        if response.status_code == 200:
            token: str = response.json()["access_token"]
            return token
        return None

    def _replace(self) -> str:
        if not self.replaceable:
            raise RuntimeError(f"{self.email} can no longer sign in")
        self.email = f"contract-{uuid.uuid4().hex[:12]}@example.com"
        body = {"email": self.email, "password": self.password, "full_name": "Contract"}
        headers = {}
        if self.creator is not None:
            body["role"] = "admin"
            headers["Authorization"] = f"Bearer {self.creator.bearer()}"
        created = httpx.post(f"{BASE_URL}/users", json=body, headers=headers, timeout=30.0)
        created.raise_for_status()
        token = self._sign_in()
        if token is None:
            raise RuntimeError(f"a new user {self.email} cannot sign in")
        return token


_lock = threading.Lock()
_admin_email, _, _admin_password = ADMIN.partition(":")
# The server's first admin only creates the admin the requests are sent as (and its
# replacement, when a generated request changed that admin's email, role or status): no
# generated request is ever sent with its token.
ROOT = Identity(_admin_email, _admin_password, replaceable=False)
ADMIN_IDENTITY = Identity("", CUSTOMER_PASSWORD, replaceable=True, creator=ROOT)
CUSTOMERS = [
    Identity(f"contract-{name}-{uuid.uuid4().hex[:8]}@example.com", CUSTOMER_PASSWORD, True)
    for name in ("alice", "bob")
]
_by_token: dict[str, Identity] = {}
_random = random.Random(20261201)


def _phase(case: Any) -> str:
    meta = getattr(case, "meta", None)
    return str(meta.phase.name) if meta is not None else ""


@schemathesis.auth(refresh_interval=None)
class ThreePeople:
    """An admin and two customers, drawn per request."""

    def get(self, case: Any, context: Any) -> str:
        operation_id = context.operation.definition.raw.get("operationId")
        with _lock:
            if operation_id in CUSTOMER_ONLY:
                people = CUSTOMERS
            elif _phase(case) == "stateful":
                # A scenario follows links from what one step created to the next step: with
                # another customer at each step, "not found" (another's resource) would be
                # the access rule, not a bug. The admin sees every resource.
                people = [ADMIN_IDENTITY]
            else:
                people = [ADMIN_IDENTITY, *CUSTOMERS]
            identity = _random.choice(people)
            token = identity.bearer()
            _by_token[token] = identity
            return token

    def set(self, case: Any, data: str, context: Any) -> None:
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}


_root_id: str | None = None
_CHANGES = {"PATCH", "PUT", "DELETE", "POST"}


def _root_user_id() -> str:
    """The first admin's user id (asked once)."""
    global _root_id
    if _root_id is None:
        headers = {"Authorization": f"Bearer {ROOT.bearer()}"}
        me = httpx.get(f"{BASE_URL}/users/me", headers=headers, timeout=30.0)
        me.raise_for_status()
        _root_id = str(me.json()["id"])
    return _root_id


@schemathesis.hook
def before_call(context: Any, case: Any, **kwargs: Any) -> None:
    """Stateful scenarios send keys of their own (below). And the first admin belongs to
    the harness: a generated request that would change or delete its account (an admin may
    change anyone's role or status, and its user id can be reached by links from the user
    list) is sent to a user that does not exist instead, which answers the documented 404."""
    if _phase(case) == "stateful":
        # Each scenario's writes are its own: a key generated again in a later scenario
        # (they are short, "0" often) would replay an earlier scenario's result, e.g. a
        # school created with the same key and deleted since (a correct replay, but not
        # the fresh resource the scenario's next step looks for).
        headers = case.headers or {}
        for name in [n for n in headers if n.lower() == "idempotency-key"]:
            case.headers = {**headers, name: str(uuid.uuid4())}
    params = case.path_parameters or {}
    if str(case.method).upper() in _CHANGES and params.get("user_id") is not None:
        with _lock:
            root = _root_user_id()
        if str(params["user_id"]) == root:
            case.path_parameters = {**params, "user_id": str(uuid.uuid4())}


@schemathesis.hook
def after_call(context: Any, case: Any, response: Any) -> None:
    """A token answered 401 is stale: its owner signs in again on their next request."""
    if response.status_code != 401:
        return
    header = (case.headers or {}).get("Authorization", "")
    with _lock:
        identity = _by_token.pop(header.removeprefix("Bearer "), None)
        if identity is not None and identity.token == header.removeprefix("Bearer "):
            identity.token = None


def _integral_float(value: Any) -> bool:
    """Whether a JSON value holds a number like `12.0` anywhere."""
    if isinstance(value, float):
        return value.is_integer()
    if isinstance(value, dict):
        return any(_integral_float(v) for v in value.values())
    if isinstance(value, list):
        return any(_integral_float(v) for v in value)
    return False


def documented_codes(operation: Any, status: int) -> set[str]:
    responses = operation.definition.raw.get("responses", {})
    return set(responses.get(str(status), {}).get("x-problem-codes", []))


@schemathesis.check
def business_rules_documented(ctx: Any, response: Any, case: Any) -> bool | None:
    """Schema-valid requests succeed, or fail for a documented rule the schema cannot state."""
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive:
        return None
    status = response.status_code
    if status not in (400, 422):
        return None  # 2xx-3xx pass; 401/403/404/409/429 are states; 5xx: not_a_server_error
    try:
        code = response.json().get("code")
    except ValueError:
        code = None
    if code == "validation_error" and _integral_float(case.body):
        return None  # the documented exception (module docstring)
    if code in NEVER_ACCEPTED or code not in documented_codes(case.operation, status):
        raise AssertionError(
            f"Schema-valid request rejected with {status} `{code}`, which is not a documented "
            f"rule of {case.operation.label}: {response.text[:300]}"
        )
    return None
