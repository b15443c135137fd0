import itertools
import os
import urllib.parse

import pytest
from hypothesis import HealthCheck, settings

# The contract suite ships inside the package: rewrite its asserts to show the values.
pytest.register_assert_rewrite("omsims.testing")

# CI is deterministic: derandomized, bounded, no example database.
settings.register_profile(
    "ci",
    derandomize=True,
    max_examples=60,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
    print_blob=True,
)
settings.register_profile("dev", max_examples=100, deadline=None)
# Before a release, or after touching an exact search: HYPOTHESIS_PROFILE=thorough pytest
settings.register_profile("thorough", max_examples=2_000, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))


@pytest.fixture(scope="session")
def postgres_url():
    """A throwaway PostgreSQL cluster for this test run (started only if a test asks)."""
    from pg_cluster import throwaway_postgres

    with throwaway_postgres() as url:
        yield url


_DATABASES = itertools.count(1)


@pytest.fixture
def pg_database(postgres_url, monkeypatch):
    """A fresh, empty database on the throwaway cluster for one test; its URL.

    Every connection a PostgresStore opens is closed afterwards (tests drop stores freely).
    """
    import psycopg

    from omsims.adapters.postgres import PostgresStore

    # The connections the stores open, not the stores: a test may check that a dropped
    # store is freed, and its connection is closed here all the same.
    opened = []
    real_connect = PostgresStore._connect

    def connect(self):
        connection = real_connect(self)
        opened.append(connection)
        return connection

    monkeypatch.setattr(PostgresStore, "_connect", connect)
    name = f"omsims_test_{os.getpid()}_{next(_DATABASES)}"
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    yield urllib.parse.urlsplit(postgres_url)._replace(path=f"/{name}").geturl()
    for connection in opened:
        connection.close()
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
