"""Scenarios bundled with omsims: ``example``, ``tiny`` and ``replenishment``.

``example`` is Germany with 10 warehouses, 100 stores and 2,000 SKUs; ``tiny`` has a
few locations, for tests and first steps; ``replenishment`` is tiny's network for
three weeks, supplied by a replenishment policy alone, with named policies to compare.

>>> sorted(names())
['example', 'replenishment', 'tiny']
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

__all__ = ["names", "path"]


def names() -> list[str]:
    """The bundled scenarios' names."""
    return sorted(
        p.name.removesuffix(".toml")
        for p in resources.files(__name__).iterdir()
        if p.name.endswith(".toml")
    )


def path(name: str) -> Path:
    """The file of the bundled scenario ``name`` (``ScenarioError`` if there is none)."""
    from omsims.simulation.scenario import ScenarioError  # a cycle

    if name not in names():
        raise ScenarioError(
            f"no scenario file {name!r}, and no bundled scenario of that name "
            f"(bundled: {', '.join(names())})"
        )
    return Path(str(resources.files(__name__) / f"{name}.toml"))
