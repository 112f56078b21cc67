"""A small local fake of Stripe's HTTP API, for driving the official `stripe` library in tests.

It speaks the wire format the library uses, so the code under test runs unchanged
with `stripe.api_base` pointed here (`settings.STRIPE_API_BASE`):

- form-encoded requests (`line_items[0][price_data][currency]=usd`) with
  `Authorization: Bearer sk_test_...`; JSON responses; errors in Stripe's shape
  `{"error": {"type", "message", "code", "param"}}` with Stripe's status codes;
- `POST /v1/checkout/sessions`, `GET /v1/checkout/sessions/{id}`,
  `POST /v1/checkout/sessions/{id}/expire`, `GET /v1/events/{id}`;
- `GET /v1/payment_intents/{id}` (one exists for every session the fake completed);
- `POST /v1/refunds` (`payment_intent`, `amount`: never more than what remains of the payment),
  `GET /v1/refunds/{id}`, `GET /v1/refunds?payment_intent=…` (newest first);
- Connect: `POST /v1/accounts` (`type=express`), `GET /v1/accounts/{id}`,
  `POST /v1/account_links` (`type=account_onboarding`), `POST /v1/transfers` (`amount`,
  `currency`, `destination`: a known account whose payouts are enabled), `GET /v1/transfers/{id}`,
  `GET /v1/transfers?transfer_group=…` (newest first);
- the `Idempotency-Key` header: the same key with the same parameters replays the
  first response (with `Idempotent-Replayed: true`); the same key with other
  parameters is a 400 `idempotency_error`. Like Stripe, a request refused before it
  runs (bad key, missing parameter) saves no result for its key.

Test controls: every request is recorded (`requests`, `posts()`); `delay_next()` holds
a response after the work is done and stored, past the client's timeout (the
answer is lost but Stripe did it — T10); `fail_next()` answers with an error before
doing anything; `checkout_completed()` marks a session paid and returns the signed
`checkout.session.completed` event to POST to the webhook endpoint; `fail_next_refund()`
makes the next refund come back `status: failed` (as a refund to a closed card does);
`refund_failed()` fails an accepted refund later and returns its signed `refund.failed` event;
`set_payouts_enabled()` (or `complete_onboarding()`) is the connected account finishing
Stripe's onboarding; `set_available_balance()` makes transfers beyond it fail with
`balance_insufficient` (by default the platform balance is unlimited).

    with FakeStripe() as fake:
        settings.STRIPE_API_BASE = fake.url
        ...
        signed = fake.checkout_completed(session_id, secret="whsec_...")
        client.post(url, signed.payload, content_type="application/json", **signed.django_headers)
"""

import json
import re
import secrets
import string
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

import stripe

SESSION_LIFETIME_SECONDS = 24 * 3600
_ALPHABET = string.ascii_letters + string.digits


def new_id(prefix: str, length: int = 24) -> str:
    return prefix + "".join(secrets.choice(_ALPHABET) for _ in range(length))


class StripeError(Exception):
    """An error answered in Stripe's JSON shape."""

    def __init__(
        self, status: int, message: str, *, type: str = "invalid_request_error", code=None, param=None
    ):
        super().__init__(message)
        self.status = status
        self.body = {"error": {"type": type, "message": message}}
        if code:
            self.body["error"]["code"] = code
            self.body["error"]["doc_url"] = f"https://stripe.com/docs/error-codes/{code.replace('_', '-')}"
        if param:
            self.body["error"]["param"] = param


def decode_form(pairs: list[tuple[str, str]]) -> dict:
    """Stripe's bracketed form encoding back into nested dicts and lists.

    `a[b][0][c]=1` → `{"a": {"b": [{"c": "1"}]}}`. Values stay strings, as on the wire.
    """
    root: dict = {}
    for key, value in pairs:
        head, _, rest = key.partition("[")
        parts = [head] + (re.findall(r"([^\[\]]*)\]", "[" + rest) if rest else [])
        node = root
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            if part == "":  # `expand[]=x`: append
                part = str(sum(1 for k in node if k.isdigit()))
            if last:
                node[part] = value
            else:
                node = node.setdefault(part, {})
    return _listify(root)


def _listify(node):
    if not isinstance(node, dict):
        return node
    node = {k: _listify(v) for k, v in node.items()}
    if node and all(k.isdigit() for k in node):
        return [node[k] for k in sorted(node, key=int)]
    return node


def _int_param(value, param: str, *, minimum: int = 0) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise StripeError(
            400, f"Invalid integer: {value}", code="parameter_invalid_integer", param=param
        ) from None
    if number < minimum:
        raise StripeError(
            400,
            f"This value must be greater than or equal to {minimum}.",
            code="parameter_invalid_integer",
            param=param,
        )
    return number


def _dollars(cents: int) -> str:
    return f"${cents // 100:,}.{cents % 100:02d}"


@dataclass
class RecordedRequest:
    """One request as the fake saw it, and how it answered."""

    method: str
    path: str
    headers: dict[str, str]
    form: list[tuple[str, str]]
    params: dict
    body: bytes
    status: int | None = None
    response: dict | None = None
    replayed: bool = False

    def header(self, name: str) -> str | None:
        lowered = name.lower()
        for key, value in self.headers.items():
            if key.lower() == lowered:
                return value
        return None

    @property
    def idempotency_key(self) -> str | None:
        return self.header("Idempotency-Key")


@dataclass(frozen=True)
class SignedEvent:
    """A webhook delivery: the exact body and its `Stripe-Signature` header."""

    event: dict
    payload: str
    signature: str

    @property
    def id(self) -> str:
        return self.event["id"]

    @property
    def headers(self) -> dict[str, str]:
        return {"Stripe-Signature": self.signature, "Content-Type": "application/json"}

    @property
    def django_headers(self) -> dict[str, str]:
        """Keyword arguments for Django's test client: `client.post(url, body, content_type=..., **these)`."""
        return {"HTTP_STRIPE_SIGNATURE": self.signature}


@dataclass
class _Rule:
    method: str
    path: str
    remaining: int
    seconds: float = 0.0
    error: StripeError | None = None

    def matches(self, method: str, path: str) -> bool:
        return self.remaining > 0 and self.method == method and path.startswith(self.path)


@dataclass
class _Stored:
    """A saved idempotent result: what was asked, and what was answered."""

    method: str
    path: str
    form: list[tuple[str, str]]
    status: int
    body: dict
    request_id: str
    saved_at: float = field(default_factory=time.time)


class FakeStripe:
    """Stripe's API on 127.0.0.1:<free port>, in a background thread."""

    def __init__(self, *, api_key: str | None = None, host: str = "127.0.0.1", port: int = 0):
        """`api_key`: the only secret key accepted; by default any `sk_test_...` key is."""
        self.api_key = api_key
        self.sessions: dict[str, dict] = {}
        self.events: dict[str, dict] = {}
        self.payment_intents: dict[str, dict] = {}
        self.refunds: dict[str, dict] = {}
        self.accounts: dict[str, dict] = {}
        self.account_links: list[dict] = []
        self.transfers: dict[str, dict] = {}
        self.available_balance: int | None = None  # None: transfers are never short of balance
        self._refund_failures: list[str] = []
        self.requests: list[RecordedRequest] = []
        self._idempotent: dict[tuple[str, str], _Stored] = {}
        self._rules: list[_Rule] = []
        self._lock = threading.RLock()
        self._stopping = threading.Event()
        self._server = ThreadingHTTPServer((host, port), _Handler)
        self._server.daemon_threads = True
        self._server.fake = self
        self._thread: threading.Thread | None = None

    # --- lifecycle -------------------------------------------------------------------------

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> "FakeStripe":
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-stripe", daemon=True)
        self._thread.start()
        return self

    def stop(self):
        self._stopping.set()  # wakes any delayed response
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> "FakeStripe":
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # --- test controls ---------------------------------------------------------------------

    def delay_next(
        self, seconds: float, *, count: int = 1, method: str = "POST", path: str = "/v1/checkout/sessions"
    ):
        """Hold the next `count` matching responses for `seconds`, after the work is done and saved."""
        with self._lock:
            self._rules.append(_Rule(method, path, count, seconds=seconds))

    def fail_next(
        self,
        status: int = 500,
        *,
        count: int = 1,
        method: str = "POST",
        path: str = "/v1/checkout/sessions",
        type: str = "api_error",
        message: str = "An unknown error occurred",
    ):
        """Answer the next `count` matching requests with an error, before doing anything."""
        with self._lock:
            self._rules.append(_Rule(method, path, count, error=StripeError(status, message, type=type)))

    def posts(self, path: str = "/v1/checkout/sessions") -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self.requests if r.method == "POST" and r.path == path]

    def session_count(self) -> int:
        with self._lock:
            return len(self.sessions)

    def fail_next_refund(self, reason: str = "expired_or_canceled_card", *, count: int = 1):
        """The next `count` refunds are made but come back `status: failed` with `failure_reason`."""
        with self._lock:
            self._refund_failures.extend([reason] * count)

    def create_payment_intent(
        self, amount: int, *, currency: str = "usd", metadata: dict | None = None
    ) -> dict:
        """A succeeded payment of `amount` (what a completed checkout leaves behind), to refund later."""
        with self._lock:
            intent = {
                "id": new_id("pi_test_"),
                "object": "payment_intent",
                "amount": amount,
                "amount_received": amount,
                "created": int(time.time()),
                "currency": currency,
                "latest_charge": new_id("ch_test_"),
                "livemode": False,
                "metadata": dict(metadata or {}),
                "status": "succeeded",
            }
            self.payment_intents[intent["id"]] = intent
            return json.loads(json.dumps(intent))

    def refunded(self, payment_intent: str) -> int:
        """How much of the payment has been refunded (refunds that did not fail)."""
        with self._lock:
            return sum(
                r["amount"]
                for r in self.refunds.values()
                if r["payment_intent"] == payment_intent and r["status"] not in ("failed", "canceled")
            )

    def set_payouts_enabled(self, account_id: str, enabled: bool = True):
        """The connected account can (or can no longer) receive transfers and pay them out."""
        with self._lock:
            self.accounts[account_id]["payouts_enabled"] = enabled
            self.accounts[account_id]["capabilities"]["transfers"] = "active" if enabled else "inactive"

    def complete_onboarding(self, account_id: str):
        """The account holder finished Stripe's onboarding: details submitted, charges and payouts enabled."""
        with self._lock:
            self.accounts[account_id].update(details_submitted=True, charges_enabled=True)
            self.set_payouts_enabled(account_id, True)

    def set_available_balance(self, cents: int | None):
        """The platform's available balance that transfers draw on (None: unlimited, the default)."""
        with self._lock:
            self.available_balance = cents

    def forget_idempotency_keys(self):
        """Stripe forgets idempotency keys after about 24 hours: a resend then runs again."""
        with self._lock:
            self._idempotent.clear()

    # --- webhooks --------------------------------------------------------------------------

    def make_event(self, event_type: str, obj: dict, *, event_id: str | None = None) -> dict:
        event = {
            "id": event_id or new_id("evt_test_"),
            "object": "event",
            "api_version": stripe.api_version,
            "created": int(time.time()),
            "data": {"object": json.loads(json.dumps(obj))},
            "livemode": False,
            "pending_webhooks": 1,
            "request": {"id": None, "idempotency_key": None},
            "type": event_type,
        }
        with self._lock:
            self.events[event["id"]] = event
        return event

    @staticmethod
    def sign(event: dict, secret: str, *, timestamp: int | None = None) -> SignedEvent:
        payload = json.dumps(event, indent=2)
        header = stripe.WebhookSignature.generate_signature_header(payload, secret, timestamp=timestamp)
        return SignedEvent(event=event, payload=payload, signature=header)

    def complete_session(self, session_id: str) -> dict:
        """The payer paid: the session becomes `complete` and `paid` (idempotent)."""
        with self._lock:
            session = self.sessions[session_id]
            if session["status"] != "complete":
                intent = self.create_payment_intent(
                    session["amount_total"], currency=session["currency"], metadata=session["metadata"]
                )
                session.update(
                    status="complete", payment_status="paid", payment_intent=intent["id"], url=None
                )
            return json.loads(json.dumps(session))

    def checkout_completed(
        self, session_id: str, secret: str, *, event_id: str | None = None, timestamp: int | None = None
    ) -> SignedEvent:
        """Mark the session paid and build the signed `checkout.session.completed` event for it."""
        session = self.complete_session(session_id)
        event = self.make_event("checkout.session.completed", session, event_id=event_id)
        return self.sign(event, secret, timestamp=timestamp)

    def refund_failed(
        self,
        refund_id: str,
        secret: str,
        *,
        reason: str = "expired_or_canceled_card",
        event_id: str | None = None,
    ) -> SignedEvent:
        """A refund Stripe accepted fails later (a closed card): it becomes `failed` and this returns
        the signed `refund.failed` event for it."""
        with self._lock:
            refund = self.refunds[refund_id]
            refund.update(status="failed", failure_reason=reason)
            refund = json.loads(json.dumps(refund))
        return self.sign(self.make_event("refund.failed", refund, event_id=event_id), secret)

    # --- the API ---------------------------------------------------------------------------

    def _authenticate(self, request: RecordedRequest):
        authorization = request.header("Authorization") or ""
        scheme, _, key = authorization.partition(" ")
        if scheme.lower() != "bearer" or not key:
            raise StripeError(
                401,
                "You did not provide an API key. You need to provide your API key in the Authorization "
                "header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY').",
            )
        if (self.api_key and key != self.api_key) or not key.startswith("sk_test_"):
            raise StripeError(401, f"Invalid API Key provided: {key[:8]}{'*' * 4}{key[-4:]}")
        return key

    def handle(self, request: RecordedRequest) -> tuple[int, dict, dict[str, str]]:
        """Answer one request: (status, body, extra headers). Called on the server's threads."""
        request_id = new_id("req_", 14)
        headers = {"Request-Id": request_id, "Stripe-Version": request.header("Stripe-Version") or ""}
        delay = 0.0
        try:
            with self._lock:
                for rule in self._rules:
                    if rule.matches(request.method, request.path):
                        rule.remaining -= 1
                        if rule.error is not None:
                            raise rule.error
                        delay = rule.seconds
                        break
            api_key = self._authenticate(request)
            key = request.idempotency_key if request.method == "POST" else None
            if key is not None:
                headers["Idempotency-Key"] = key
                if len(key) > 255:
                    raise StripeError(400, "Idempotency keys can be no longer than 255 characters.")
            with self._lock:  # check, run and save under one lock: no two runs for one key
                if key is not None:
                    stored = self._idempotent.get((api_key, key))
                    if stored is not None:
                        if (stored.method, stored.path, stored.form) != (
                            request.method,
                            request.path,
                            request.form,
                        ):
                            raise StripeError(
                                400,
                                "Keys for idempotent requests can only be used with the same parameters they "
                                f"were first used with. Try using a key other than '{key}' if you meant to "
                                "execute a different request.",
                                type="idempotency_error",
                            )
                        request.replayed = True
                        headers.update({"Idempotent-Replayed": "true", "Original-Request": stored.request_id})
                        status, body = stored.status, stored.body
                    else:
                        status, body = 200, self._route(request)
                        self._idempotent[(api_key, key)] = _Stored(
                            request.method, request.path, request.form, status, body, request_id
                        )
                else:
                    status, body = 200, self._route(request)
        except StripeError as exc:
            status, body = exc.status, exc.body
        request.status, request.response = status, body
        if delay:  # the work is done and saved; only the answer is late
            self._stopping.wait(delay)
        return status, body, headers

    def _route(self, request: RecordedRequest) -> dict:
        method, path = request.method, request.path.rstrip("/")
        if method == "POST" and path == "/v1/checkout/sessions":
            return self._create_session(request.params)
        match = re.fullmatch(r"/v1/checkout/sessions/([^/]+)(/expire)?", path)
        if match and (method, bool(match[2])) in (("GET", False), ("POST", True)):
            session = self.sessions.get(match[1])
            if session is None:
                raise StripeError(
                    404, f"No such checkout.session: '{match[1]}'", code="resource_missing", param="session"
                )
            if match[2]:
                if session["status"] != "open":
                    raise StripeError(
                        400,
                        f'Only Checkout Sessions with a status in ["open"] can be expired. This '
                        f'Checkout Session has a status of "{session["status"]}".',
                    )
                session.update(status="expired", url=None)
            return json.loads(json.dumps(session))
        match = re.fullmatch(r"/v1/events/([^/]+)", path)
        if match and method == "GET":
            if match[1] not in self.events:
                raise StripeError(404, f"No such event: '{match[1]}'", code="resource_missing", param="id")
            return self.events[match[1]]
        if method == "POST" and path == "/v1/refunds":
            return self._create_refund(request.params)
        if method == "GET" and path == "/v1/refunds":  # newest first, optionally of one payment
            intent = request.params.get("payment_intent")
            found = [r for r in self.refunds.values() if intent is None or r["payment_intent"] == intent]
            limit = _int_param(request.params.get("limit", 10), "limit", minimum=1)
            found = sorted(found, key=lambda r: r["created"], reverse=True)
            return {
                "object": "list",
                "url": "/v1/refunds",
                "has_more": len(found) > limit,
                "data": found[:limit],
            }
        if method == "POST" and path == "/v1/accounts":
            return self._create_account(request.params)
        if method == "POST" and path == "/v1/account_links":
            return self._create_account_link(request.params)
        if method == "POST" and path == "/v1/transfers":
            return self._create_transfer(request.params)
        if method == "GET" and path == "/v1/transfers":  # newest first, optionally by transfer_group
            group = request.params.get("transfer_group")
            found = [t for t in self.transfers.values() if group is None or t.get("transfer_group") == group]
            limit = _int_param(request.params.get("limit", 10), "limit", minimum=1)
            found = sorted(found, key=lambda t: t["created"], reverse=True)
            return {
                "object": "list",
                "url": "/v1/transfers",
                "has_more": len(found) > limit,
                "data": found[:limit],
            }
        match = re.fullmatch(r"/v1/(payment_intents|refunds|accounts|transfers)/([^/]+)", path)
        if match and method == "GET":
            store, name = {
                "payment_intents": (self.payment_intents, "payment_intent"),
                "refunds": (self.refunds, "refund"),
                "accounts": (self.accounts, "account"),
                "transfers": (self.transfers, "transfer"),
            }[match[1]]
            if match[2] not in store:
                raise StripeError(404, f"No such {name}: '{match[2]}'", code="resource_missing", param="id")
            return json.loads(json.dumps(store[match[2]]))
        raise StripeError(
            404,
            f"Unrecognized request URL ({method}: {request.path}). Please see https://stripe.com/docs or "
            "we can help at https://support.stripe.com/.",
        )

    def _create_session(self, params: dict) -> dict:
        mode = params.get("mode")
        if not mode:
            raise StripeError(400, "Missing required param: mode.", code="parameter_missing", param="mode")
        if mode not in ("payment", "setup", "subscription"):
            raise StripeError(
                400, "Invalid mode: must be one of payment, setup, or subscription", param="mode"
            )
        if not params.get("success_url") and params.get("ui_mode", "hosted") == "hosted":
            raise StripeError(
                400, "Missing required param: success_url.", code="parameter_missing", param="success_url"
            )
        items = params.get("line_items") or []
        if mode == "payment" and not items:
            raise StripeError(
                400,
                "You must provide at least one line item when `mode` is `payment`.",
                code="parameter_missing",
                param="line_items",
            )
        if not isinstance(items, list):
            raise StripeError(400, "Invalid array", code="parameter_invalid_array", param="line_items")
        total, currency = 0, None
        for i, item in enumerate(items):
            where = f"line_items[{i}]"
            if "price" in item:
                raise StripeError(
                    400, f"No such price: '{item['price']}'", code="resource_missing", param=f"{where}[price]"
                )
            price = item.get("price_data")
            if not isinstance(price, dict):
                raise StripeError(
                    400,
                    "You must specify either `price` or `price_data` for each line item.",
                    code="parameter_missing",
                    param=where,
                )
            quantity = _int_param(item.get("quantity"), f"{where}[quantity]", minimum=1)
            item_currency = (price.get("currency") or "").lower()
            if not re.fullmatch(r"[a-z]{3}", item_currency):
                raise StripeError(
                    400,
                    "Missing required param: line_items[0][price_data][currency].",
                    code="parameter_missing",
                    param=f"{where}[price_data][currency]",
                )
            if currency and item_currency != currency:
                raise StripeError(
                    400, "All line items must use the same currency.", param=f"{where}[price_data][currency]"
                )
            currency = item_currency
            if not price.get("product") and not (price.get("product_data") or {}).get("name"):
                raise StripeError(
                    400,
                    "You must specify either `product` or `product_data` when creating a price.",
                    code="parameter_missing",
                    param=f"{where}[price_data][product_data]",
                )
            unit = _int_param(price.get("unit_amount"), f"{where}[price_data][unit_amount]")
            total += unit * quantity
        now = int(time.time())
        session_id = new_id("cs_test_", 58)
        session = {
            "id": session_id,
            "object": "checkout.session",
            "amount_subtotal": total,
            "amount_total": total,
            "cancel_url": params.get("cancel_url"),
            "client_reference_id": params.get("client_reference_id"),
            "created": now,
            "currency": currency,
            "customer": None,
            "customer_email": params.get("customer_email"),
            "expires_at": now + SESSION_LIFETIME_SECONDS,
            "livemode": False,
            "metadata": params.get("metadata") or {},
            "mode": mode,
            "payment_intent": None,
            "payment_method_types": ["card"],
            "payment_status": "unpaid" if mode == "payment" else "no_payment_required",
            "status": "open",
            "success_url": params.get("success_url"),
            "ui_mode": params.get("ui_mode", "hosted"),
            "url": f"{self.url}/c/pay/{session_id}",
        }
        self.sessions[session_id] = session
        return json.loads(json.dumps(session))

    def _create_refund(self, params: dict) -> dict:
        reference = params.get("payment_intent")
        if not reference and not params.get("charge"):
            raise StripeError(
                400,
                "One of the following params should be provided for this request: payment_intent or charge.",
                code="parameter_missing",
                param="payment_intent",
            )
        intent = self.payment_intents.get(reference)
        if intent is None:
            where = "payment_intent" if reference else "charge"
            raise StripeError(
                400,
                f"No such {where}: '{reference or params['charge']}'",
                code="resource_missing",
                param=where,
            )
        remaining = intent["amount_received"] - self.refunded(intent["id"])
        amount = _int_param(params["amount"], "amount", minimum=1) if "amount" in params else remaining
        if remaining <= 0:
            raise StripeError(
                400,
                f"Charge {intent['latest_charge']} has already been refunded.",
                code="charge_already_refunded",
            )
        if amount > remaining:
            raise StripeError(
                400,
                f"Refund amount ({_dollars(amount)}) is greater than unrefunded amount on charge "
                f"({_dollars(remaining)})",
                param="amount",
            )
        failure = self._refund_failures.pop(0) if self._refund_failures else None
        refund = {
            "id": new_id("re_test_"),
            "object": "refund",
            "amount": amount,
            "charge": intent["latest_charge"],
            "created": int(time.time()),
            "currency": intent["currency"],
            "failure_reason": failure,
            "metadata": params.get("metadata") or {},
            "payment_intent": intent["id"],
            "reason": params.get("reason"),
            "status": "failed" if failure else "succeeded",
        }
        self.refunds[refund["id"]] = refund
        return json.loads(json.dumps(refund))

    def _create_account(self, params: dict) -> dict:
        kind = params.get("type")
        if kind not in ("express", "standard", "custom"):
            raise StripeError(400, "Invalid type: must be one of custom, express, or standard", param="type")
        account = {
            "id": new_id("acct_", 16),
            "object": "account",
            "type": kind,
            "capabilities": {"transfers": "inactive"},
            "charges_enabled": False,
            "country": params.get("country") or "US",
            "created": int(time.time()),
            "default_currency": "usd",
            "details_submitted": False,
            "email": params.get("email"),
            "metadata": params.get("metadata") or {},
            "payouts_enabled": False,
        }
        self.accounts[account["id"]] = account
        return json.loads(json.dumps(account))

    def _create_account_link(self, params: dict) -> dict:
        for name in ("account", "type"):
            if not params.get(name):
                raise StripeError(
                    400, f"Missing required param: {name}.", code="parameter_missing", param=name
                )
        if params["account"] not in self.accounts:
            raise StripeError(
                400, f"No such account: '{params['account']}'", code="resource_missing", param="account"
            )
        if params["type"] not in ("account_onboarding", "account_update"):
            raise StripeError(
                400, "Invalid type: must be one of account_onboarding or account_update", param="type"
            )
        if not params.get("return_url"):
            raise StripeError(
                400, "Missing required param: return_url.", code="parameter_missing", param="return_url"
            )
        now = int(time.time())
        link = {
            "object": "account_link",
            "created": now,
            "expires_at": now + 300,
            "url": f"{self.url}/setup/e/{params['account']}/{new_id('', 12)}",
        }
        self.account_links.append(
            dict(
                link,
                account=params["account"],
                refresh_url=params.get("refresh_url"),
                return_url=params["return_url"],
                type=params["type"],
            )
        )
        return link

    def _create_transfer(self, params: dict) -> dict:
        for name in ("amount", "currency", "destination"):
            if not params.get(name):
                raise StripeError(
                    400, f"Missing required param: {name}.", code="parameter_missing", param=name
                )
        amount = _int_param(params["amount"], "amount", minimum=1)
        destination = params["destination"]
        account = self.accounts.get(destination)
        if account is None:
            raise StripeError(
                400, f"No such destination: '{destination}'", code="resource_missing", param="destination"
            )
        if not account["payouts_enabled"]:
            raise StripeError(
                400,
                "Your destination account needs to have at least one of the following capabilities enabled: "
                "transfers, crypto_transfers, legacy_payments",
                code="insufficient_capabilities_for_transfer",
                param="destination",
            )
        if self.available_balance is not None:
            if amount > self.available_balance:
                raise StripeError(
                    400,
                    "You have insufficient available funds in your Stripe account. Try adding funds directly "
                    "to your available balance by creating Charges using the 4000000000000077 test card.",
                    code="balance_insufficient",
                )
            self.available_balance -= amount
        transfer = {
            "id": new_id("tr_test_"),
            "object": "transfer",
            "amount": amount,
            "amount_reversed": 0,
            "created": int(time.time()),
            "currency": params["currency"].lower(),
            "description": params.get("description"),
            "destination": destination,
            "livemode": False,
            "metadata": params.get("metadata") or {},
            "reversed": False,
            "transfer_group": params.get("transfer_group"),
        }
        self.transfers[transfer["id"]] = transfer
        return json.loads(json.dumps(transfer))


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the library's requests session expects
    server_version = "FakeStripe/1.0"

    def _serve(self):
        fake: FakeStripe = self.server.fake
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        parts = urlsplit(self.path)
        form = parse_qsl(body.decode() if self.command == "POST" else parts.query, keep_blank_values=True)
        request = RecordedRequest(
            method=self.command,
            path=parts.path,
            headers=dict(self.headers.items()),
            form=form,
            params=decode_form(form),
            body=body,
        )
        with fake._lock:
            fake.requests.append(request)
        status, payload, headers = fake.handle(request)
        data = json.dumps(payload, indent=2).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in headers.items():
                if value:
                    self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up waiting (a timed-out request)

    do_GET = do_POST = do_DELETE = _serve

    def log_message(self, format, *args):  # quiet: tests read `requests` instead
        pass


# The site's Stripe credentials while it talks to the fake.
SECRET_KEY = "sk_test_fake"
WEBHOOK_SECRET = "whsec_test_fundfill_fake_0123456789"
LIBRARY_GLOBALS = ("api_key", "api_base", "default_http_client", "max_network_retries")


@contextmanager
def site_on_fake_stripe(settings, *, payouts: bool = False, retries: int | None = None):
    """A running FakeStripe with the site on the `stripe` gateway pointed at it (pytest-django's
    `settings`), payouts by Stripe too if asked; the stripe library's globals restored after."""
    saved = {name: getattr(stripe, name) for name in LIBRARY_GLOBALS}
    with FakeStripe(api_key=SECRET_KEY) as fake:
        settings.PAYMENT_GATEWAY = "stripe"
        settings.STRIPE_SECRET_KEY = SECRET_KEY
        settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
        settings.STRIPE_API_BASE = fake.url
        if payouts:
            settings.PAYOUT_METHOD = "stripe"
        if retries is not None:
            stripe.max_network_retries = retries
        try:
            yield fake
        finally:
            for name, value in saved.items():
                setattr(stripe, name, value)
