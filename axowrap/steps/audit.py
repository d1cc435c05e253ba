"""audit: the stop audit (axowrap.audit.checks) on the run's artifacts, after eval and before push.

Writes audit/audit.json and records the result (failures included) in state.json and
report.md. A failed audit does not stop the steps before push, but `axowrap push` refuses a run
whose recorded audit failed, like the eval gate, unless it is given `--allow-failed-audit`
(which the model card then records); `axowrap audit RUN` exits 1 on it.

Options (ctx.options): prompts (held-out prompts generated from, default 16), max_tokens
(default: twice the longest held-out answer, see axowrap.audit.checks.answer_limit).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from axowrap.steps.base import Step, StepContext
from axowrap.yamlio import atomic_write

VERSION = 2  # bump when the checks change: every run's audit is redone


def audit_file(ctx: StepContext) -> Path:
    return ctx.run.root / "audit" / "audit.json"


def enabled(ctx: StepContext) -> bool:
    return True


def _settings(ctx: StepContext) -> dict[str, int | None]:
    from axowrap.audit.checks import PROMPTS

    given = ctx.options.get("max_tokens")
    return {"prompts": int(ctx.options.get("prompts") or PROMPTS), "max_tokens": int(given) if given else None}


def artifacts(ctx: StepContext) -> dict[str, Any]:
    """What the checks read, so that an artifact changed by hand (or by another tool) is audited
    again: small files by content, GGUF files and the prepared rows by size and time."""
    from axowrap.hashing import file_sha256

    run = ctx.run
    small = [run.merged / n for n in ("generation_config.json", "config.json", "tokenizer_config.json")]
    small.append(run.serve / "Modelfile")
    out: dict[str, Any] = {str(p.relative_to(run.root)): file_sha256(p) for p in small if p.is_file()}
    big = sorted(run.gguf.glob("*.gguf")) if run.gguf.is_dir() else []
    prepared = Path(str(ctx.config.get("dataset_prepared_path") or ""))
    if prepared.is_dir():
        big += sorted(prepared.glob("*/dataset_info.json"))
    for path in big:
        stat = path.stat()
        out[path.name if path.suffix == ".gguf" else str(path)] = [stat.st_size, stat.st_mtime_ns]
    return out


def params(ctx: StepContext) -> dict[str, Any]:
    from axowrap.audit.checks import STOP_AFTER, K

    upstream = {n: (ctx.state.get(n) or {}).get("fingerprint") for n in ("train", "merge", "gguf")}
    return {
        "version": VERSION,
        "k": K,
        "stop_after": STOP_AFTER,
        **_settings(ctx),
        "upstream": upstream,
        "artifacts": artifacts(ctx),
    }


def outputs(ctx: StepContext) -> list[Path]:
    return [audit_file(ctx)]


def report_markdown(result: dict[str, Any]) -> str:
    lines = [
        "### Stop audit",
        "",
        f"Prompt format: {result['format']}; end-of-turn token: "
        + (", ".join(f"`{t}` ({i})" for t, i in result["end_of_turn"].items()) or "none")
        + ".",
        "",
        "| check | result |",
        "|---|---|",
    ]
    for name, check in result["checks"].items():
        if check["status"] == "skipped":
            shown = f"skipped: {check['why']}"
        elif check["status"] == "failed":
            shown = "FAILED: " + "; ".join(check["problems"])
        else:
            shown = "passed" + _detail(name, check)
        lines.append(f"| {name} | {shown.replace('|', chr(92) + '|')} |")
    if result.get("failures"):
        lines += ["", "Fixes:", ""] + [f"- {name}: {c['fix']}" for name, c in result["checks"].items() if c.get("fix")]
    return "\n".join(lines) + "\n"


def _detail(name: str, check: dict[str, Any]) -> str:
    if name == "rows":
        return f" ({check['trained_rows']} trained rows, every answer ends with a labelled end-of-turn token)"
    if name == "behaviour":
        parts = [
            f"{k} {v['stopped']}/{v['of']} stopped"
            + (" (then stopped generating)" if v.get("stopped_early") else "")
            + (f", first {check['k']} tokens = HF on {v['first_k_match']}" if "first_k_match" in v else "")
            for k, v in check.items()
            if isinstance(v, dict)
        ]
        return f" ({'; '.join(parts)}; max {check['max_tokens']} tokens)"
    return ""


def run(ctx: StepContext) -> dict[str, Any]:
    from axowrap.audit.checks import audit_run

    if ctx.dry_run:
        ctx.say("audit: would check the training rows, merged model, GGUF files, Modelfile and generation")
        return {"dry_run": True}
    settings = _settings(ctx)
    prompts = settings["prompts"] or 0
    result = audit_run(
        ctx.run, ctx.config, log=ctx.log, say=ctx.say, prompts=prompts, max_tokens=settings["max_tokens"]
    )
    result["report"] = report_markdown(result)
    path = audit_file(ctx)
    atomic_write(path, json.dumps(result, indent=2, sort_keys=True) + "\n")
    if result["failures"]:
        ctx.say(f"audit: FAILED ({len(result['failures'])} problems; push will refuse): {result['failures'][0]}")
    checks = {k: v["status"] for k, v in result["checks"].items()}
    fixes = sorted({c["fix"] for c in result["checks"].values() if c.get("fix")})
    return {
        "passed": not result["failures"],
        "file": str(path),
        "checks": checks,
        "failures": result["failures"],
        "fixes": fixes,
        "report": result["report"],
    }


# No upstream it must wait for: each check reads what the run has so far and skips the rest
# (the training rows can be audited right after `axolotl preprocess`).
STEP = Step(name="audit", needs=(), enabled=enabled, params=params, outputs=outputs, run=run)
