"""Adapters: implementations of the ports (in-memory, clocks, notifiers)."""
