"""What the raw-driver baselines write per order, shared by the SQLite and PostgreSQL ones.

Each baseline writes the rows omsims writes, of the sizes omsims's rows had in the same
run (its ``shape``), so only the driver and the SQL differ between them.
"""

from __future__ import annotations

from typing import Any

import attrs

BUSINESS_TIME = "2026-03-02T09:00:00+00:00"


@attrs.frozen
class Padding:
    """Row bodies of the sizes omsims wrote, and how many events it wrote per order."""

    order: str
    fulfilment_order: str
    event: str
    key: str
    changes: str
    events: int

    @classmethod
    def of(cls, shape: dict[str, float]) -> Padding:
        """Bodies as long as the averages measured on omsims's own rows."""
        return cls(
            "x" * int(shape["order_body"]),
            "x" * int(shape["fo_body"]),
            "x" * int(shape["event_body"]),
            "x" * int(shape["key_body"]),
            "x" * int(shape["changes_body"]),
            round(shape["events_per_order"]),
        )


def entry_rows(
    order_id: str, lines: Any, home: dict[str, str], sequence: int
) -> tuple[list[tuple[Any, ...]], int]:
    """One ``committed`` ledger entry per line, numbered after ``sequence``; and the last number."""
    rows = []
    for sku, q in lines:
        sequence += 1
        # reason, key, and no unit cost (its amount and currency), as on a commit entry
        nothing = (None, None, None, None)
        rows.append((sequence, BUSINESS_TIME, sku, home[sku], "committed", q, order_id, *nothing))
    return rows, sequence


def fulfilment_ids(order_id: str, lines: Any, home: dict[str, str]) -> list[str]:
    """One fulfilment order id per location the order takes stock from."""
    locations = dict.fromkeys(home[sku] for sku, _ in lines)
    return [f"{order_id}-F{i}" for i, _ in enumerate(locations)]
