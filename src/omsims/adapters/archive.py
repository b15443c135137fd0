"""Archives for finished orders (the :class:`~omsims.ports.OrderArchive` port).

:class:`MemoryArchive` keeps records in a dict: for tests, and for hosts that archive
to keep the live store small while the records stay at hand. :class:`JsonLinesArchive`
appends each record to a file as one line of typed JSON and keeps only an index of
where each order's line starts, so a long run's memory holds ids, not orders.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from omsims.domain.archive import ArchivedOrder
from omsims.domain.copies import deep_copy

__all__ = ["JsonLinesArchive", "MemoryArchive"]


class MemoryArchive:
    """Archived orders in memory, by order id.

    >>> archive = MemoryArchive()
    >>> archive.get("web-1") is None, len(archive)
    (True, 0)
    """

    def __init__(self) -> None:
        """An empty archive."""
        self._records: dict[str, ArchivedOrder] = {}

    def put(self, record: ArchivedOrder, /) -> None:
        """Keep a copy of ``record`` (an order already held is kept as first archived)."""
        if record.id not in self._records:
            self._records[record.id] = deep_copy(record)

    def get(self, order_id: str, /) -> ArchivedOrder | None:
        """A copy of the record of ``order_id``, or None."""
        record = self._records.get(order_id)
        return None if record is None else deep_copy(record)

    def __len__(self) -> int:
        """How many orders it holds."""
        return len(self._records)


class JsonLinesArchive:
    """Archived orders appended to a file, one JSON line each; reopening reads the index.

    Each line is ``{"id": ..., "record": ...}`` with the record in the typed JSON the
    durable stores use (``omsims.adapters.codec``, extra ``omsims[sqlite]``): readable by
    any JSON tool, and read back equal to what was put. As in the stores, fields at their
    defaults are left out of a record (read them back through the codec, or take a
    missing field as its default). Lines are flushed to the
    operating system on every put, not fsynced: a crash of the machine may lose the last
    ones, which the next :meth:`Oms.archive <omsims.Oms.archive>` of those orders puts
    again (they are still in the store until their command commits).

    >>> import tempfile, pathlib
    >>> folder = tempfile.mkdtemp()
    >>> archive = JsonLinesArchive(pathlib.Path(folder) / "orders.jsonl")
    >>> len(archive), archive.get("web-1") is None
    (0, True)
    >>> archive.close()
    """

    def __init__(self, path: str | Path) -> None:
        """Open (or create) the archive at ``path``, reading the index of what it holds."""
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = self.path.open("a+b")
        self._lock = threading.Lock()
        self._where: dict[str, tuple[int, int]] = {}  # order id -> (offset, length)
        self._index()

    def _index(self) -> None:
        import orjson  # the durable adapters' JSON; imported where used

        self._file.seek(0)
        offset = 0
        for line in self._file:
            if line.endswith(b"\n"):  # a torn last line (a crash mid-write) is ignored
                self._where[orjson.loads(line)["id"]] = (offset, len(line))
            offset += len(line)

    def put(self, record: ArchivedOrder, /) -> None:
        """Append ``record`` (an order already held is kept as first archived)."""
        from omsims.adapters.codec import dumps, encode_value

        with self._lock:
            if record.id in self._where:
                return
            body = encode_value(
                (
                    record.order,
                    record.fulfilment_orders,
                    record.shipments,
                    record.placement,
                    record.archived_at,
                )
            )
            line = (dumps({"id": record.id, "record": body}) + "\n").encode()
            self._file.seek(0, 2)
            offset = self._file.tell()
            self._file.write(line)
            self._file.flush()
            self._where[record.id] = (offset, len(line))

    def get(self, order_id: str, /) -> ArchivedOrder | None:
        """The record of ``order_id`` read back from the file, or None."""
        import orjson

        from omsims.adapters.codec import decode_value

        with self._lock:
            where = self._where.get(order_id)
            if where is None:
                return None
            offset, length = where
            self._file.seek(offset)
            line = self._file.read(length)
        fields: Any = decode_value(orjson.loads(line)["record"])
        return ArchivedOrder(*fields)

    def __len__(self) -> int:
        """How many orders it holds."""
        return len(self._where)

    def close(self) -> None:
        """Close the file."""
        self._file.close()
