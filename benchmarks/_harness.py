"""Shared plumbing of the benchmarks: result rows, the timing loop, the machine description."""

from __future__ import annotations

import gc
import math
import os
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["Row", "machine", "race", "render", "run_alone"]


@dataclass
class Row:
    """One reported figure, with its baseline, ratio and target where it has them."""

    bench: str
    case: str
    unit: str
    value: float
    baseline: float | None = None  # the baseline's figure, same unit
    ratio: float | None = None  # value / baseline
    target: str | None = None  # e.g. "ratio >= 0.10"
    passed: bool | None = None  # None: informational, no target
    detail: dict[str, Any] = field(default_factory=dict)  # sizes, repeats, raw seconds

    @classmethod
    def throughput(
        cls,
        bench: str,
        case: str,
        unit: str,
        value: float,
        baseline: float,
        *,
        min_value: float | None = None,
        min_ratio: float | None = None,
        detail: dict[str, Any] | None = None,
    ) -> Row:
        ratio = value / baseline
        target, passed = None, None
        if min_ratio is not None:
            target, passed = f"ratio >= {min_ratio:.2f}", ratio >= min_ratio
        if min_value is not None:
            target, passed = f">= {min_value:,.0f} {unit}", value >= min_value
        return cls(bench, case, unit, value, baseline, ratio, target, passed, detail or {})

    def ratio_row(self, case: str, min_ratio: float) -> Row:
        """This row's ratio to its baseline as a row of its own, gated at ``min_ratio``."""
        ratio = self.ratio or 0.0
        return Row(
            self.bench,
            case,
            "ratio",
            ratio,
            target=f">= {min_ratio:.2f}",
            passed=ratio >= min_ratio,
        )


# A timed case: setup() builds fresh state outside the clock, run(state) is what is timed.
Case = tuple[Callable[[], Any], Callable[[Any], object]]


def _timed(case: Case) -> tuple[float, Any]:
    setup, run = case
    state = setup()
    gc.collect()  # start every repeat from the same heap; gc stays enabled while timed
    t0 = time.perf_counter()
    run(state)
    return time.perf_counter() - t0, state


def race(
    measured: Case,
    baseline: Case,
    *,
    repeats: int,
    warmup: int = 1,
    verify: Callable[[Any, Any], None] | None = None,
) -> tuple[float, float]:
    """Best (smallest) seconds of ``measured`` and ``baseline`` over ``repeats`` runs each.

    The two alternate (baseline, measured, baseline, ...) so that noise on the machine hits
    both alike; the first ``warmup`` runs of each are discarded. ``verify(measured_state,
    baseline_state)`` runs once, after the first pair, outside the clock.
    """
    best_m = best_b = math.inf
    for i in range(warmup + repeats):
        tb, state_b = _timed(baseline)
        tm, state_m = _timed(measured)
        if i == 0 and verify is not None:
            verify(state_m, state_b)
        if i >= warmup:
            best_b, best_m = min(best_b, tb), min(best_m, tm)
        del state_b, state_m
    return best_m, best_b


def _cpu_model() -> str:
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    for line in text.splitlines():
        if line.lower().startswith("model name"):
            return line.split(":", 1)[1].strip()
    return ""


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    return {
        "processor": platform.processor(),
        "cpu_model": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "machine": platform.machine(),
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
    }


def _fmt(x: float | None) -> str:
    if x is None:
        return "-"
    if x >= 100:
        return f"{x:,.0f}"
    if x >= 1:
        return f"{x:,.1f}"
    return f"{x:.4f}"


def render(rows: list[Row]) -> str:
    """The rows as a fixed-width text table."""
    head = ("benchmark", "case", "value", "unit", "baseline", "ratio", "target", "result")
    body = [
        (
            r.bench,
            r.case,
            _fmt(r.value),
            r.unit,
            _fmt(r.baseline),
            _fmt(r.ratio),
            r.target or "-",
            "info" if r.passed is None else ("PASS" if r.passed else "FAIL"),
        )
        for r in rows
    ]
    widths = [max(len(str(c)) for c in col) for col in zip(head, *body, strict=True)]
    right = {2, 4, 5}

    def line(cells: tuple[str, ...]) -> str:
        return "  ".join(
            c.rjust(w) if i in right else c.ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    sep = "  ".join("-" * w for w in widths)
    return "\n".join([line(head), sep, *(line(b) for b in body)])


def run_alone(run: Callable[..., list[Row]]) -> list[Row]:
    """A benchmark's ``__main__``: run it (``--quick`` if on the command line), print its rows."""
    rows = run(quick="--quick" in sys.argv[1:])
    print(render(rows))
    return rows
