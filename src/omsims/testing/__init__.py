"""The testing kit: prove your own sourcing rule or adapter right before it meets orders.

Install the ``testing`` extra (Hypothesis and pytest); the core never imports this
package. The modules, each imported on its own:

- :mod:`omsims.testing.strategies`: Hypothesis strategies for every domain type, from a
  SKU to a whole network, order or scenario;
- :mod:`omsims.testing.invariants`: checks for plans, strategies, ledgers, orders and a
  whole Oms, failing with the invariant, the input and why (:class:`BrokenInvariant`);
- :mod:`omsims.testing.machine`: :class:`OmsMachine`, a state machine that drives an Oms
  with your strategy and your store and checks every invariant after each step;
- :mod:`omsims.testing.differential`: two strategies on the same generated inputs;
- :mod:`omsims.testing.network`: :class:`Network`, an inventory view written as data;
- :mod:`omsims.testing.contract` and :mod:`omsims.testing.ports`: the contract suites
  for storage adapters, payment gateways, carriers and notifiers;
- :mod:`omsims.testing.plugin`: pytest fixtures (``oms``, ``small_network``,
  ``manual_clock``), loaded in every test run once omsims is installed.

See docs/testing.md.
"""

__all__: list[str] = []
