"""Databases as older schema versions wrote them, for the migration tests of each store.

Schema version 2 added unit costs: two columns of ``entries``, and a ``unit_cost`` field in
the JSON of supply lines and of the ledger entries that idempotency results hold. A
version-1 database is made here by writing one with today's code (without any cost) and
taking back what version 2 added: the columns, and those fields from every stored JSON
body. What is left is what version 1 wrote.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from omsims import Location, Money, Oms
from omsims.adapters.codec import dumps

T0 = datetime(2026, 3, 2, 9, tzinfo=UTC)


def without_unit_costs(text: str) -> str:
    """A stored JSON body as schema version 1 wrote it: no ``unit_cost`` anywhere in it."""

    def strip(value: Any) -> Any:
        if isinstance(value, list):
            return [strip(v) for v in value]
        if not isinstance(value, dict):
            return value
        if value.get("$") == "nt" and value.get("t") == "LedgerEntry":
            assert value["v"][-1] is None, "version 1 had no costs to lose"
            return {**value, "v": [strip(v) for v in value["v"][:-1]]}
        if value.get("$") == "attrs" and value.get("t") == "SupplyLine":
            assert value["v"].pop("unit_cost", None) is None  # absent: None is its default
        return {k: strip(v) for k, v in value.items()}

    return dumps(strip(json.loads(text)))


def write_version_1_history(oms: Oms) -> str:
    """Commands a shop ran at schema version 1 (no costs); the supply line's id."""
    oms.add_location(Location("a"))
    oms.receive("MUG", "a", 5, idempotency_key="grn-1")
    line = oms.expect("MUG", "a", 4, eta=T0 + timedelta(days=2), idempotency_key="po-1")
    oms.receive_expected(line.id, 1)
    return line.id


def check_version_1_history(oms: Oms, supply_id: str) -> None:
    """What :func:`write_version_1_history` wrote reads back, and new costs can be written."""
    assert oms.stock("MUG", "a").on_hand == 6
    assert [e.unit_cost for e in oms.entries()] == [None, None, None]
    assert oms.supply_line(supply_id).unit_cost is None
    # Retries of version-1 commands still match the payloads stored then.
    assert oms.receive("MUG", "a", 5, idempotency_key="grn-1").entries[0].unit_cost is None
    assert oms.expect("MUG", "a", 4, eta=T0 + timedelta(days=2), idempotency_key="po-1").id == (
        supply_id
    )
    assert oms.stock("MUG", "a").on_hand == 6
    oms.receive_expected(supply_id, 3)
    oms.receive("MUG", "a", 2, unit_cost=Money("1.25", "EUR"))
    assert [e.unit_cost for e in oms.entries()][-2:] == [None, Money("1.25", "EUR")]
    oms.check_invariants()
