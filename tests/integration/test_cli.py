"""The omsims command: schema migration of a database named by URL."""

from __future__ import annotations

import sqlite3

import psycopg
from click.testing import CliRunner

from omsims import Location, Oms
from omsims.adapters.postgres import SCHEMA_VERSION as PG_SCHEMA_VERSION
from omsims.adapters.postgres import PostgresStore
from omsims.adapters.sqlite import SCHEMA_VERSION, SqliteStore
from omsims.cli import main


def test_migrate_creates_the_schema_then_says_it_is_current(tmp_path):
    url = f"sqlite:///{tmp_path / 'shop.db'}"
    runner = CliRunner()
    first = runner.invoke(main, ["db", "migrate", url])
    assert first.exit_code == 0, first.output
    assert first.output == f"schema migrated from version 0 to {SCHEMA_VERSION}\n"
    again = runner.invoke(main, ["db", "migrate", url])
    assert again.output == f"schema already at version {SCHEMA_VERSION}\n"
    version = runner.invoke(main, ["db", "version", url])
    assert version.output == f"database: {SCHEMA_VERSION}; this omsims: {SCHEMA_VERSION}\n"
    # The migrated file is ready for a store on a connection omsims does not own.
    conn = sqlite3.connect(tmp_path / "shop.db", isolation_level=None)
    conn.execute("BEGIN")
    oms = Oms(SqliteStore(connection=conn))
    oms.add_location(Location("a"))
    conn.execute("COMMIT")
    assert [loc.id for loc in Oms(SqliteStore(tmp_path / "shop.db")).locations()] == ["a"]


def test_an_unsupported_url_is_refused_with_a_usage_error(tmp_path):
    result = CliRunner().invoke(main, ["db", "migrate", "mysql://localhost/shop"])
    assert result.exit_code == 2
    assert "no storage for 'mysql' URLs" in result.output


def test_migrate_and_version_on_postgresql(pg_database):
    runner = CliRunner()
    assert runner.invoke(main, ["db", "version", pg_database]).output == (
        f"database: 0; this omsims: {PG_SCHEMA_VERSION}\n"
    )
    first = runner.invoke(main, ["db", "migrate", pg_database])
    assert first.exit_code == 0, first.output
    assert first.output == f"schema migrated from version 0 to {PG_SCHEMA_VERSION}\n"
    again = runner.invoke(main, ["db", "migrate", pg_database])
    assert again.output == f"schema already at version {PG_SCHEMA_VERSION}\n"
    # Ready for a store on a host's connection (which never migrates).
    with psycopg.connect(pg_database) as conn:
        oms = Oms(PostgresStore(connection=conn))
        oms.add_location(Location("a"))
        conn.commit()
    assert [loc.id for loc in Oms.postgres(pg_database).locations()] == ["a"]


def test_an_unreachable_database_is_a_clear_error():
    result = CliRunner().invoke(main, ["db", "version", "postgresql://nobody@127.0.0.1:1/none"])
    assert result.exit_code == 1
    assert "cannot connect to postgresql://nobody@127.0.0.1:1/none" in result.output
