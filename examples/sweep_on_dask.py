"""Sweep a scenario on a Dask cluster: any concurrent.futures executor runs a sweep.

By default the cluster is a small one inside this process (what the test suite runs);
name a scheduler to use a real one, whose workers have omsims installed:
``OMSIMS_DASK_SCHEDULER=tcp://scheduler:8786 python examples/sweep_on_dask.py``.
Needs the extra: ``pip install 'omsims[dask]'``.
"""

from __future__ import annotations

import os

from distributed import Client, LocalCluster

from omsims.simulation import load_scenario, sweep


def main(scheduler: str | None = None) -> None:
    """Sweep orders per day against ship hours for two strategies, on the cluster."""
    scenario = load_scenario("tiny")
    grid = {"demand.orders_per_day": [20, 40], "operations.ship_hours": [6, 30]}
    if scheduler is None:
        cluster = LocalCluster(
            processes=False, n_workers=1, threads_per_worker=2, dashboard_address=None
        )
        client = Client(cluster)
    else:
        cluster, client = None, Client(scheduler)
    try:
        # The client's executor is a concurrent.futures.Executor: sweep submits one run
        # per combination, strategy and seed to it and gathers them back in grid order.
        strategies = ["nearest", "minimize-splits"]
        result = sweep(scenario, grid, strategies=strategies, executor=client.get_executor())
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    print(result.table.render())


if __name__ == "__main__":
    main(os.environ.get("OMSIMS_DASK_SCHEDULER"))
