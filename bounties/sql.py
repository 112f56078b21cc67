"""Hot statements, written in SQL and prepared on the server, and model instances built from their rows.

Django's cursors bind parameters on the client, so PostgreSQL parses and plans every statement
anew; for the few statements every pledge runs, planning cost more than running them. Each
module that owns such a statement keeps its SQL beside the ORM code it replaces
(`bounties.services.ledger`, `bounties.api.authentication`); this module only runs them.
"""

import psycopg
from django.db import connection


def prepared_row(sql: str, params: dict):
    """Run `sql` as a server-side prepared statement (PostgreSQL) and return its first row.

    The pledge's two statements cost PostgreSQL more to plan than to run (EXPLAIN ANALYZE: about
    0.3 ms each to plan, 0.1 and 0.9 ms to run). This psycopg cursor binds on the server and keeps the plan on
    the connection (persistent, CONN_MAX_AGE), in the caller's transaction, with Django's error
    classes. Behind a pooler in transaction mode, use one that supports protocol-level prepared
    statements (PgBouncer 1.21 or newer). These statements do not appear in Django's query log.
    """
    connection.ensure_connection()
    with connection.wrap_database_errors:
        with psycopg.Cursor(connection.connection) as cursor:
            cursor.execute(sql, params, prepare=True)
            return cursor.fetchone()


def loaded(model, **values):
    """An instance as the ORM loads one with only these fields (Django's `from_db`; the rest deferred)."""
    names = [field.attname for field in model._meta.concrete_fields if field.attname in values]
    return model.from_db(connection.alias, names, [values[name] for name in names])
