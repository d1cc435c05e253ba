"""`--json`: what scripts read on stdout, the same shape for every command.

A command that prints a result prints one document, `{"ok": true|false, ...its fields}`
(`print_json`). Run commands (`run`, `train`, `eval`, ...) print JSON lines instead, one event
each (axowrap.run.events). When a command fails after `--json` was asked and before it printed
its document, main.py prints the failure in the same shape: `{"ok": false, "error": {"message",
"hint"}, "problems": [...]}` for a document, an `error` event for JSON lines. So stdout always
holds valid JSON with --json, whatever happened.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import click

DOCUMENT, LINES = "document", "lines"


@dataclass
class Invocation:
    mode: str | None = None  # DOCUMENT or LINES when --json was given
    printed: bool = False  # the document is out: nothing more on stdout


STATE = Invocation()  # one per `main()` call (main resets it)


def reset() -> None:
    STATE.mode, STATE.printed = None, False


def requested(mode: str) -> None:
    STATE.mode = mode


def dumps(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, default=str, ensure_ascii=False)


def print_json(ok: bool, **fields: Any) -> None:
    """The command's one JSON document on stdout."""
    STATE.printed = True
    click.echo(dumps({"ok": ok, **fields}))


def failure_text(message: str, hint: str | None, problems: list[dict[str, Any]]) -> str | None:
    """What stdout gets when a --json command fails (None: nothing, its output is complete)."""
    if STATE.printed or STATE.mode is None:
        return None
    error = {"message": message, "hint": hint}
    if STATE.mode == LINES:
        return json.dumps({"step_name": None, "event": "error", "detail": message, "hint": hint, "problems": problems})
    return dumps({"ok": False, "error": error, "problems": problems})
