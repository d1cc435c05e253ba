"""The docs cannot go stale: every command block in README.md and docs/*.md is run here and its
shown output compared, or it is marked `<!-- not run: REASON -->` (on the line before the fence)
with the reason. The repository never refers to files outside itself.

A ```console block is a sequence of `$ command` lines, each followed by the output it shows
(stdout and stderr together); a line `...` stands for any number of lines. The commands of one
block run in order in one temporary folder that holds a copy of examples/, with this venv's
`axowrap` first on PATH. A ```bash block's lines are commands whose output is not shown: they
must exit 0.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
FENCE = re.compile(r"^```(\w*)\s*$")
NOT_RUN = re.compile(r"^<!-- not run: (.+?) -->$")


@dataclass(frozen=True)
class Block:
    file: Path
    line: int  # 1-based line of the opening fence
    kind: str  # console | bash
    lines: tuple[str, ...]
    not_run: str | None

    @property
    def id(self) -> str:
        return f"{self.file.relative_to(REPO)}:{self.line}"


def blocks() -> list[Block]:
    found: list[Block] = []
    for path in DOCS:
        text = path.read_text(encoding="utf-8").splitlines()
        i = 0
        while i < len(text):
            fence = FENCE.match(text[i])
            if fence is None:
                i += 1
                continue
            end = next(j for j in range(i + 1, len(text)) if text[j].startswith("```"))
            kind = fence.group(1)
            if kind in ("console", "bash", "sh", "shell"):
                mark = NOT_RUN.match(text[i - 1]) if i else None
                found.append(Block(path, i + 1, kind, tuple(text[i + 1 : end]), mark.group(1) if mark else None))
            i = end + 1
    return found


def steps(block: Block) -> list[tuple[str, list[str]]]:
    """[(command, expected output lines)] of a console block; bash lines expect nothing shown."""
    if block.kind != "console":
        return [(line, []) for line in block.lines if line.strip() and not line.lstrip().startswith("#")]
    out: list[tuple[str, list[str]]] = []
    for line in block.lines:
        if line.startswith("$ "):
            out.append((line[2:], []))
        else:
            assert out, f"{block.id}: output before the first `$ ` command"
            out[-1][1].append(line)
    return out


def matches(expected: list[str], actual: list[str]) -> bool:
    """`expected` equals `actual`, where a `...` line matches any number of lines."""
    if not expected:
        return not actual
    if expected[0] == "...":
        return any(matches(expected[1:], actual[k:]) for k in range(len(actual) + 1))
    return bool(actual) and expected[0] == actual[0] and matches(expected[1:], actual[1:])


RUNNABLE = [b for b in blocks() if b.not_run is None]


def test_every_block_runs_or_says_why_not() -> None:
    assert RUNNABLE, "no runnable command block at all"
    for block in blocks():
        assert block.not_run is None or len(block.not_run.strip()) >= 10, f"{block.id}: give a real reason"


@pytest.mark.parametrize("block", RUNNABLE, ids=[b.id for b in RUNNABLE])
def test_block_output_is_what_the_docs_show(block: Block, tmp_path: Path) -> None:
    shutil.copytree(REPO / "examples", tmp_path / "examples")
    bindir = str(Path(sys.executable).parent)
    env = {**os.environ, "PATH": f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}", "NO_COLOR": "1", "COLUMNS": "200"}
    for command, expected in steps(block):
        done = subprocess.run(
            ["bash", "-c", command],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=300,
        )
        actual = done.stdout.splitlines()
        if block.kind != "console":
            assert done.returncode == 0, f"{block.id}: `{command}` exited {done.returncode}:\n{done.stdout}"
            continue
        assert matches(expected, actual), (
            f"{block.id}: `{command}` printed:\n" + "\n".join(actual) + "\n--- the docs show:\n" + "\n".join(expected)
        )


def test_the_repository_never_refers_to_files_outside_itself() -> None:
    outside = re.compile("|".join([r"\.\./" + "shared", "/work/" + "shared", r"\.\./\.\./"]))
    hits = []
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split("\0")
    for name in filter(None, listed):  # the repository's files: never ignored build outputs (.venv*, runs/)
        path = REPO / name
        if not path.is_file():
            continue
        if (
            path.suffix not in (".py", ".md", ".yaml", ".yml", ".j2", ".sh", ".toml", ".json", ".txt")
            and path.name != "Makefile"
        ):
            continue
        for n, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
            if outside.search(line):
                hits.append(f"{path.relative_to(REPO)}:{n}: {line.strip()}")
    assert not hits, "\n".join(hits)
