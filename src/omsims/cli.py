"""The ``omsims`` command line (extra ``omsims[cli]``): storage commands for now.

    omsims db migrate sqlite:///path/to/shop.db        # create or upgrade the schema
    omsims db migrate postgresql://shop@db/shop        # the same on PostgreSQL
    omsims db version URL                              # the schema version of a database

Built on `click <https://click.palletsprojects.com>`_. The simulation commands of the
simulation issue will join it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Any

import click

__all__ = ["main"]


def _database(url: str) -> tuple[Callable[[], int], Callable[[], int], int]:
    """(migrate, read the version, this omsims's version) for the database at ``url``."""
    if url.startswith("sqlite:///"):
        from omsims.adapters import sqlite

        path = url.removeprefix("sqlite:///")

        def on_sqlite(action: Callable[[sqlite3.Connection], int]) -> Callable[[], int]:
            def run() -> int:
                connection = sqlite3.connect(path, isolation_level=None)
                try:
                    return action(connection)
                finally:
                    connection.close()

            return run

        def sqlite_version(connection: sqlite3.Connection) -> int:
            return int(connection.execute("PRAGMA user_version").fetchone()[0])

        return on_sqlite(sqlite.migrate), on_sqlite(sqlite_version), sqlite.SCHEMA_VERSION
    if url.startswith(("postgresql://", "postgres://")):
        try:
            from omsims.adapters import postgres
        except ImportError as exc:
            msg = "PostgreSQL needs the postgres extra: pip install 'omsims[cli,postgres]'"
            raise click.ClickException(msg) from exc
        import psycopg

        def on_postgres(action: Callable[[Any], int]) -> Callable[[], int]:
            def run() -> int:
                try:
                    with psycopg.connect(url, autocommit=True) as connection:
                        return action(connection)
                except psycopg.OperationalError as exc:
                    raise click.ClickException(f"cannot connect to {url}: {exc}") from exc

            return run

        return (
            on_postgres(postgres.migrate),
            on_postgres(postgres.schema_version),
            postgres.SCHEMA_VERSION,
        )
    scheme = url.split(":", 1)[0]
    msg = f"no storage for {scheme!r} URLs (supported: sqlite:///path, postgresql://...)"
    raise click.BadParameter(msg, param_hint="URL")


@click.group()
def main() -> None:
    """omsims: order and inventory management."""


@main.group()
def db() -> None:
    """Manage a database's schema."""


@db.command("migrate")
@click.argument("url")
def migrate_command(url: str) -> None:
    """Create or upgrade the schema of the database at URL (sqlite:///path, postgresql://...)."""
    migrate, _, ours = _database(url)
    before = migrate()
    if before == ours:
        click.echo(f"schema already at version {ours}")
    else:
        click.echo(f"schema migrated from version {before} to {ours}")


@db.command("version")
@click.argument("url")
def version_command(url: str) -> None:
    """Print the schema version of the database at URL, and this omsims's."""
    _, version, ours = _database(url)
    click.echo(f"database: {version()}; this omsims: {ours}")
