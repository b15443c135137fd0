"""Tools for testing code built on omsims: the storage contract suite (more to come).

Needs the ``test`` extra (pytest); the core never imports this package.
"""

__all__: list[str] = []
