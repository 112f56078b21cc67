"""API test helpers: a client signed in by token, and the API's error shape."""

from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient


def client_for(user=None) -> APIClient:
    """An API client, sending `user`'s token when given (anonymous otherwise)."""
    client = APIClient()
    if user is not None:
        token, _ = Token.objects.get_or_create(user=user)
        client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


def assert_error(response, status, code):
    """The response is the API's JSON error with this status and code, and says something to people."""
    assert response.status_code == status, response.content[:500]
    assert response["Content-Type"] == "application/json"
    error = response.json()["error"]
    assert error["code"] == code
    assert error["message"]
    # The request's own id (monitoring): the one in its X-Request-ID header; the rest is what is compared.
    if "request_id" in error:
        assert error.pop("request_id") == response["X-Request-ID"]
    return error
