"""The ``omsims`` command line (extra ``omsims[cli]``): storage commands for now.

    omsims db migrate sqlite:///path/to/shop.db   # create or upgrade the schema
    omsims db version sqlite:///path/to/shop.db   # the schema version of a database

Built on `click <https://click.palletsprojects.com>`_. The simulation commands of the
simulation issue will join it.
"""

from __future__ import annotations

import sqlite3

import click

from omsims.adapters.sqlite import SCHEMA_VERSION, migrate

__all__ = ["main"]


def _sqlite_path(url: str) -> str:
    if not url.startswith("sqlite:///"):
        scheme = url.split(":", 1)[0]
        msg = f"no storage for {scheme!r} URLs yet (supported: sqlite:///path)"
        raise click.BadParameter(msg, param_hint="URL")
    return url.removeprefix("sqlite:///")


@click.group()
def main() -> None:
    """omsims: order and inventory management."""


@main.group()
def db() -> None:
    """Manage a database's schema."""


@db.command("migrate")
@click.argument("url")
def migrate_command(url: str) -> None:
    """Create or upgrade the schema of the database at URL (sqlite:///path)."""
    connection = sqlite3.connect(_sqlite_path(url), isolation_level=None)
    try:
        before = migrate(connection)
    finally:
        connection.close()
    if before == SCHEMA_VERSION:
        click.echo(f"schema already at version {SCHEMA_VERSION}")
    else:
        click.echo(f"schema migrated from version {before} to {SCHEMA_VERSION}")


@db.command("version")
@click.argument("url")
def version_command(url: str) -> None:
    """Print the schema version of the database at URL, and this omsims's."""
    connection = sqlite3.connect(_sqlite_path(url), isolation_level=None)
    try:
        found = connection.execute("PRAGMA user_version").fetchone()[0]
    finally:
        connection.close()
    click.echo(f"database: {found}; this omsims: {SCHEMA_VERSION}")
