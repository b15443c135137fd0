"""Replenishment: demand history, forecasts, stock policies, proposals and promises.

Pure like the domain (standard library, attrs and sortedcontainers only): every function
here takes plain data (histories as lists of daily units, positions as their balances)
and returns plain data. The Oms facade feeds them from its ledger
(:meth:`omsims.Oms.plan_replenishment`, :meth:`omsims.Oms.available_to_promise`,
:meth:`omsims.Oms.stock_report`); a simulation or a notebook can feed them directly.

- :mod:`~omsims.replenishment.history`: units shipped per position per day, stock-out
  days flagged;
- :mod:`~omsims.replenishment.forecast`: moving average, exponential smoothing, Holt,
  Croston, TSB;
- :mod:`~omsims.replenishment.selection`: demand classes and a backtest to choose;
- :mod:`~omsims.replenishment.policies`: (s, Q), (s, S) and (R, S) with safety stock
  from a service level, lead times and supplier order rules;
- :mod:`~omsims.replenishment.proposals`: purchase and transfer proposals with reasons;
- :mod:`~omsims.replenishment.atp`: available to promise by date;
- :mod:`~omsims.replenishment.valuation`: stock valued by FIFO or moving average, and
  the cost of what was shipped;
- :mod:`~omsims.replenishment.reports`: stock value, cover, slow-moving and excess
  stock, stock-out risk and turnover.
"""

from __future__ import annotations

from omsims.replenishment.atp import AvailableToPromise
from omsims.replenishment.forecast import (
    TSB,
    Croston,
    Forecast,
    Forecaster,
    Holt,
    MovingAverage,
    SimpleExponentialSmoothing,
)
from omsims.replenishment.history import DemandHistory, demand_history
from omsims.replenishment.policies import (
    LeadTime,
    Levels,
    MinMax,
    PeriodicReview,
    Policy,
    ReorderPoint,
    Supplier,
    safety_stock,
    service_factor,
)
from omsims.replenishment.proposals import (
    Proposal,
    ProposalKind,
    ReplenishmentPlan,
    Rule,
    Rules,
    Skipped,
    inventory_position,
    plan_replenishment,
)
from omsims.replenishment.reports import (
    PositionReport,
    ReviewLimits,
    StockReport,
    Summary,
    stock_report,
)
from omsims.replenishment.selection import (
    BacktestReport,
    BacktestRow,
    DemandClass,
    backtest,
    classify,
)
from omsims.replenishment.valuation import (
    CostLayer,
    CostMethod,
    PositionValue,
    ShippedCost,
    StockValue,
    Valuation,
    ValueFlows,
    value_stock,
)

__all__ = [
    "TSB",
    "AvailableToPromise",
    "BacktestReport",
    "BacktestRow",
    "CostLayer",
    "CostMethod",
    "Croston",
    "DemandClass",
    "DemandHistory",
    "Forecast",
    "Forecaster",
    "Holt",
    "LeadTime",
    "Levels",
    "MinMax",
    "MovingAverage",
    "PeriodicReview",
    "Policy",
    "PositionReport",
    "PositionValue",
    "Proposal",
    "ProposalKind",
    "ReorderPoint",
    "ReplenishmentPlan",
    "ReviewLimits",
    "Rule",
    "Rules",
    "ShippedCost",
    "SimpleExponentialSmoothing",
    "Skipped",
    "StockReport",
    "StockValue",
    "Summary",
    "Supplier",
    "Valuation",
    "ValueFlows",
    "backtest",
    "classify",
    "demand_history",
    "inventory_position",
    "plan_replenishment",
    "safety_stock",
    "service_factor",
    "stock_report",
    "value_stock",
]
