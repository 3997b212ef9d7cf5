"""A small fake of Stripe's HTTP API (v1) for testing the Stripe adapter offline.

Only what `StripePaymentGateway` calls: POST /v1/payment_methods, /v1/payment_intents,
/v1/refunds, /v1/checkout/sessions and /v1/checkout/sessions/{id}/expire, GET
/v1/checkout/sessions/{id}, with form-encoded bodies, Stripe-shaped JSON objects and
Stripe-shaped errors. `complete_checkout(id)` is the payer paying on Stripe's hosted page.

Idempotency follows Stripe's v1 rules: the first response for a key
is saved once the endpoint starts executing (errors and 500s too) and replayed, with
`Idempotent-Replayed: true`, for the same key and body; another body gets a 400
`idempotency_error`; a key whose first request is still running gets a 409.

Switches: `decline(token, ...)`, `hang_first_call(key, delay_s)` (the endpoint executes, the
response comes too late for the client), `fail_next(count, status)` (500s are saved under the
key, 429s are not, as on Stripe). Counters: `requests(path)`, `executions(key)`.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

import stripe

API_KEY = "sk_test_fake"
BODY_BYTES_MAX = 64 * 1024
IDLE_WAIT_S = 10.0
POLL_INTERVAL_S = 0.02  # how soon `shutdown` is noticed

# Stripe's test PaymentMethods that succeed, and those that decline: code, decline_code.
SUCCEEDING_TOKENS = frozenset(
    {"pm_card_visa", "pm_card_visa_debit", "pm_card_mastercard", "pm_card_amex", "pm_card_discover"}
)
DECLINES: dict[str, tuple[str, str | None, str]] = {
    "pm_card_chargeDeclined": ("card_declined", "generic_decline", "Your card was declined."),
    "pm_card_chargeDeclinedInsufficientFunds": (
        "card_declined",
        "insufficient_funds",
        "Your card has insufficient funds.",
    ),
    "pm_card_chargeDeclinedExpiredCard": ("expired_card", "expired_card", "Your card has expired."),
    "pm_card_chargeDeclinedProcessingError": (
        "processing_error",
        None,
        "An error occurred while processing your card. Try again in a little bit.",
    ),
    "pm_card_chargeDeclinedIncorrectCvc": (
        "incorrect_cvc",
        None,
        "Your card's security code is incorrect.",
    ),
}


@dataclass
class _Saved:
    """The response saved under an idempotency key (None while the first request runs)."""

    signature: tuple[str, tuple[tuple[str, str], ...]]
    response: tuple[int, dict[str, Any]] | None = None


@dataclass
class _State:
    lock: threading.Lock = field(default_factory=threading.Lock)
    ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    requests: Counter[str] = field(default_factory=Counter)
    executions: Counter[str] = field(default_factory=Counter)
    saved: dict[str, _Saved] = field(default_factory=dict)
    methods: dict[str, dict[str, Any]] = field(default_factory=dict)
    intents: dict[str, dict[str, Any]] = field(default_factory=dict)
    refunded: Counter[str] = field(default_factory=Counter)
    sessions: dict[str, dict[str, Any]] = field(default_factory=dict)
    declines: dict[str, tuple[str, str | None, str]] = field(default_factory=lambda: dict(DECLINES))
    hangs: dict[str, float] = field(default_factory=dict)
    failures: list[int] = field(default_factory=list)
    in_flight: int = 0


class FakeStripe:
    """The fake server's state and switches; `base_url` is what the adapter's `api_base` is."""

    def __init__(self, server: ThreadingHTTPServer, state: _State) -> None:
        self._server = server
        self._state = state
        host, port = server.server_address[:2]
        self.base_url = f"http://{host!s}:{port}"

    def decline(self, token: str, code: str, decline_code: str | None = None) -> None:
        """Charges with `token` fail with a 402 card_error of this code."""
        with self._state.lock:
            self._state.declines[token] = (code, decline_code, f"Declined: {code}.")

    def hang_first_call(self, idempotency_key: str, delay_s: float) -> None:
        """The first request with this key executes, then answers after `delay_s` seconds."""
        with self._state.lock:
            self._state.hangs[idempotency_key] = delay_s

    def fail_next(self, count: int = 1, status: int = 500) -> None:
        """The next `count` requests answer `status` (500: saved under the key; 429: not)."""
        with self._state.lock:
            self._state.failures.extend([status] * count)

    def requests(self, path: str) -> int:
        """How many requests reached `path` (replays and errors included)."""
        with self._state.lock:
            return self._state.requests[path]

    def executions(self, idempotency_key: str) -> int:
        """How many times an endpoint really executed for this key (a charge, a refund...)."""
        with self._state.lock:
            return self._state.executions[idempotency_key]

    def payment_intent(self, intent_id: str) -> dict[str, Any]:
        with self._state.lock:
            return dict(self._state.intents[intent_id])

    def payment_intent_ids(self) -> list[str]:
        with self._state.lock:
            return list(self._state.intents)

    def checkout_session(self, session_id: str) -> dict[str, Any]:
        with self._state.lock:
            return dict(self._state.sessions[session_id])

    def checkout_session_ids(self) -> list[str]:
        with self._state.lock:
            return list(self._state.sessions)

    def complete_checkout(self, session_id: str) -> dict[str, Any]:
        """The payer pays on the hosted page: a succeeded PaymentIntent carrying the
        session's `payment_intent_data` metadata; the session complete and paid. Returns the
        session (as a `checkout.session.completed` event would carry it)."""
        with self._state.lock:
            session = self._state.sessions[session_id]
            assert session["status"] == "open", session
            intent_id = f"pi_fake_{next(self._state.ids)}"
            self._state.intents[intent_id] = {
                "id": intent_id,
                "object": "payment_intent",
                "amount": session["amount_total"],
                "currency": session["currency"],
                "status": "succeeded",
                "metadata": dict(session["intent_metadata"]),
            }
            session.update(status="complete", payment_status="paid", payment_intent=intent_id)
            return _public(session)

    def wait_idle(self, timeout_s: float = IDLE_WAIT_S) -> None:
        """Wait until no request is being handled (e.g. a hung one has finished)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with self._state.lock:
                if self._state.in_flight == 0:
                    return
            time.sleep(0.01)
        raise TimeoutError("the fake Stripe server is still busy")


@contextmanager
def running_fake_stripe() -> Iterator[FakeStripe]:
    """Serve a fresh fake on 127.0.0.1 (a free port) in a thread, for the block."""
    state = _State()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_class(state))
    server.daemon_threads = True
    thread = threading.Thread(
        target=server.serve_forever, args=(POLL_INTERVAL_S,), name="fake-stripe", daemon=True
    )
    thread.start()
    try:
        yield FakeStripe(server, state)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=IDLE_WAIT_S)


def sign_webhook(payload: bytes, secret: str, timestamp: int | None = None) -> str:
    """A `Stripe-Signature` header for `payload`, as Stripe would send it."""
    return stripe.WebhookSignature.generate_signature_header(
        payload.decode(), secret, timestamp=int(time.time()) if timestamp is None else timestamp
    )


def stripe_event(event_id: str, event_type: str, obj: dict[str, Any]) -> bytes:
    """The raw body of a Stripe event delivery."""
    body = {"id": event_id, "object": "event", "type": event_type, "data": {"object": obj}}
    return json.dumps(body).encode()


def _error(status: int, kind: str, message: str, **extra: Any) -> tuple[int, dict[str, Any]]:
    return status, {"error": {"type": kind, "message": message, **extra}}


def _handler_class(state: _State) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # quiet
            return

        def do_GET(self) -> None:
            with state.lock:
                state.requests[f"GET {self.path}"] += 1
                if self.headers.get("Authorization") != f"Bearer {API_KEY}":
                    response = _error(401, "invalid_request_error", "Invalid API Key provided.")
                else:
                    response = _retrieve(state, self.path)
            self._send(*response)

        def do_POST(self) -> None:
            with state.lock:
                state.in_flight += 1
                state.requests[self.path] += 1
            try:
                self._handle()
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up waiting (a simulated timeout)
            finally:
                with state.lock:
                    state.in_flight -= 1

        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if self.headers.get("Authorization") != f"Bearer {API_KEY}":
                self._send(*_error(401, "invalid_request_error", "Invalid API Key provided."))
                return
            if length > BODY_BYTES_MAX:
                self._send(*_error(413, "invalid_request_error", "Request too large."))
                return
            params = dict(parse_qsl(self.rfile.read(length).decode(), keep_blank_values=True))
            key = self.headers.get("Idempotency-Key")
            signature = (self.path, tuple(sorted(params.items())))
            with state.lock:
                failure = state.failures.pop(0) if state.failures else None
                if failure == 429:  # the rate limiter runs before the idempotency layer
                    self._send(*_error(429, "invalid_request_error", "Too many requests."))
                    return
                saved = state.saved.get(key) if key else None
                if saved is not None:
                    self._replay(saved, signature)
                    return
                if key:
                    state.saved[key] = _Saved(signature)
                    state.executions[key] += 1
                hang_s = state.hangs.pop(key, 0.0) if key else 0.0
                if failure is not None:
                    response = _error(failure, "api_error", "Something went wrong on Stripe's end.")
                else:
                    response = _route(state, self.path, params)
                if key and not hang_s:
                    state.saved[key].response = response
            if hang_s:  # executed; the answer is saved (and sent) only after the pause
                time.sleep(hang_s)
                with state.lock:
                    state.saved[key or ""].response = response
            self._send(*response)

        def _replay(self, saved: _Saved, signature: tuple[str, Any]) -> None:
            if saved.signature != signature:
                message = "Keys for idempotent requests can only be used with the same parameters."
                self._send(*_error(400, "idempotency_error", message))
            elif saved.response is None:
                message = "There is currently another in-progress request using this key."
                self._send(
                    *_error(409, "idempotency_error", message, code="idempotency_key_in_use")
                )
            else:
                self._send(*saved.response, replayed=True)

        def _send(self, status: int, body: dict[str, Any], replayed: bool = False) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Request-Id", f"req_fake_{next(state.ids)}")
            if replayed:
                self.send_header("Idempotent-Replayed", "true")
            self.end_headers()
            self.wfile.write(data)

    return Handler


def _route(state: _State, path: str, params: dict[str, str]) -> tuple[int, dict[str, Any]]:
    """Execute an endpoint (called with the state's lock held)."""
    if path == "/v1/payment_methods":
        return _create_payment_method(state, params)
    if path == "/v1/payment_intents":
        return _create_payment_intent(state, params)
    if path == "/v1/refunds":
        return _create_refund(state, params)
    if path == "/v1/checkout/sessions":
        return _create_checkout_session(state, params)
    if path.startswith("/v1/checkout/sessions/") and path.endswith("/expire"):
        return _expire_checkout_session(state, path.split("/")[4])
    return _error(404, "invalid_request_error", f"Unrecognized request URL (POST: {path}).")


def _luhn_valid(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char) * (2 if position % 2 else 1)
        total += value - 9 if value > 9 else value
    return total % 10 == 0


def _create_payment_method(state: _State, params: dict[str, str]) -> tuple[int, dict[str, Any]]:
    number = params.get("card[number]", "")
    if params.get("type") != "card" or not number.isdigit():
        return _error(400, "invalid_request_error", "Invalid card.", param="card[number]")
    if not _luhn_valid(number):
        return _error(402, "card_error", "Your card number is incorrect.", code="incorrect_number")
    method_id = f"pm_fake_{next(state.ids)}"
    brand = (
        "visa" if number.startswith("4") else "mastercard" if number.startswith("5") else "unknown"
    )
    card = {  # only what Stripe returns: never the number
        "brand": brand,
        "last4": number[-4:],
        "exp_month": int(params.get("card[exp_month]", "0")),
        "exp_year": int(params.get("card[exp_year]", "0")),
    }
    state.methods[method_id] = card
    return 200, {"id": method_id, "object": "payment_method", "type": "card", "card": card}


def _create_payment_intent(state: _State, params: dict[str, str]) -> tuple[int, dict[str, Any]]:
    amount, currency, method = (
        params.get("amount", ""),
        params.get("currency"),
        params.get("payment_method", ""),
    )
    if not amount.isdigit() or int(amount) < 1 or not currency:
        return _error(
            400, "invalid_request_error", "Missing or invalid amount/currency.", param="amount"
        )
    known = method in SUCCEEDING_TOKENS or method in state.declines or method in state.methods
    if not known:
        return _error(
            400,
            "invalid_request_error",
            f"No such PaymentMethod: '{method}'",
            code="resource_missing",
            param="payment_method",
        )
    if params.get("confirm") == "true" and not (
        params.get("return_url")
        or params.get("automatic_payment_methods[allow_redirects]") == "never"
        or "payment_method_types[0]" in params
    ):
        message = "A return_url must be specified (or redirect-based methods disallowed)."
        return _error(400, "invalid_request_error", message)
    intent_id = f"pi_fake_{next(state.ids)}"
    intent = {
        "id": intent_id,
        "object": "payment_intent",
        "amount": int(amount),
        "currency": currency,
        "payment_method": method,
        "status": "succeeded",
        "metadata": {k[9:-1]: v for k, v in params.items() if k.startswith("metadata[")},
    }
    if method in state.declines:
        code, decline_code, message = state.declines[method]
        intent["status"] = "requires_payment_method"
        state.intents[intent_id] = intent
        extra: dict[str, Any] = {"code": code, "payment_intent": intent}
        if decline_code:
            extra["decline_code"] = decline_code
        return _error(402, "card_error", message, **extra)
    state.intents[intent_id] = intent
    return 200, intent


def _create_refund(state: _State, params: dict[str, str]) -> tuple[int, dict[str, Any]]:
    intent = state.intents.get(params.get("payment_intent", ""))
    if intent is None or intent["status"] != "succeeded":
        return _error(
            400,
            "invalid_request_error",
            "No such payment_intent.",
            code="resource_missing",
            param="payment_intent",
        )
    amount = int(params.get("amount") or intent["amount"])
    if amount < 1 or state.refunded[intent["id"]] + amount > intent["amount"]:
        return _error(
            400,
            "invalid_request_error",
            "Refund amount is greater than unrefunded amount.",
            code="amount_too_large",
            param="amount",
        )
    state.refunded[intent["id"]] += amount
    refund_id = f"re_fake_{next(state.ids)}"
    return 200, {
        "id": refund_id,
        "object": "refund",
        "amount": amount,
        "payment_intent": intent["id"],
        "status": "succeeded",
    }


def _create_checkout_session(state: _State, params: dict[str, str]) -> tuple[int, dict[str, Any]]:
    prefix = "line_items[0][price_data]"
    required = (
        "mode",
        "success_url",
        "cancel_url",
        f"{prefix}[currency]",
        f"{prefix}[unit_amount]",
    )
    missing = [name for name in required if not params.get(name)]
    if missing or params["mode"] != "payment":
        return _error(400, "invalid_request_error", f"Missing required param: {missing}.")
    session_id = f"cs_test_fake_{next(state.ids)}"
    session = {
        "id": session_id,
        "object": "checkout.session",
        "mode": "payment",
        "status": "open",
        "payment_status": "unpaid",
        "payment_intent": None,
        "amount_total": int(params[f"{prefix}[unit_amount]"]),
        "currency": params[f"{prefix}[currency]"],
        "success_url": params["success_url"],
        "cancel_url": params["cancel_url"],
        "metadata": _metadata(params, "metadata"),
        "intent_metadata": _metadata(params, "payment_intent_data[metadata]"),
        "url": f"https://checkout.stripe.test/c/pay/{session_id}",
    }
    state.sessions[session_id] = session
    return 200, _public(session)


def _metadata(params: dict[str, str], prefix: str) -> dict[str, str]:
    return {k[len(prefix) + 1 : -1]: v for k, v in params.items() if k.startswith(f"{prefix}[")}


def _public(session: dict[str, Any]) -> dict[str, Any]:
    """A session as Stripe shows it (without the fake's own bookkeeping)."""
    return {k: v for k, v in session.items() if k != "intent_metadata"}


def _no_such_session(session_id: str) -> tuple[int, dict[str, Any]]:
    message = f"No such checkout.session: '{session_id}'"
    return _error(404, "invalid_request_error", message, code="resource_missing")


def _retrieve(state: _State, path: str) -> tuple[int, dict[str, Any]]:
    """GET /v1/checkout/sessions/{id} (called with the state's lock held)."""
    prefix = "/v1/checkout/sessions/"
    session_id = path.removeprefix(prefix).split("?")[0]
    if not path.startswith(prefix) or "/" in session_id:
        return _error(404, "invalid_request_error", f"Unrecognized request URL (GET: {path}).")
    session = state.sessions.get(session_id)
    return (200, _public(session)) if session is not None else _no_such_session(session_id)


def _expire_checkout_session(state: _State, session_id: str) -> tuple[int, dict[str, Any]]:
    session = state.sessions.get(session_id)
    if session is None:
        return _no_such_session(session_id)
    if session["status"] != "open":
        message = f"Only Checkout Sessions with a status of open can be expired: {session_id}"
        return _error(400, "invalid_request_error", message)
    session["status"] = "expired"
    return 200, _public(session)
