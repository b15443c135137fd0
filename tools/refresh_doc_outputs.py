"""Write again the expected outputs of Markdown files from what their code prints now.

The suite (tests/test_docs.py) runs every ```python block of the README and docs/ and
compares what a block prints with the ```text block after it, to the character. When a
change alters those outputs on purpose (a simulator that draws its coins differently,
say), run this on the files the suite names, then read the diff: the prose around the
blocks may quote figures that changed too, and this does not touch prose.

    .venv/bin/python tools/refresh_doc_outputs.py docs/simulation.md [more.md ...]

A block that prints nothing, or is not followed by a ```text block, is left alone.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "examples")]

from test_docs import printed_outputs  # noqa: E402 (the suite's own runner)


def refresh(path: Path) -> int:
    """Run ``path``'s python blocks in order; rewrite the text blocks. Returns how many changed."""
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    replacements = [  # (first line, old body, new body)
        (line, expected, printed)
        for printed, (_, line, expected) in printed_outputs(path)
        if printed != expected
    ]
    for first, old, new in reversed(replacements):
        count = old.count("\n")
        assert "".join(lines[first - 1 : first - 1 + count]) == old
        lines[first - 1 : first - 1 + count] = [new]
    if replacements:
        path.write_text("".join(lines), encoding="utf-8")
    return len(replacements)


def main() -> None:
    """Refresh each file named on the command line and say how many outputs changed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", type=Path)
    args = parser.parse_args()
    os.chdir(ROOT)  # the blocks run from the project's root, as in the suite
    for path in args.files:
        changed = refresh(path.resolve())
        print(f"{path}: {changed} output block(s) written again")


if __name__ == "__main__":
    main()
