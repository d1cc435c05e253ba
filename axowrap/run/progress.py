"""Training progress from the trainer's own output: step/total, loss, learning rate, tokens/s, ETA.

The child writes tqdm bars (records ended by `\\r`) and HF Trainer log dicts
(`{'loss': '6.3', 'learning_rate': '0.0002', 'tokens/train_per_sec_per_gpu': '3107', ...}`).
`ProgressParser.feed` turns one record into events; a sink shows them: a rich progress bar on
a terminal, plain lines otherwise, or one JSON object per line (`--json`).
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from typing import Any

from axowrap.noise import NoiseFilter
from axowrap.run.events import Events

# The trainer's bar has no label: "` 33%|███▎      | 2/6 [00:01<00:02,  1.70it/s]`".
TQDM = re.compile(r"^\s*\d+%\|[^|]*\|\s*(\d+)/(\d+) \[([\d:]+)<([\d:?]+)")
# The same bar anywhere in a record (tqdm.write can put a bar and a log dict on one line);
# the unit (it/s, s/it) tells training steps from datasets' "examples/s" bars.
TRAIN_BAR = re.compile(r"\d+%\|[^|]*\|\s*(\d+)/(\d+) \[([\d:]+)<([\d:?]+),\s*[\d.?]+\s*(?:it/s|s/it)\]")
RECORD_SPLIT = re.compile(r"[\r\n]")
KEYS = {
    "loss": "loss",
    "eval_loss": "eval_loss",
    "learning_rate": "lr",
    "tokens/train_per_sec_per_gpu": "tokens_per_s",
    "epoch": "epoch",
    "grad_norm": "grad_norm",
    "train_runtime": "train_runtime",
    "train_loss": "train_loss",
    "tokens/total": "tokens_total",  # token slots seen so far, padding included
    "tokens/trainable": "tokens_trainable",  # tokens with a label (what the loss is computed on)
    "memory/max_allocated (GiB)": "gpu_max_allocated_gib",  # torch's peak on the GPU so far (0 on CPU)
    "memory/device_reserved (GiB)": "gpu_reserved_gib",  # what the caching allocator holds
    "reward": "reward",  # GRPO: the weighted reward of the step's completions (mean)
    "reward_std": "reward_std",
    "rewards/margins": "reward_margin",  # DPO/IPO/SimPO/KTO: chosen minus rejected implicit reward
    "rewards/accuracies": "reward_accuracy",  # the share of pairs where chosen wins
}
PER_REWARD = re.compile(r"^rewards/(.+)/mean$")  # GRPO: each reward function's mean -> reward/<name>


def seconds(clock: str) -> float | None:
    """`01:02` / `1:02:03` -> seconds; `?` -> None."""
    try:
        parts = [int(p) for p in clock.split(":")]
    except ValueError:
        return None
    total = 0
    for p in parts:
        total = total * 60 + p
    return float(total)


def _number(value: Any) -> Any:
    try:
        return float(value)
    except (TypeError, ValueError):
        return value


def parse_log_dict(record: str) -> dict[str, Any] | None:
    """The trainer's `{'loss': ...}` dict in a record, with numbers as numbers."""
    start = record.find("{'")
    if start < 0 or not record.rstrip().endswith("}"):
        return None
    try:
        data = ast.literal_eval(record[start : record.rstrip().rfind("}") + 1])
    except (ValueError, SyntaxError):
        return None
    return {k: _number(v) for k, v in data.items()} if isinstance(data, dict) else None


@dataclass
class ProgressParser:
    step: int = 0
    total: int | None = None
    eta_s: float | None = None
    last: dict[str, Any] = field(default_factory=dict)  # newest metrics (loss, lr, tokens_per_s ...)
    # tqdm throttles its redraws, so on a fast machine the bar can lag the log dicts: each
    # per-step log dict (it has `loss`) advances the step by at least `logging_steps`.
    logging_steps: int = 1
    logged_step: int = 0

    def __post_init__(self) -> None:
        self.total_known = self.total is not None  # from the config's max_steps

    def feed(self, record: str) -> list[dict[str, Any]]:
        """Events for one output record (a line, or one tqdm refresh)."""
        events: list[dict[str, Any]] = []
        bars = [
            m.groups()
            for m in TRAIN_BAR.finditer(record)
            # a bar with a label ("Tokenizing Prompts: 50%|...") is data preparation, not steps;
            # once the total is known (max_steps), a bar of another length is not the trainer's
            if not record[: m.start()].rstrip().endswith(":")
            and not (self.total_known and int(m.group(2)) != self.total)
        ]
        if bars:
            step, total = int(bars[-1][0]), int(bars[-1][1])
            eta = seconds(bars[-1][3])
            if (step, total) != (self.step, self.total):
                self.step, self.total, self.eta_s = step, total, eta
                events.append({"event": "progress", "step": step, "total": total, "eta_s": eta})
        data = parse_log_dict(record)
        if data:
            metrics = {KEYS[k]: v for k, v in data.items() if k in KEYS}
            metrics.update({f"reward/{m.group(1)}": v for k, v in data.items() if (m := PER_REWARD.match(k))})
            if metrics:
                self.last.update(metrics)
                kind = "summary" if "train_runtime" in metrics else "metrics"
                if kind == "metrics" and "loss" in metrics:
                    step = max(self.step, self.logged_step + self.logging_steps)
                    self.step = self.logged_step = min(step, self.total) if self.total else step
                events.append({"event": kind, "step": self.step, "total": self.total, "eta_s": self.eta_s, **metrics})
        return events


def describe(ev: dict[str, Any]) -> str:
    """One plain line for an event."""
    if ev["event"] == "summary":
        return f"train done: {ev.get('train_runtime', 0):.1f} s, mean loss {ev.get('train_loss', float('nan')):.4f}"
    parts = [f"step {ev['step']}/{ev['total'] or '?'}"]
    if "loss" in ev:
        parts.append(f"loss {ev['loss']:.4f}")
    if "eval_loss" in ev:
        parts.append(f"eval_loss {ev['eval_loss']:.4f}")
    if "lr" in ev:
        parts.append(f"lr {ev['lr']:.3g}")
    if isinstance(ev.get("reward"), float):
        per = [
            f"{k.split('/', 1)[1]} {v:.3g}" for k, v in ev.items() if k.startswith("reward/") and isinstance(v, float)
        ]
        parts.append(f"reward {ev['reward']:.3g}" + (f" ({', '.join(per)})" if per else ""))
    if "tokens_per_s" in ev:
        parts.append(f"{ev['tokens_per_s']:.0f} tok/s")
    if ev.get("eta_s") is not None:
        parts.append(f"eta {int(ev['eta_s']) // 60}:{int(ev['eta_s']) % 60:02d}")
    return "  ".join(parts)


class Sink:
    """Where a child's output goes: parsed into events, shown as plain lines or JSON."""

    def __init__(
        self,
        events: Events,
        *,
        step: str = "train",
        logging_steps: int = 1,
        start_step: int = 0,
        total: int | None = None,
    ) -> None:
        self.events = events
        self.step = step
        self.parser = ProgressParser(step=start_step, total=total, logging_steps=logging_steps, logged_step=start_step)
        self.noise = None if events.verbose else NoiseFilter()  # known-harmless warnings stay in the log only

    def record(self, text: str) -> None:
        for ev in self.parser.feed(text):
            self.event(ev)
        shown = self.noise.keep(text) if self.noise is not None else True
        if shown and text.strip() and not TQDM.match(text) and not parse_log_dict(text):
            self.line(text)

    def event(self, ev: dict[str, Any]) -> None:
        fields = {k: v for k, v in ev.items() if k != "event"}
        if self.events.json_lines or ev["event"] != "progress":
            self.events.emit(self.step, ev["event"], text=describe(ev), **fields)

    def line(self, text: str) -> None:
        self.events.output(text)

    def close(self) -> None:
        pass


class RichSink(Sink):
    """A progress bar on a terminal; the child's other lines scroll above it."""

    def __init__(self, events: Events, *, step: str = "train", **kw: Any) -> None:
        super().__init__(events, step=step, **kw)
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        console = Console(no_color=events.color is False, color_system=None if events.color is False else "auto")
        self.progress = Progress(
            TextColumn(f"[bold]{step}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[info]}"),
            TimeRemainingColumn(),
            console=console,
        )
        self.task = self.progress.add_task(step, total=None, info="starting")
        self.progress.start()

    def event(self, ev: dict[str, Any]) -> None:
        info = describe(ev).split("  ", 1)[1] if ev["event"] == "metrics" and "  " in describe(ev) else None
        fields: dict[str, Any] = {"completed": ev.get("step") or 0, "total": ev.get("total")}
        if info:
            fields["info"] = info
        self.progress.update(self.task, **fields)
        if ev["event"] == "summary":
            self.progress.console.print(describe(ev))

    def line(self, text: str) -> None:
        self.progress.console.print(text, markup=False, highlight=False)

    def close(self) -> None:
        self.progress.stop()


def make_sink(
    events: Events,
    *,
    step: str = "train",
    logging_steps: int = 1,
    start_step: int = 0,
    total: int | None = None,
) -> Sink:
    kw: dict[str, Any] = {"logging_steps": logging_steps, "start_step": start_step, "total": total}
    if events.tty and not events.json_lines:
        return RichSink(events, step=step, **kw)
    return Sink(events, step=step, **kw)
