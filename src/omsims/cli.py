"""The ``omsims`` command line (extra ``omsims[cli]``, or ``omsims[sim]`` for plots).

    omsims simulate SCENARIO --strategy nearest --seed 7   # one strategy's KPIs
    omsims compare SCENARIO --strategies a,b,c --out DIR    # a table, CSV/JSON and plots
    omsims compare SCENARIO --policies lean,min-max@0.99    # replenishment policies
    omsims sweep SCENARIO --grid demand.orders_per_day=200,400 --strategies a,b
    omsims db migrate sqlite:///path/to/shop.db            # create or upgrade the schema
    omsims db migrate postgresql://shop@db/shop            # the same on PostgreSQL
    omsims db version URL                                  # the schema version of a database

SCENARIO is a TOML or JSON file, or the name of a bundled scenario (``example``,
``tiny``, ``replenishment``). A policy is one of the scenario's
``[replenishment.policies]``, or a kind with an optional service level
(``reorder-point``, ``min-max@0.99``, ``periodic-review@0.9``). Built on
`click <https://click.palletsprojects.com>`_; the simulation commands wrap
:mod:`omsims.simulation`.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Callable, Iterator
from concurrent.futures import Executor
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


def _scenario(name: str) -> Any:
    from omsims.simulation import ScenarioError, load_scenario

    try:
        return load_scenario(name)
    except ScenarioError as exc:
        raise click.ClickException(str(exc)) from exc


def _names(value: str) -> list[str]:
    from omsims.simulation import ScenarioError
    from omsims.simulation.strategies import known

    names = [n.strip() for n in value.split(",") if n.strip()]
    try:
        return [known(n, "--strategies") for n in names]
    except ScenarioError as exc:
        raise click.BadParameter(str(exc)) from exc


def _policies(value: str, scenario: Any, option: str) -> list[str]:
    from omsims.simulation import Replenishment, ScenarioError
    from omsims.simulation.policies import policy_preset

    names = [n.strip() for n in value.split(",") if n.strip()]
    if not names:
        raise click.BadParameter("name at least one policy", param_hint=option)
    section = scenario.replenishment or Replenishment()
    try:
        for name in names:
            policy_preset(name, section, option)
    except ScenarioError as exc:
        raise click.BadParameter(str(exc), param_hint=option) from exc
    return names


@main.command("simulate")
@click.argument("scenario")
@click.option("--strategy", default=None, help="A strategy name (default: the scenario's first).")
@click.option(
    "--policy", default=None, help="A replenishment policy (default: the scenario's, if any)."
)
@click.option("--seed", type=int, default=None, help="Overrides the scenario's seed.")
@click.option("--out", type=click.Path(file_okay=False), default=None, help="Write CSV/JSON here.")
def simulate_command(
    scenario: str, strategy: str | None, policy: str | None, seed: int | None, out: str | None
) -> None:
    """Run SCENARIO with one strategy and print its KPIs."""
    from omsims.simulation import Comparison, simulate

    loaded = _scenario(scenario)
    chosen = None if strategy is None else _names(strategy)[0]
    replenish = None if policy is None else _policies(policy, loaded, "--policy")[0]
    result = simulate(loaded, chosen, seed=seed, progress=True, policy=replenish)
    comparison = Comparison(loaded.name, result.seed, {result.strategy: result})
    click.echo(comparison.summary.render())
    if result.policy is not None:  # what replenishment held and ordered
        held = Comparison(loaded.name, result.seed, {result.policy: result}, "policy")
        click.echo()
        click.echo(held.summary.render())
    if out is not None:
        for path in comparison.write(out):
            click.echo(f"wrote {path}")


@main.command("compare")
@click.argument("scenario")
@click.option("--strategies", default=None, help="Comma-separated names (default: the scenario's).")
@click.option(
    "--policies",
    default=None,
    help="Comma-separated replenishment policies to compare instead, under one strategy.",
)
@click.option("--seed", type=int, default=None, help="Overrides the scenario's seed.")
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=None,
    help="Runs side by side, each in its own process (default: one per core; 1: one "
    "after another in this process).",
)
@click.option("--out", type=click.Path(file_okay=False), default=None, help="Write CSV/JSON here.")
@click.option("--plots/--no-plots", default=True, help="With --out: draw PNG and SVG plots.")
def compare_command(
    scenario: str,
    strategies: str | None,
    policies: str | None,
    seed: int | None,
    workers: int | None,
    out: str | None,
    plots: bool,
) -> None:
    """Run SCENARIO once per strategy (or policy) on the same demand; print the comparison.

    With --policies, each policy runs with the one strategy --strategies names (the
    scenario's first by default). The results are the same however many workers ran them.
    """
    from omsims.simulation import compare, compare_policies

    loaded = _scenario(scenario)
    names = None if strategies is None else _names(strategies)
    if policies is not None and names is not None and len(names) > 1:
        raise click.BadParameter(
            "with --policies, name one strategy (the policies run under it)",
            param_hint="--strategies",
        )
    chosen = None if policies is None else _policies(policies, loaded, "--policies")
    runs = len(chosen if chosen is not None else names or loaded.strategies)
    with _pool(workers, runs) as pool:
        if chosen is None:
            comparison = compare(loaded, names, seed=seed, progress=True, executor=pool)
        else:
            comparison = compare_policies(
                loaded,
                chosen,
                strategy=names[0] if names else None,
                seed=seed,
                progress=True,
                executor=pool,
            )
    click.echo(comparison.summary.render())
    if out is None:
        return
    written = comparison.write(out)
    if plots:
        try:
            from omsims.simulation.plots import plot_comparison

            written += plot_comparison(comparison, out)
        except ImportError as exc:
            click.echo(f"no plots: {exc}", err=True)
    for path in written:
        click.echo(f"wrote {path}")


@contextlib.contextmanager
def _pool(workers: int | None, runs: int) -> Iterator[Executor | None]:
    """A process pool of ``workers`` (default: one per core), none for one worker or run."""
    size = min(workers or os.cpu_count() or 1, runs)
    if size <= 1:
        yield None
        return
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(max_workers=size) as pool:
        yield pool


@main.command("sweep")
@click.argument("scenario")
@click.option(
    "--grid",
    "grid",
    multiple=True,
    required=True,
    help="FIELD=V1,V2,... (a dotted scenario field); repeat for more fields.",
)
@click.option("--strategies", default=None, help="Comma-separated names (default: the scenario's).")
@click.option("--seeds", default=None, help="Comma-separated seeds (default: the scenario's).")
@click.option("--workers", type=int, default=None, help="Processes (default: one per core).")
@click.option(
    "--out", type=click.Path(dir_okay=False), default=None, help="Write the table as CSV."
)
def sweep_command(
    scenario: str,
    grid: tuple[str, ...],
    strategies: str | None,
    seeds: str | None,
    workers: int | None,
    out: str | None,
) -> None:
    """Run SCENARIO over every combination of the grid, per strategy and seed."""
    from concurrent.futures import ProcessPoolExecutor

    from omsims.simulation import ScenarioError, sweep

    loaded = _scenario(scenario)
    values: dict[str, list[object]] = {}
    for item in grid:
        field, sep, raw = item.partition("=")
        if not sep or not raw:
            raise click.BadParameter(f"{item!r} is not FIELD=V1,V2", param_hint="--grid")
        values[field.strip()] = [_number(v.strip()) for v in raw.split(",")]
    names = None if strategies is None else _names(strategies)
    try:
        seed_list = None if seeds is None else [int(s) for s in seeds.split(",")]
    except ValueError as exc:
        raise click.BadParameter("seeds are whole numbers", param_hint="--seeds") from exc
    try:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            result = sweep(
                loaded, values, strategies=names, seeds=seed_list, executor=pool, progress=True
            )
    except ScenarioError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(result.table.render())
    if out is not None:
        result.table.to_csv(out)
        click.echo(f"wrote {out}")


def _number(text: str) -> object:
    """A grid value: a whole number, a number, else the text itself."""
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            continue
    return text


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
