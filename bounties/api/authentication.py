"""API token authentication in one statement prepared on the server.

DRF's `TokenAuthentication` builds `Token.objects.select_related("user").get(key=...)` on every
API request, and compiling that query was about a sixth of a pledge's time in the web process
(bench/pledge_load.py --profile, "DRF token authentication"). This is the same lookup with the
same answers (the same refusals; the user and the token), read by a statement PostgreSQL plans
once per connection (`bounties.sql`). Nothing is cached: a deleted token or a deactivated user
is refused at the very next request. On SQLite it is DRF's own lookup.
"""

from functools import cache

from django.contrib.auth import get_user_model
from django.db import connection
from django.utils.translation import gettext_lazy as _
from rest_framework import authentication, exceptions
from rest_framework.authtoken.models import Token

from bounties.sql import loaded, prepared_row


@cache
def _lookup():
    """The statement and the user fields it returns, from the models' own tables and columns."""
    user_model = get_user_model()
    fields = list(user_model._meta.concrete_fields)
    columns = ", ".join(f'u."{field.column}"' for field in fields)
    sql = (
        f'SELECT t."created", {columns} FROM "{Token._meta.db_table}" t '
        f'JOIN "{user_model._meta.db_table}" u ON u."{user_model._meta.pk.column}" = t."user_id" '
        f'WHERE t."key" = %(key)s'
    )
    return sql, [field.attname for field in fields]


class TokenAuthentication(authentication.TokenAuthentication):
    """`Authorization: Token <key>`, as DRF's, looked up by one prepared statement."""

    def authenticate_credentials(self, key):
        if connection.vendor != "postgresql":
            return super().authenticate_credentials(key)
        sql, names = _lookup()
        row = prepared_row(sql, {"key": key})
        if row is None:
            raise exceptions.AuthenticationFailed(_("Invalid token."))
        user = loaded(get_user_model(), **dict(zip(names, row[1:], strict=True)))
        if not user.is_active:
            raise exceptions.AuthenticationFailed(_("User inactive or deleted."))
        token = loaded(Token, key=key, user_id=user.pk, created=row[0])
        token.user = user
        return user, token
