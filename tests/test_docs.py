"""The README, the docs and the examples are executed, so they cannot drift from the code.

Every ```python block of a Markdown file runs, in order, in one namespace per file (a
block may use what an earlier block of the same file defined); when a block prints and
the next block is a ```text block, that block is its expected output, to the
character. Every script in examples/
runs as ``__main__`` with examples/ on ``sys.path``. A failure points at the Markdown line.
"""

from __future__ import annotations

import contextlib
import inspect
import io
import re
import runpy
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import omsims
from omsims import Oms, errors

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
MARKDOWN = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
SCRIPTS = sorted(EXAMPLES.glob("*.py"))

_BLOCK = re.compile(r"^```(python|text)[ \t]*\n(.*?)^```[ \t]*$", re.DOTALL | re.MULTILINE)


def fenced_blocks(path: Path) -> list[tuple[str, int, str]]:
    """(kind, first line number, body) of every ```python and ```text block, in order."""
    text = path.read_text(encoding="utf-8")
    return [
        (m.group(1), text.count("\n", 0, m.start(2)) + 1, m.group(2)) for m in _BLOCK.finditer(text)
    ]


def python_blocks(path: Path) -> list[tuple[int, str]]:
    """(first line number, code) of every ```python block in a Markdown file."""
    return [(line, body) for kind, line, body in fenced_blocks(path) if kind == "python"]


def _name(path: Path) -> str:
    return str(path.relative_to(ROOT))


def test_the_block_finder_finds_blocks():
    assert python_blocks(ROOT / "README.md"), "the README's quickstart must be a python block"


def printed_outputs(path: Path) -> Iterator[tuple[str, tuple[str, int, str]]]:
    """Run ``path``'s python blocks in order, in one namespace; yield what each prints.

    Yields (the printed text, the ```text block after it) for every block that prints
    and is followed by a text block: its expected output. tools/refresh_doc_outputs.py
    uses this too.
    """
    namespace: dict[str, object] = {"__name__": f"docs:{path.stem}"}
    blocks = fenced_blocks(path)
    for i, (kind, line, code) in enumerate(blocks):
        if kind != "python":
            continue
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            # Pad with blank lines so a traceback names the line in the Markdown file.
            exec(compile("\n" * (line - 1) + code, str(path), "exec"), namespace)  # noqa: S102
        after = blocks[i + 1] if i + 1 < len(blocks) else None
        if printed.getvalue() and after is not None and after[0] == "text":
            yield printed.getvalue(), after


@pytest.mark.parametrize("path", MARKDOWN, ids=_name)
def test_markdown_python_blocks_run(path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.syspath_prepend(str(EXAMPLES))
    for printed, (_, line, expected) in printed_outputs(path):
        assert printed == expected, f"{path.name}:{line}: output differs"


@pytest.mark.parametrize("path", SCRIPTS, ids=_name)
def test_example_runs(path: Path, monkeypatch: pytest.MonkeyPatch, capsys):
    monkeypatch.syspath_prepend(str(EXAMPLES))
    runpy.run_path(str(path), run_name="__main__")
    out = capsys.readouterr().out
    assert out, f"{path.name} printed nothing"
    if path.name == "demo.py":
        header = next(ln for ln in out.splitlines() if ln.startswith("order "))
        assert " ".join(header.split()) == "order channel ship to line sku qty ships from km how"
        assert "unfilled" in out
        assert "backorder" in out
        assert out.rstrip().endswith(
            "All invariants hold: the ledger replays to its balances and agrees with every order."
        )
    if path.name == "compare_strategies.py":
        rows = {
            " ".join(cells[:-4]): [float(c) for c in cells[-4:]]
            for cells in (ln.split() for ln in out.splitlines())
            if len(cells) >= 5 and cells[-1].replace(".", "").isdigit()
        }
        assert len(rows) == 5
        # On these orders each specialist wins its own measure.
        assert min(rows, key=lambda name: rows[name][1]) == "lowest cost"
        assert min(rows[name][3] for name in rows) == rows["earliest delivery"][3]
        assert min(rows[name][0] for name in rows) == rows["minimize splits"][0]


def test_example_doctests(monkeypatch: pytest.MonkeyPatch):
    import doctest

    monkeypatch.syspath_prepend(str(EXAMPLES))
    monkeypatch.delitem(sys.modules, "network", raising=False)
    import network  # type: ignore[import-not-found]

    result = doctest.testmod(network, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted
    assert not result.failed


def test_reference_lists_every_public_name_and_oms_method():
    reference = (ROOT / "docs" / "reference.md").read_text(encoding="utf-8")
    missing = [name for name in omsims.__all__ if f"`{name}`" not in reference]
    for name, member in inspect.getmembers(Oms):
        if name.startswith("_"):
            continue
        mention = f"`{name}`" if isinstance(member, property) else f"`{name}("
        if mention not in reference:
            missing.append(f"Oms.{name}")
    missing += [f"errors.{name}" for name in errors.__all__ if f"`{name}`" not in reference]
    assert not missing, f"docs/reference.md does not mention: {', '.join(missing)}"


def test_concepts_sign_table_matches_the_code():
    from omsims import EntryKind

    text = (ROOT / "docs" / "concepts.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| ([a-z_]+) \|((?: *[-+0-9]* *\|){6})$", text, re.MULTILINE)
    table = {
        kind: tuple(int(cell) if cell.strip() else 0 for cell in cells.split("|")[:6])
        for kind, cells in rows
    }
    assert table == {kind.value: kind.signs for kind in EntryKind}


def test_concepts_draws_the_error_tree_of_the_errors_module():
    text = (ROOT / "docs" / "concepts.md").read_text(encoding="utf-8")
    drawn = text[text.index("```text\nOmsimsError\n") + 8 :].split("```", 1)[0]
    doc = errors.__doc__ or ""
    tree = doc[doc.index("    OmsimsError\n") :].rstrip()
    assert drawn.rstrip() == "\n".join(line[4:] for line in tree.splitlines())
