"""A pipeline of stand-in steps for fault injection: same names, needs and kinds of output as
the real ones (safetensors, a folder of files, GGUF-named files, results.json), each written
slowly enough to be killed half-way, at a point the test chooses.

A step pauses where `<run>/faults.json` says ({"pause": "merge", "at": "start"|"inside"};
`"version": {"merge": 1}` makes a step that is done run again):
it creates `<run>/paused-<step>` and waits until `<run>/go` exists (a condition, never a
fixed sleep), so a test can SIGKILL the runner exactly there. Run it as a script to drive the
runner in a process of its own: `python tests/faulty_steps.py RUN_DIR [STEP,...]`.
"""

from __future__ import annotations

import json
import struct
import sys
import time
from pathlib import Path
from typing import Any

from axowrap.steps.base import Step, StepContext


def safetensors_bytes(n: int, fill: int = 7) -> bytes:
    header = json.dumps({"w": {"dtype": "U8", "shape": [n], "data_offsets": [0, n]}}).encode()
    return struct.pack("<Q", len(header)) + header + bytes([fill % 256]) * n


def _faults(ctx: StepContext) -> dict[str, Any]:
    path = ctx.run.root / "faults.json"
    return json.loads(path.read_text()) if path.is_file() else {}


def _pause(ctx: StepContext, at: str) -> None:
    faults = _faults(ctx)
    if faults.get("pause") != ctx.name or faults.get("at") != at:
        return
    (ctx.run.root / f"paused-{ctx.name}").write_text(str(__import__("os").getpid()))
    deadline = time.monotonic() + 120
    while not (ctx.run.root / "go").exists():  # the test kills us here, or lets us go on
        if time.monotonic() > deadline:
            raise TimeoutError("nobody said go")
        time.sleep(0.05)


def _write_slowly(ctx: StepContext, path: Path, data: bytes) -> None:
    """Half of `data`, then the `inside` pause, then the rest: a kill leaves a cut file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as fh:
        fh.write(data[: len(data) // 2])
        fh.flush()
        _pause(ctx, "inside")
        fh.write(data[len(data) // 2 :])


def _fill(ctx: StepContext) -> int:
    return int(_faults(ctx).get("fill", 7))


def _train(ctx: StepContext) -> dict[str, Any]:
    _pause(ctx, "start")
    _write_slowly(ctx, ctx.run.adapter / "adapter_model.safetensors", safetensors_bytes(4096, _fill(ctx)))
    (ctx.run.adapter / "adapter_config.json").write_text(json.dumps({"r": 8}))
    if _faults(ctx).get("truncate") == "train":  # a trainer that exits 0 with a cut file
        with (ctx.run.adapter / "adapter_model.safetensors").open("r+b") as fh:
            fh.truncate(100)
    return {"trained": True}


def _merge(ctx: StepContext) -> dict[str, Any]:
    _pause(ctx, "start")
    adapter = (ctx.run.adapter / "adapter_model.safetensors").read_bytes()
    _write_slowly(ctx, ctx.run.merged / "model.safetensors", safetensors_bytes(8192, adapter[-1] + 1))
    (ctx.run.merged / "config.json").write_text(json.dumps({"model_type": "llama"}))
    return {"merged": True}


def _gguf(ctx: StepContext) -> dict[str, Any]:
    _pause(ctx, "start")
    _write_slowly(ctx, ctx.run.gguf / "stand-in-q8_0.safetensors", safetensors_bytes(2048))
    return {"files": 1}


def _eval(ctx: StepContext) -> dict[str, Any]:
    _pause(ctx, "start")
    out = ctx.run.eval / "results.json"
    _write_slowly(ctx, out, json.dumps({"metrics": {}, "gate": {"ran": True, "passed": True}}).encode())
    return {"gate": {"ran": True, "passed": True, "failures": []}}


def _push(ctx: StepContext) -> dict[str, Any]:
    _pause(ctx, "start")
    _pause(ctx, "inside")
    (ctx.run.root / "pushed.txt").write_text("pushed\n")
    return {"pushed": True}


def _params(ctx: StepContext) -> dict[str, Any]:
    """A step's version in faults.json (default 0): raising it makes that step run again."""
    return {"name": ctx.name, "version": (_faults(ctx).get("version") or {}).get(ctx.name, 0)}


STEPS = (
    Step("train", (), lambda ctx: True, _params, lambda ctx: [ctx.run.adapter / "adapter_model.safetensors"], _train),
    Step("merge", ("train",), lambda ctx: True, _params, lambda ctx: [ctx.run.merged], _merge),
    Step(
        "gguf", ("merge",), lambda ctx: True, _params, lambda ctx: [ctx.run.gguf / "stand-in-q8_0.safetensors"], _gguf
    ),
    Step("eval", ("train",), lambda ctx: True, _params, lambda ctx: [ctx.run.eval / "results.json"], _eval),
    Step("push", ("train",), lambda ctx: True, _params, lambda ctx: [], _push),
)


def main(argv: list[str]) -> int:
    from axowrap.run.pipeline import run_steps
    from axowrap.run.rundir import RunDir

    names = argv[1].split(",") if len(argv) > 1 else None
    run_steps(RunDir(Path(argv[0])), names, steps=STEPS)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
