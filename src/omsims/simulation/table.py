"""A small table: named columns, rows of plain values; text, CSV and JSON out.

Results come as tables so an analyst needs no dataframe library; ``rows`` are tuples
that pandas, polars or a spreadsheet take as they are.

>>> t = Table(("strategy", "fill rate"), [("nearest", 0.9712), ("priority", 0.95)])
>>> print(t.render())
strategy  fill rate
--------  ---------
nearest      0.9712
priority     0.9500
>>> t.column("fill rate")
[0.9712, 0.95]
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs

__all__ = ["Table"]


@attrs.frozen
class Table:
    """Columns and rows; rows are tuples in column order."""

    columns: tuple[str, ...]
    rows: list[tuple[Any, ...]] = attrs.field(factory=list)

    def column(self, name: str) -> list[Any]:
        """The values of one column, top to bottom."""
        i = self.columns.index(name)
        return [row[i] for row in self.rows]

    def to_dicts(self) -> list[dict[str, Any]]:
        """One dict per row."""
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]

    def to_csv(self, path: str | Path | None = None) -> str:
        """The table as CSV text; written to ``path`` too when given."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(self.columns)
        writer.writerows([_plain(v) for v in row] for row in self.rows)
        text = out.getvalue()
        if path is not None:
            Path(path).write_text(text, encoding="utf-8")
        return text

    def to_json(self, path: str | Path | None = None) -> str:
        """The rows as a JSON list of objects; written to ``path`` too when given."""
        text = json.dumps(
            [{k: _plain(v) for k, v in row.items()} for row in self.to_dicts()], indent=1
        )
        if path is not None:
            Path(path).write_text(text + "\n", encoding="utf-8")
        return text

    def render(self, *, digits: int = 4) -> str:
        """The table as aligned text: numbers to the right, text to the left."""
        cells = [[_cell(v, digits) for v in row] for row in self.rows]
        widths = [max([len(c), *(len(r[i]) for r in cells)]) for i, c in enumerate(self.columns)]
        numeric = [
            all(isinstance(row[i], int | float) for row in self.rows) and bool(self.rows)
            for i in range(len(self.columns))
        ]

        def line(values: Sequence[str]) -> str:
            return "  ".join(
                v.rjust(w) if num else v.ljust(w)
                for v, w, num in zip(values, widths, numeric, strict=True)
            ).rstrip()

        return "\n".join(
            [line(self.columns), line(["-" * w for w in widths]), *(line(r) for r in cells)]
        )


def _cell(value: object, digits: int) -> str:
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _plain(value: object) -> object:
    """A value CSV and JSON write as they are (numbers stay numbers)."""
    if isinstance(value, int | float | str | bool) or value is None:
        return value
    return str(value)
