"""Every API error has one shape: `{"error": {"code": "...", "message": "...", "details": {...}}}`,
plus the request's `request_id` (also in the `X-Request-ID` header and on every log line of it).

`code` is stable and machine-readable (the same codes the forms use, from
`bounties.errors`); `message` is a sentence for people; `details` is optional:
field messages for a 400, or facts such as `shortfall_cents` for a refusal.
A domain refusal always means the service's transaction rolled back, so its
message ends with "No money moved."; its status, body and headers (`Retry-After`)
come from the exception itself, as on the site's forms and the webhook.

Unexpected exceptions are not turned into responses here: they reach Django's
500 handler, which logs them with a reference. Django's error handlers (fundfill/views.py)
answer under /api/ with the responses at the end of this module, in this shape too (a 404
for any unknown path, a 413 for a body over `DATA_UPLOAD_MAX_MEMORY_SIZE`, a 500 with its
reference), and with the site's HTML pages elsewhere.
"""

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.http import Http404, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import set_rollback
from wagtail import hooks

from bounties import errors as domain_errors
from bounties.errors import BountiesError

# A validation error on one of these fields answers with the field's own code.
FIELD_CODES = {
    "amount_cents": "invalid_amount",
    "card": "invalid_card",
    # Claims, votes and settlement choices (bounties/api/claims.py): the services' codes.
    "co_claimants": "shares_invalid",
    "statement": "invalid_claim",
    "url": "invalid_claim",
    "approve": "reason_required",
    "reason": "reason_required",
    "choice": "settlement_invalid",
}

CODES = [
    (exceptions.ParseError, "invalid_json"),
    (exceptions.NotAuthenticated, "not_authenticated"),
    (exceptions.AuthenticationFailed, "not_authenticated"),
    (exceptions.PermissionDenied, "permission_denied"),
    (exceptions.NotFound, "not_found"),
    (exceptions.MethodNotAllowed, "method_not_allowed"),
    (exceptions.NotAcceptable, "not_acceptable"),
    (exceptions.UnsupportedMediaType, "unsupported_media_type"),
    (exceptions.Throttled, "throttled"),
]


class IdempotencyKeyRequired(exceptions.APIException):
    """A pledge was posted without an `Idempotency-Key` header."""

    status_code = status.HTTP_400_BAD_REQUEST
    default_code = "idempotency_key_required"
    default_detail = "Send an Idempotency-Key header (for example a UUID) so a retry can never move money twice. No money moved."


class InvalidIdempotencyKey(exceptions.APIException):
    """The `Idempotency-Key` header is too long or holds characters other than printable ASCII."""

    status_code = status.HTTP_400_BAD_REQUEST
    default_code = "invalid_idempotency_key"
    default_detail = "The Idempotency-Key header is too long."


class InvalidPagination(exceptions.APIException):
    """`limit` or `offset` is not a whole number in range (bounties/api/pagination.py)."""

    status_code = status.HTTP_400_BAD_REQUEST
    default_code = "invalid_pagination"
    default_detail = "limit and offset must be whole numbers."


class InvalidCredentials(exceptions.APIException):
    """The username and password do not match an active account."""

    status_code = status.HTTP_400_BAD_REQUEST
    default_code = "invalid_credentials"
    default_detail = "The username or password is wrong."


class RequestInvalid(BountiesError):
    """A request body the serializer refused (a field missing or of the wrong type), as a refusal.

    Raised by `validated` so that a malformed claim, vote, settlement choice, cash-out or payout
    answers like the service's own refusals: the field's code (`FIELD_CODES`), a message that ends
    "No money moved.", and each field's messages in `details`.
    """

    code = "invalid_request"

    def __init__(self, message, *, code, fields):
        super().__init__(message, **fields)
        self.code = code


def validated(serializer_class, data, **kwargs) -> dict:
    """`serializer_class(data=data)`'s validated data, or RequestInvalid with the field's code."""
    serializer = serializer_class(data=data, **kwargs)
    if not serializer.is_valid():
        code, message, details = _validation_error(serializer.errors)
        raise RequestInvalid(message, code=code, fields=details)
    return serializer.validated_data


def error_body(code: str, message: str, details: dict | None = None) -> dict:
    """`bounties.errors.error_body` with the request's id, the one a user reads on an error page and
    every log line of the request carries (from the `request_id` hook, registered by monitoring)."""
    return with_request_id(domain_errors.error_body(code, message, details))


def with_request_id(body: dict) -> dict:
    for request_id in hooks.get_hooks("request_id"):
        body["error"]["request_id"] = request_id()
    return body


PAYLOAD_TOO_LARGE = (
    status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
    "payload_too_large",
    "The request body is too large. No money moved.",
)


def error_response(status_code, code, message, details=None, headers=None) -> Response:
    return Response(error_body(code, message, details), status=status_code, headers=headers)


def exception_handler(exc, context):
    if isinstance(exc, BountiesError):
        set_rollback()
        return Response(with_request_id(exc.body()), status=exc.status, headers=exc.headers)

    if isinstance(exc, RequestDataTooBig):
        set_rollback()
        return error_response(*PAYLOAD_TOO_LARGE)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    if not isinstance(exc, exceptions.APIException):
        return None  # a bug: Django's 500 handler logs it

    set_rollback()
    headers = {}
    if getattr(exc, "auth_header", None):
        headers["WWW-Authenticate"] = exc.auth_header
    if getattr(exc, "wait", None):
        headers["Retry-After"] = str(int(exc.wait))

    if isinstance(exc, exceptions.ValidationError):
        code, message, details = _validation_error(exc.detail)
        return error_response(exc.status_code, code, message, details, headers)

    code = next((code for cls, code in CODES if isinstance(exc, cls)), None)
    if code is None:
        code = exc.detail.code if isinstance(exc.detail, exceptions.ErrorDetail) else exc.default_code
    message = str(exc.detail) if isinstance(exc.detail, str) else str(exc.default_detail)
    return error_response(exc.status_code, code, message, headers=headers)


def _validation_error(detail):
    """(code, message, details) for a serializer's errors: field messages, the amount's code first."""
    if not isinstance(detail, dict):
        detail = {"non_field_errors": detail if isinstance(detail, list) else [detail]}
    fields = {name: _messages(errors) for name, errors in detail.items()}
    for name, code in FIELD_CODES.items():
        if name in fields:
            return code, fields[name][0], fields
    message = " ".join(
        messages[0] if name == "non_field_errors" else f"{name}: {messages[0]}"
        for name, messages in fields.items()
        if messages
    )
    return "invalid_request", message or "The request is not valid.", fields


def _messages(errors) -> list[str]:
    if isinstance(errors, dict):  # a nested serializer: flatten to "field: message"
        return [f"{name}: {message}" for name, sub in errors.items() for message in _messages(sub)]
    if isinstance(errors, list):
        return [message for error in errors for message in _messages(error)]
    return [str(errors)]


# --- Answers for Django's error handlers under /api/ (fundfill/views.py calls these) -------------

API_PATH_PREFIX = "/api/"


def is_api_request(request) -> bool:
    return request.path.startswith(API_PATH_PREFIX)


def _json(status_code, code, message, details=None) -> JsonResponse:
    return JsonResponse(error_body(code, message, details), status=status_code)


def bad_request_response(exception) -> JsonResponse:
    """400 (or 413) for a request Django refused before any view: a bad Host, a body too large."""
    if isinstance(exception, RequestDataTooBig):
        return _json(*PAYLOAD_TOO_LARGE)
    return _json(400, "bad_request", "The request could not be understood. No money moved.")


def permission_denied_response() -> JsonResponse:
    return _json(403, "permission_denied", str(exceptions.PermissionDenied.default_detail))


def not_found_response() -> JsonResponse:
    return _json(404, "not_found", "There is no such API endpoint. See /api/v1/schema/.")


def server_error_response(reference: str) -> JsonResponse:
    """500 with the reference the log line carries, as the site's error page shows it."""
    response = _json(
        500,
        "server_error",
        f"Something went wrong on our side (reference {reference}). No money moved as part of this "
        "request unless your wallet shows otherwise; a retry with the same Idempotency-Key is safe.",
        {"reference": reference},
    )
    response["X-Error-Reference"] = reference
    return response
