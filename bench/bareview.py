"""The bench's baselines: a bare Django app on the same gunicorn, machine and run as the site.

    gunicorn bench.bareview:application --workers 2 --no-control-socket --bind 127.0.0.1:PORT

- `GET /ok`: returns "ok". No middleware, no database: what Django itself costs per request.
- `POST /pledge` (needs BENCH_BARE_DATABASE_URL): a pledge reduced to its SQL, on PostgreSQL, in
  one transaction: INSERT the pledge row (unique key; a replayed key answers the first row),
  UPDATE one hot fund row, and a conditional UPDATE of the wallet
  (`balance >= amount`, else roll back with 402). Body `{"user": i, "amount_cents": n}`,
  header `Idempotency-Key`. No auth, ORM, serializers or ledger rows: the floor under the
  real pledge path.

`setup()` and `verify()` create and check its tables (plain psycopg, no Django).
"""

import json
import os

from django.db import connection, transaction
from django.http import HttpResponse, JsonResponse
from django.urls import path

SCHEMA = """
DROP TABLE IF EXISTS bare_pledge, bare_wallet, bare_fund;
CREATE TABLE bare_wallet (id integer PRIMARY KEY, balance bigint NOT NULL CHECK (balance >= 0));
CREATE TABLE bare_fund (id integer PRIMARY KEY, pledged bigint NOT NULL DEFAULT 0);
CREATE TABLE bare_pledge (
    id bigserial PRIMARY KEY,
    key text NOT NULL UNIQUE,
    wallet_id integer NOT NULL REFERENCES bare_wallet,
    amount bigint NOT NULL CHECK (amount > 0)
);
"""


def setup(database_url: str, *, users: int, balance_cents: int):
    import psycopg

    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(SCHEMA)
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO bare_wallet (id, balance) VALUES (%s, %s)",
                [(i, balance_cents) for i in range(1, users + 1)],
            )
        conn.execute("INSERT INTO bare_fund (id) VALUES (1)")


def verify(database_url: str, *, users: int, balance_cents: int) -> dict:
    """Nothing lost or doubled: wallets lost exactly what the pledge rows and the fund hold."""
    import psycopg

    with psycopg.connect(database_url) as conn:
        rows, pledged_rows = conn.execute(
            "SELECT count(*), coalesce(sum(amount), 0) FROM bare_pledge"
        ).fetchone()
        fund = conn.execute("SELECT pledged FROM bare_fund WHERE id = 1").fetchone()[0]
        left = conn.execute("SELECT coalesce(sum(balance), 0) FROM bare_wallet").fetchone()[0]
    rows, pledged_rows, fund, left = int(rows), int(pledged_rows), int(fund), int(left)
    debited = users * balance_cents - left
    return {
        "rows": rows,
        "ok": pledged_rows == fund == debited,
        "pledged_rows": pledged_rows,
        "fund": fund,
        "debited": debited,
    }


_app = None


def _django_app():
    import django
    from django.conf import settings

    databases = {}
    if os.environ.get("BENCH_BARE_DATABASE_URL"):
        import dj_database_url

        databases["default"] = dj_database_url.parse(os.environ["BENCH_BARE_DATABASE_URL"], conn_max_age=600)
    settings.configure(
        DEBUG=False,
        SECRET_KEY=os.environ.get("SECRET_KEY") or "bench-bare-view",
        ALLOWED_HOSTS=["127.0.0.1", "localhost"],
        ROOT_URLCONF=__name__,
        MIDDLEWARE=[],
        INSTALLED_APPS=[],
        DATABASES=databases,
        USE_TZ=True,
    )
    django.setup()
    from django.core.wsgi import get_wsgi_application

    return get_wsgi_application()


def ok(request):
    return HttpResponse(b"ok", content_type="text/plain")


def pledge(request):
    if request.method != "POST":
        return JsonResponse({"error": "POST only"}, status=405)
    key = request.headers.get("Idempotency-Key", "")
    body = json.loads(request.body)
    wallet, amount = int(body["user"]), int(body["amount_cents"])
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute(
            "INSERT INTO bare_pledge (key, wallet_id, amount) VALUES (%s, %s, %s) "
            "ON CONFLICT (key) DO NOTHING RETURNING id",
            [key, wallet, amount],
        )
        row = cur.fetchone()
        if row is None:  # a replay: answer the first request's row, move nothing
            cur.execute("SELECT id FROM bare_pledge WHERE key = %s", [key])
            return JsonResponse({"id": cur.fetchone()[0], "replayed": True}, status=201)
        cur.execute("UPDATE bare_fund SET pledged = pledged + %s WHERE id = 1", [amount])
        cur.execute(
            "UPDATE bare_wallet SET balance = balance - %s WHERE id = %s AND balance >= %s",
            [amount, wallet, amount],
        )
        if cur.rowcount != 1:
            transaction.set_rollback(True)
            return JsonResponse({"error": "insufficient_funds"}, status=402)
    return JsonResponse({"id": row[0], "amount_cents": amount}, status=201)


urlpatterns = [path("ok", ok), path("pledge", pledge)]


def application(environ, start_response):
    """The WSGI entry point; configures Django on first use, so importing this module is cheap."""
    global _app
    if _app is None:
        _app = _django_app()
    return _app(environ, start_response)
