"""The `webhook` channel: each announcement as a signed JSON POST to the integrators' endpoints.

Who: every active `WebhookEndpoint` that wants the event gets one outbox row (`recipient` is
the endpoint's id, dedupe key `{key}:webhook:{endpoint}`): a site-wide endpoint hears every
public event, a fund's endpoint that fund's only. Receipts of one person's money
(`PRIVATE_EVENTS`) never go to a webhook, and a fund whose automatic announcements are off
(`FundPage.announce`) is announced nowhere, webhooks included.

What: `{"type": event, "timestamp": when it was staged, "data": {...}}`, signed by the Standard
Webhooks scheme (the `standardwebhooks` library) with the endpoint's `whsec_…` secret. The
`webhook-id` header is derived from the outbox row's dedupe key, so every attempt at one row
carries the same id and a receiver that deduplicates on it (as the scheme asks) acts once.

Answers: 2xx delivered (the provider id is the webhook-id); 410 Gone disables the endpoint and
fails the row; 429 reschedules at Retry-After; any other 4xx or a redirect (never followed)
fails the row; a 5xx, a timeout or a broken connection backs off (bounties/services/delivery.py).

Server-side request forgery: the URL must be http(s) and every address its host resolves to
public (`resolve_target`). The admin form checks it when the endpoint is saved, and the sender
checks again at each send, then connects to the very address it checked (DNS can change
between the two, or between the check and the connection). `WEBHOOKS_ALLOW_PRIVATE = True`
lets tests and a developer's machine reach loopback receivers; it is False unless set.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import json
import secrets
import socket
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

import urllib3
from django.conf import settings
from django.db.models import Q
from django.utils import timezone
from standardwebhooks import Webhook

from bounties.announcers.registry import PRIVATE_EVENTS, audience, sender
from bounties.models import FundPage, Outbox, WebhookEndpoint

CHANNEL = "webhook"
TIMEOUT = urllib3.Timeout(connect=5.0, read=10.0)
RETRY_AFTER_DEFAULT = timedelta(seconds=60)  # a 429 without a usable Retry-After
RETRY_AFTER_CAP = timedelta(days=1)
USER_AGENT = "Fundfill-Webhooks/1"


# --- Which URLs may be called ----------------------------------------------------------------------


class UnsafeURL(ValueError):
    """A webhook URL that is not http(s), or whose host is (or resolves to) a non-public address."""


@dataclass(frozen=True)
class Target:
    """Where one POST goes: the URL's parts and the checked address to connect to."""

    scheme: str
    host: str  # as written in the URL (the Host header, TLS's server name)
    port: int
    path: str  # with the query
    address: str  # the public address the host resolved to, which the connection uses

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = 443 if self.scheme == "https" else 80
        return host if self.port == default else f"{host}:{self.port}"


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one stands for (mapped, 6to4, Teredo, NAT64 or IPv4-compatible)."""
    if ip.ipv4_mapped:
        return ip.ipv4_mapped
    if ip.sixtofour:
        return ip.sixtofour
    if ip.teredo:
        return ip.teredo[1]
    if ip in ipaddress.ip_network("64:ff9b::/96") or ip in ipaddress.ip_network("::/96"):
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def refusal(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    """Why this address must not be called ("loopback", "private", …), or None for a public one."""
    if isinstance(ip, ipaddress.IPv6Address) and (inner := _embedded_ipv4(ip)) is not None:
        reason = refusal(inner)
        return f"{reason} (inside {ip})" if reason else None
    for reason, test in (
        ("loopback", ip.is_loopback),
        ("link-local", ip.is_link_local),
        ("multicast", ip.is_multicast),
        ("unspecified", ip.is_unspecified),
        ("reserved", ip.is_reserved),
        ("private", ip.is_private),
        ("non-public", not ip.is_global),  # shared address space (100.64/10), documentation, …
    ):
        if test:
            return reason
    return None


def resolve_target(url: str, *, allow_private: bool | None = None) -> Target:
    """The checked target of `url`, or UnsafeURL saying why it may not be called.

    Every address the host resolves to must be public (an attacker's DNS may answer a public
    and a private address), unless `allow_private` (default: `settings.WEBHOOKS_ALLOW_PRIVATE`).
    Raises OSError (socket.gaierror) when the name does not resolve now.
    """
    if allow_private is None:
        allow_private = getattr(settings, "WEBHOOKS_ALLOW_PRIVATE", False)
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise UnsafeURL(f"Only http and https URLs can receive webhooks, not {scheme or 'this'}.")
    if parts.username is not None or parts.password is not None:
        raise UnsafeURL("Leave credentials out of the URL: receivers check the signature instead.")
    host = parts.hostname
    if not host:
        raise UnsafeURL("The URL has no host.")
    try:
        port = parts.port or (443 if scheme == "https" else 80)
    except ValueError:
        raise UnsafeURL("The URL's port is not a number between 0 and 65535.") from None
    found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    addresses = list(dict.fromkeys(info[4][0].split("%")[0] for info in found))
    if not addresses:
        raise UnsafeURL(f"{host} does not resolve to any address.")
    if not allow_private:
        for address in addresses:
            if reason := refusal(ipaddress.ip_address(address)):
                raise UnsafeURL(
                    f"{host} resolves to {address}, a {reason} address: webhooks go to public addresses only."
                )
    path = parts.path or "/"
    return Target(scheme, host, port, path + (f"?{parts.query}" if parts.query else ""), addresses[0])


def check_url(url: str) -> str | None:
    """The admin form's check: a sentence saying why `url` cannot receive webhooks, or None."""
    try:
        resolve_target(url)
    except UnsafeURL as error:
        return str(error)
    except (OSError, UnicodeError):
        return f"{urlsplit(url).hostname or url} does not resolve: check the host name."
    return None


def new_secret() -> str:
    """A fresh Standard Webhooks secret: `whsec_` and 32 random bytes in base64."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


# --- Who hears of an event -------------------------------------------------------------------------


@audience
def webhooks(*, key: str, event: str, fund_id: int | None, payload: dict) -> list[Outbox]:
    if event in PRIVATE_EVENTS:
        return []
    endpoints = WebhookEndpoint.objects.filter(active=True)
    if fund_id:
        if not FundPage.objects.filter(pk=fund_id, announce=True).exists():
            return []
        endpoints = endpoints.filter(Q(fund__isnull=True) | Q(fund_id=fund_id))
    else:
        endpoints = endpoints.filter(fund__isnull=True)
    return [
        Outbox(
            dedupe_key=f"{key}:webhook:{pk}",
            channel=CHANNEL,
            recipient=str(pk),
            event=event,
            payload=payload,
            fund_id=fund_id,
        )
        for pk in endpoints.order_by("pk").values_list("pk", flat=True)
    ]


# --- Sending one row -------------------------------------------------------------------------------


def webhook_id(row: Outbox) -> str:
    """The row's `webhook-id`: the same for every attempt at the row, and header-safe whatever the key."""
    return "msg_" + hashlib.sha256(row.dedupe_key.encode()).hexdigest()[:32]


def body_of(row: Outbox) -> dict:
    """What the POST says: the event's type, when it happened, and its facts with the message."""
    from bounties.announcers.base import PermanentError
    from bounties.announcers.messages import message_for

    message = message_for(row.event, row.payload)
    if message is None:
        raise PermanentError(f"Nothing to say for event {row.event!r}.")
    page = FundPage.objects.filter(pk=row.payload.get("fund")).only("title").first()
    facts = {name: value for name, value in row.payload.items() if name != "fund"}
    return {
        "type": row.event,
        "timestamp": row.created_at.isoformat().replace("+00:00", "Z"),
        "data": {
            **facts,
            "fund": row.payload.get("fund"),
            "fund_title": page.title if page else "",
            "url": message.url,
            "text": message.text,
        },
    }


def retry_at(value: str | None, now: datetime) -> datetime:
    """Retry-After (seconds or an HTTP date) as a UTC time, within a day; a minute when absent."""
    delay = RETRY_AFTER_DEFAULT
    if value:
        value = value.strip()
        try:
            delay = timedelta(seconds=max(0, int(value)))
        except ValueError:
            try:
                delay = parsedate_to_datetime(value) - now
            except (TypeError, ValueError):
                pass
    return now + min(max(delay, timedelta(0)), RETRY_AFTER_CAP)


class WebhookSender:
    """POSTs one outbox row to its endpoint, signed; the delivery core records or retries.

    `find` returns None: a receiver cannot be asked what it got, and it need not be, because
    every attempt carries the row's one `webhook-id` and Standard Webhooks receivers
    deduplicate on it, so sending again after an unknown outcome is safe.
    """

    def __init__(self, row: Outbox):
        self.row = row

    def endpoint(self) -> WebhookEndpoint:
        from bounties.announcers.base import PermanentError

        endpoint = WebhookEndpoint.objects.filter(pk=self.row.recipient or None).first()
        if endpoint is None:
            raise PermanentError(f"Webhook endpoint {self.row.recipient} no longer exists.")
        if not endpoint.active:
            reason = f": {endpoint.disabled_reason}" if endpoint.disabled_reason else ""
            raise PermanentError(f"Webhook endpoint {endpoint.pk} is disabled{reason}")
        return endpoint

    def send(self, row: Outbox) -> str:
        from bounties.announcers.base import PermanentError, RateLimited, TransientError

        endpoint = self.endpoint()
        try:
            target = resolve_target(endpoint.url)
        except UnsafeURL as error:
            raise PermanentError(f"Not sent to {endpoint.url}: {error}") from None
        except (OSError, UnicodeError) as error:
            raise TransientError(f"{endpoint.url} does not resolve now: {error}") from None

        try:
            signer = Webhook(endpoint.secret)
        except Exception:  # binascii.Error, an empty secret: nothing a retry would change
            raise PermanentError(f"Webhook endpoint {endpoint.pk} has no valid whsec_ secret.") from None
        msg_id = webhook_id(row)
        now = timezone.now()
        data = json.dumps(body_of(row), separators=(",", ":"), ensure_ascii=False)
        headers = {
            "Host": target.host_header,
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            "webhook-id": msg_id,
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": signer.sign(msg_id, now, data),
        }
        status, response_headers, text = self.post(target, data.encode(), headers)

        if 200 <= status < 300:
            return msg_id
        if status == 410:
            reason = f"The receiver answered 410 Gone on {now:%Y-%m-%d %H:%M} UTC: it wants no more webhooks."
            WebhookEndpoint.objects.filter(pk=endpoint.pk).update(active=False, disabled_reason=reason)
            raise PermanentError(reason)
        if status == 429:
            raise RateLimited(retry_at(response_headers.get("Retry-After"), now))
        if status >= 500:
            raise TransientError(f"The receiver answered {status}: {text}")
        if 300 <= status < 400:
            raise PermanentError(f"The receiver answered {status} (redirects are not followed): {text}")
        raise PermanentError(f"The receiver refused with {status}: {text}")

    def post(self, target: Target, body: bytes, headers: dict) -> tuple[int, dict, str]:
        """One POST to the checked address, no redirects followed, no retries: (status, headers, text)."""
        from bounties.announcers.base import TransientError

        if target.scheme == "https":
            # TLS still checks the certificate against the name in the URL, not the address.
            pool = urllib3.HTTPSConnectionPool(
                target.address,
                target.port,
                timeout=TIMEOUT,
                retries=False,
                server_hostname=target.host,
                assert_hostname=target.host,
                cert_reqs="CERT_REQUIRED",
            )
        else:
            pool = urllib3.HTTPConnectionPool(target.address, target.port, timeout=TIMEOUT, retries=False)
        try:
            response = pool.urlopen(
                "POST", target.path, body=body, headers=headers, redirect=False, preload_content=False
            )
            text = response.read(500).decode("utf-8", "replace")
            response.release_conn()
        except urllib3.exceptions.HTTPError as error:
            raise TransientError(
                f"POST {target.scheme}://{target.host_header}{target.path} failed: {error}"
            ) from error
        finally:
            pool.close()
        return response.status, response.headers, text

    def find(self, row: Outbox) -> str | None:
        return None


@sender(CHANNEL)
def webhook_sender(row: Outbox) -> WebhookSender:
    return WebhookSender(row)
