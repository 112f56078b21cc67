import os
import secrets

import psycopg
import pytest

from tests.integration.test_cross_process_publish import _with_path


@pytest.fixture(scope="module")
def new_database():
    """A new, empty database on the harness's PostgreSQL, for a module's subprocesses (dropped after it)."""
    server = os.environ["FUNDFILL_TEST_DATABASE_URL"]
    name = f"fundfill_monitoring_{secrets.token_hex(4)}"
    with psycopg.connect(_with_path(server, "/postgres"), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield _with_path(server, f"/{name}")
    finally:
        with psycopg.connect(_with_path(server, "/postgres"), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
