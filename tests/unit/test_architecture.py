"""The layering and the public API are checked, not hoped for."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import omsims

SRC = Path(omsims.__file__).parent

# The pure core may import only these (plus itself): no I/O, no clock, no randomness.
PURE_ALLOWED = {
    "__future__",
    "abc",
    "attrs",
    "bisect",
    "collections",
    "copy",
    "dataclasses",
    "datetime",
    "decimal",
    "enum",
    "functools",
    "heapq",
    "itertools",
    "math",
    "operator",
    "omsims",
    "re",
    "sortedcontainers",
    "statistics",
    "types",
    "typing",
}


def imported_roots(path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module.split(".")[0]


@pytest.mark.parametrize(
    "path",
    sorted((SRC / "domain").glob("*.py"))
    + sorted((SRC / "sourcing").glob("*.py"))
    + sorted((SRC / "replenishment").glob("*.py")),
    ids=lambda p: f"{p.parent.name}/{p.name}",
)
def test_the_core_imports_only_pure_modules(path):
    assert set(imported_roots(path)) <= PURE_ALLOWED


def test_importing_omsims_has_no_side_effects():
    code = (
        "import sys, threading; before = set(sys.modules); import omsims; "
        "heavy = {'sqlite3', 'psycopg', 'hypothesis', 'pytest', 'matplotlib', 'socket'} "
        "& set(sys.modules); "
        "assert not heavy, heavy; assert threading.active_count() == 1"
    )
    subprocess.run([sys.executable, "-c", code], check=True)  # noqa: S603 (our own code)


def public_names(module):
    # "@py_builtins" and "@pytest_ar": pytest rewrites the asserts of a package that
    # ships a pytest plugin (ours: omsims.testing.plugin), and leaves these behind.
    return {n for n in vars(module) if not n.startswith(("_", "@"))}


@pytest.mark.parametrize(
    "module_name",
    [
        "omsims",
        "omsims.errors",
        "omsims.sourcing",
        "omsims.sourcing.rules",
        "omsims.sourcing.composed",
        "omsims.sourcing.splits",
        "omsims.sourcing.fallback",
        "omsims.sourcing.carriers",
        "omsims.sourcing.cost",
        "omsims.sourcing.delivery",
        "omsims.sourcing.priority",
        "omsims.adapters.carriers",
        "omsims.adapters.codec",
        "omsims.adapters.sqlite",
        "omsims.adapters.postgres",
        "omsims.cli",
        "omsims.testing",
        "omsims.testing.contract",
        "omsims.domain.values",
        "omsims.domain.ledger",
        "omsims.domain.stock",
        "omsims.domain.orders",
        "omsims.domain.fulfilment",
        "omsims.domain.locations",
        "omsims.domain.supply",
        "omsims.domain.events",
        "omsims.ports",
        "omsims.service",
        "omsims.service._core",
        "omsims.service._stock",
        "omsims.service._orders",
        "omsims.service._fulfilment",
        "omsims.service._queries",
        "omsims.oms",
        "omsims.adapters.memory",
        "omsims.adapters.clock",
        "omsims.adapters.notifiers",
        "omsims.replenishment.valuation",
    ],
)
def test_every_public_module_declares_all_and_documents_it(module_name):
    module = __import__(module_name, fromlist=["__all__"])
    assert module.__doc__, f"{module_name} has no docstring"
    exported = set(module.__all__)
    assert exported <= set(vars(module)), exported - set(vars(module))
    for name in exported:
        obj = getattr(module, name)
        if callable(obj) and getattr(obj, "__module__", "").startswith("omsims"):
            assert obj.__doc__, f"{module_name}.{name} has no docstring"


def test_every_public_method_of_the_facade_has_a_docstring():
    import inspect

    methods = [
        (name, member)
        for name, member in inspect.getmembers(omsims.OmsService)
        if not name.startswith("_") and callable(member)
    ]
    assert len(methods) > 40  # the commands and queries, inherited from the service parts
    assert [name for name, member in methods if not member.__doc__] == []


def test_the_top_level_all_lists_every_public_name():
    declared = set(omsims.__all__)
    module_like = {"annotations"}
    assert public_names(omsims) - declared - module_like <= {
        "adapters",
        "domain",
        "errors",
        "oms",
        "ports",
        "service",
        "sourcing",
        "testing",
        "cli",
        "simulation",
        "replenishment",
    }
