"""The testing kit's state machine on a durable store: make_store() is all it takes."""

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, settings

from omsims.adapters.sqlite import SqliteStore
from omsims.sourcing import Nearest
from omsims.testing.machine import OmsMachine


class NearestOnSqlite(OmsMachine):
    """A user's subclass: their strategy, their store (here: a fresh SQLite file)."""

    plan_checks = {"channels": True}  # noqa: RUF012

    def make_strategy(self):
        return Nearest()

    def make_store(self):
        self.place = tempfile.TemporaryDirectory()
        return SqliteStore(Path(self.place.name) / "shop.db", synchronous="NORMAL")

    def teardown(self):
        super().teardown()
        self.place.cleanup()


NearestOnSqlite.TestCase.settings = settings(
    max_examples=30,
    stateful_step_count=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestNearestOnSqlite = NearestOnSqlite.TestCase
