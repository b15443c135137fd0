"""Commit stamps: unique per commit, and per process even when a process forks."""

from __future__ import annotations

import os

import pytest

from omsims.adapters import _stored
from omsims.adapters._stored import new_stamp


def test_every_stamp_of_a_process_is_new() -> None:
    stamps = [new_stamp() for _ in range(10_000)]
    assert len(set(stamps)) == len(stamps)


def test_a_forked_process_draws_its_own_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    parent = [new_stamp() for _ in range(3)]
    # A fork copies the counter: the child must not repeat the parent's stamps.
    child_pid = os.getpid() + 1
    monkeypatch.setattr(_stored.os, "getpid", lambda: child_pid)
    child = [new_stamp() for _ in range(3)]
    assert not set(parent) & set(child)
    assert child[0][:12] != parent[0][:12]
