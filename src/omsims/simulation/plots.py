"""Pictures of a comparison: KPIs, stock over time, cost against splits, fill against stock.

KPIs per strategy and cost against split rate compare strategies; fill rate against the
inventory held compares replenishment policies. Needs matplotlib (``pip install
'omsims[sim]'``); it draws off screen (the Agg backend), so it works on a server. Each
function writes PNG and SVG files and returns their paths.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from omsims.simulation.compare import Comparison
    from omsims.simulation.engine import SimulationResult

__all__ = [
    "cost_against_splits",
    "fill_against_stock",
    "kpis_per_strategy",
    "plot_comparison",
    "stock_over_time",
]

_PANELS = (
    ("fill_rate", "fill rate"),
    ("shipments_per_order", "parcels per order"),
    ("cost_per_order", "shipping cost per order"),
    ("km_per_order", "km per order"),
    ("on_time_rate", "on time"),
    ("capacity_breaches", "capacity breaches"),
)


def _pyplot() -> Any:
    try:
        import matplotlib as mpl  # an optional extra
    except ImportError as exc:
        msg = "plots need matplotlib: pip install 'omsims[sim]'"
        raise ImportError(msg) from exc
    mpl.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _finish(plt: Any, fig: Any, folder: str | Path, stem: str) -> list[Path]:
    """Lay the figure out, write it as PNG and SVG into ``folder``, close it."""
    fig.tight_layout()
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / f"{stem}.png", out / f"{stem}.svg"]
    for path in paths:
        # No date in the SVG's metadata keeps the files identical run to run.
        fig.savefig(path, dpi=120, metadata={"Date": None} if path.suffix == ".svg" else None)
    plt.close(fig)
    return paths


def kpis_per_strategy(comparison: Comparison, folder: str | Path) -> list[Path]:
    """Bar charts, one panel per headline KPI, one bar per strategy."""
    plt = _pyplot()
    names = list(comparison.results)
    fig, axes = plt.subplots(2, 3, figsize=(12, 6.5))
    for ax, (kpi, title) in zip(axes.flat, _PANELS, strict=True):
        values = [getattr(r.kpis, kpi) for r in comparison.results.values()]
        ax.bar(names, [float(v) for v in values], color=_colours(len(names)))
        ax.set_title(title)
        ax.tick_params(axis="x", labelrotation=20)
    fig.suptitle(f"{comparison.scenario}: KPIs per strategy (seed {comparison.seed})")
    return _finish(plt, fig, folder, "kpis")


def stock_over_time(comparison: Comparison, folder: str | Path) -> list[Path]:
    """Units on hand at the end of each day, one line per strategy (or policy)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(9, 4.5))
    for name, result, colour in _coloured(comparison):
        ax.plot(
            result.daily.column("day"), result.daily.column("stock_units"), label=name, color=colour
        )
    ax.set_xlabel("day")
    ax.set_ylabel("units on hand")
    ax.set_title(f"{comparison.scenario}: stock over time")
    ax.legend()
    return _finish(plt, fig, folder, "stock")


def cost_against_splits(comparison: Comparison, folder: str | Path) -> list[Path]:
    """Shipping cost per order against split rate: one point per strategy."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 5))
    for name, result, colour in _coloured(comparison):
        ax.scatter(result.kpis.split_rate, result.kpis.cost_per_order, s=80, color=colour)
        ax.annotate(
            name,
            (result.kpis.split_rate, result.kpis.cost_per_order),
            textcoords="offset points",
            xytext=(6, 6),
        )
    ax.set_xlabel("split rate (orders in more than one parcel)")
    ax.set_ylabel(f"shipping cost per order ({_currency(comparison)})")
    ax.set_title(f"{comparison.scenario}: cost against split rate")
    return _finish(plt, fig, folder, "cost-vs-splits")


def fill_against_stock(
    comparison: Comparison, folder: str | Path, *, held: str = "units"
) -> list[Path]:
    """Fill rate against the inventory held: one labelled point per policy (or strategy).

    ``held`` is ``"units"`` (average units on hand) or ``"value"`` (their average value
    at the SKUs' prices). Up and to the left is better: more filled for less held.
    """
    if held not in ("units", "value"):
        msg = f"held is 'units' or 'value', not {held!r}"
        raise ValueError(msg)
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 5))
    for name, result, colour in _coloured(comparison):
        kpis = result.kpis
        x = kpis.average_stock_units if held == "units" else kpis.average_stock_value
        ax.scatter(x, kpis.fill_rate, s=80, color=colour)
        ax.annotate(name, (x, kpis.fill_rate), textcoords="offset points", xytext=(6, 6))
    ax.margins(x=0.2, y=0.15)  # room for the labels of the points at the edges
    ax.set_xlabel(
        "average units on hand"
        if held == "units"
        else f"average value on hand ({_currency(comparison)})"
    )
    ax.set_ylabel("fill rate (units filled / units demanded)")
    ax.set_title(f"{comparison.scenario}: fill rate against inventory held")
    return _finish(plt, fig, folder, "fill-vs-stock")


def plot_comparison(comparison: Comparison, folder: str | Path) -> list[Path]:
    """Every picture for the comparison, as PNG and SVG, into ``folder``; their paths.

    Strategies: KPIs per strategy, stock over time, cost against split rate.
    Replenishment policies: fill rate against inventory held, and stock over time.
    """
    if comparison.by == "policy":
        return [*fill_against_stock(comparison, folder), *stock_over_time(comparison, folder)]
    return [
        *kpis_per_strategy(comparison, folder),
        *stock_over_time(comparison, folder),
        *cost_against_splits(comparison, folder),
    ]


def _currency(comparison: Comparison) -> str:
    first = next(iter(comparison.results.values()), None)
    return first.kpis.currency if first is not None else ""


def _coloured(comparison: Comparison) -> list[tuple[str, SimulationResult, str]]:
    """Each strategy's name and result, with its colour (the same in every picture)."""
    colours = _colours(len(comparison.results))
    return [(n, r, c) for (n, r), c in zip(comparison.results.items(), colours, strict=True)]


def _colours(n: int) -> list[str]:
    palette = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2"]
    return [palette[i % len(palette)] for i in range(n)]
