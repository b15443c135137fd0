"""Replenishment: demand history, forecasts, stock policies, proposals and promises.

Pure like the domain (standard library, attrs and sortedcontainers only): every function
here takes plain data (histories as lists of daily units, positions as their balances)
and returns plain data. The Oms facade feeds them from the ledger; a simulation or a
notebook can feed them directly.
"""

from __future__ import annotations

__all__: list[str] = []
