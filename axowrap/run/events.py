"""What a run tells its user while it works: one event per call, shown as a plain line for
people or written as one JSON object per line (`--json`, for CI and scripts).

Every JSON line has `event` (start, skipped, done, dry-run, info, progress, metrics, plan,
summary, finished; `error` when the command fails, printed by cli/envelope.py) and
`step_name` (null for the run as a whole); other fields depend on the event. docs/pipeline.md
lists them. Nothing else is printed on stdout with --json.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any


class Events:
    def __init__(
        self,
        echo: Callable[[str], None] = print,
        *,
        json_lines: bool = False,
        tty: bool = False,
        quiet: bool = False,
        verbose: bool = False,
        color: bool | None = None,
    ) -> None:
        self.echo = echo
        self.json_lines = json_lines
        self.quiet = quiet and not json_lines  # --quiet: people get no events (errors and results only)
        self.tty = tty and not self.quiet  # a terminal: progress may be drawn as a bar
        self.verbose = verbose  # --verbose: every line a child prints (no noise filter)
        self.color = color  # --color/--no-color/NO_COLOR for a progress bar (None: the terminal decides)

    def emit(
        self, step: str | None, event: str, detail: str = "", /, *, text: str | None = None, **fields: Any
    ) -> None:
        """One event; `text` is how a person reads it (default: `==> step: event (detail)`)."""
        if self.quiet:
            return
        if self.json_lines:
            record = {"step_name": step, "event": event, "detail": detail}
            record.update((k, v) for k, v in fields.items() if k not in record)
            self.echo(json.dumps(record, default=str))
        elif text is not None:
            self.echo(text)
        else:
            self.echo(f"==> {step}: {event}" + (f" ({detail})" if detail else ""))

    def info(self, step: str | None, line: str, /, **fields: Any) -> None:
        """A line of progress a step reports (`info` event)."""
        self.emit(step, "info", line, text=line, **fields)

    def output(self, line: str) -> None:
        """A line of a child's output: shown to people, kept out of the JSON stream (it is in the log)."""
        if not self.json_lines and not self.quiet:
            self.echo(line)
