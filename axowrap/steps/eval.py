"""The eval step: the held-out domain eval (+ listed lm-eval tasks), base vs fine-tuned, then the gate.

    eval/task/            the generated lm-eval task (re-runnable by hand)
    eval/<label>/<task>/  lm-eval's output per model (results_*.json, samples_*.jsonl)
    eval/results.json     {"metrics": {m: {"base", "tuned", "delta", "higher_is_better"}}, "n", ...}
    eval/judge-<label>.jsonl   raw LLM-judge replies (when eval.judge is set)

Options (ctx.options): model = base | adapter | merged | gguf (the model scored against the base;
default adapter), gguf_type (which of the run's GGUF files; default as `axowrap serve` picks),
limit (rows), max_gen_toks (default 256), batch_size, device (default: cuda when the spec's
compute target is a GPU, else cpu).

A GGUF is scored through llama.cpp: the step starts llama-cpp-python's server on a free local
port for the duration and lm-eval sends it the same text prompts (its `local-completions`
model). That scores generated answers; metrics built on log-likelihoods (perplexity, preference
margin) and the standard lm-eval tasks need token-level scores with the model's own tokenizer,
so they are scored on the Transformers models (`--model merged`) instead.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from axowrap.errors import AxowrapError, StepFailed
from axowrap.evaluation.lmeval import Model, lm_eval_argv, read_results, read_samples, standard_task_error
from axowrap.evaluation.metrics import INFORMATIONAL, lower_is_better
from axowrap.steps.base import Step, StepContext
from axowrap.yamlio import atomic_write

MODELS = ("base", "adapter", "merged", "gguf")


def _eval(ctx: StepContext) -> dict[str, Any]:
    return dict(ctx.spec.get("eval") or {})


def enabled(ctx: StepContext) -> bool:
    ev = _eval(ctx)
    return bool(ev.get("holdout") or ev.get("holdout_file") or ev.get("lm_eval"))


def _holdout(ctx: StepContext) -> Path:
    return ctx.run.data / "holdout.jsonl"


def params(ctx: StepContext) -> dict[str, Any]:
    from axowrap.run.outputs import digest

    held = _holdout(ctx)
    opts = {k: ctx.options.get(k) for k in ("model", "gguf_type", "limit", "max_gen_toks")}
    sha = hashlib.sha256(held.read_bytes()).hexdigest() if held.is_file() else None
    # the model scored: train's outputs come in through `needs`; a merged or GGUF model's here
    scored = {"merged": "merge", "gguf": "gguf"}.get(str(opts["model"]))
    made_from = digest((ctx.state.get(scored) or {}).get("recorded")) if scored else None
    return {"eval": _eval(ctx), "options": opts, "holdout_sha256": sha, "scored_outputs": made_from}


def outputs(ctx: StepContext) -> list[Path]:
    return [ctx.run.eval / "results.json"]


def tuned_model(ctx: StepContext, which: str) -> Model | None:
    """The fine-tuned model lm-eval loads for `which` (adapter | merged; None for base alone)."""
    base = str(ctx.config["base_model"])
    if which == "base":
        return None
    if which == "merged":
        if not ctx.dry_run and not (ctx.run.merged / "config.json").is_file():
            raise AxowrapError(
                f"{ctx.run.merged}: no merged model to evaluate", hint=f"run `axowrap merge {ctx.run.root}` first"
            )
        return Model("merged", str(ctx.run.merged))
    if which == "gguf":
        from axowrap.serve.server import find_gguf

        if ctx.dry_run and not any(ctx.run.gguf.glob("*.gguf")):
            return Model("gguf", str(ctx.run.gguf))
        return Model("gguf", str(find_gguf(ctx.run, ctx.options.get("gguf_type"))))
    if which != "adapter":
        raise AxowrapError(f"eval --model {which!r}: expected one of {', '.join(MODELS)}")
    if not ctx.config.get("adapter"):  # full fine-tune: output_dir holds the whole model
        return Model("adapter", str(ctx.run.adapter))
    if not ctx.dry_run and not (ctx.run.adapter / "adapter_config.json").is_file():
        raise AxowrapError(
            f"{ctx.run.adapter}: no trained adapter to evaluate", hint=f"run `axowrap train {ctx.run.root}` first"
        )
    return Model("adapter", base, peft=str(ctx.run.adapter))


def _database(ctx: StepContext, ev: dict[str, Any]) -> str | None:
    """eval.database as an absolute path (relative ones are relative to the original spec)."""
    if not ev.get("database"):
        return None
    path = Path(ev["database"]).expanduser()
    if not path.is_absolute():
        from axowrap.run.manifest import load_manifest

        path = Path(load_manifest(ctx.run)["spec"]["path"]).parent / path
    if not path.is_file():
        raise AxowrapError(
            f"eval.database {ev['database']!r}: {path} not found", hint="point it at the SQLite file of the task"
        )
    return str(path.resolve())


LOGLIKELIHOOD_METRICS = ("perplexity", "preference_margin")


def _check_gguf_metric(ev: dict[str, Any]) -> None:
    metric = ev["metric"]
    if metric in LOGLIKELIHOOD_METRICS:
        raise AxowrapError(
            f"eval --model gguf: metric {metric!r} scores log-likelihoods, which llama.cpp's server "
            "cannot give lm-eval token by token",
            hint="score the merged model instead (`--model merged`: the GGUF files are converted from it)",
        )


def _serve(ctx: StepContext, stack: ExitStack, model: Model) -> Model:
    """Start llama.cpp's server for a GGUF model (until the stack closes); the model, pointed at it."""
    from axowrap.serve.server import running

    n_ctx = int(ctx.config.get("sequence_len") or 2048) + int(ctx.options.get("max_gen_toks") or 256)
    ctx.say(f"eval: serving {model.pretrained} with llama.cpp (n_ctx {n_ctx})")
    url = stack.enter_context(running(Path(model.pretrained), ctx.log, n_ctx=n_ctx))
    return dataclasses.replace(model, server=url)


def base_gguf(ctx: StepContext, tuned: Path) -> Path:
    """The base model as a GGUF of the tuned file's type (made once, in eval/base-gguf/), so that
    `--model gguf` scores both models the same way: llama.cpp, same weights format."""
    from axowrap.gguf.convert import convert
    from axowrap.gguf.quantize import quantize
    from axowrap.gguf_types import CONVERT_TYPES

    gguf_type = tuned.stem.rsplit("-", 1)[-1]
    out = ctx.run.eval / "base-gguf" / f"base-{gguf_type}.gguf"
    if out.is_file():
        return out
    source = Path(str(ctx.config["base_model"]))
    if not (source / "config.json").is_file():
        raise AxowrapError(
            f"eval --model gguf: the base model {str(source)!r} is not a local folder to convert",
            hint="score the fine-tune with `--model merged` instead, or point base_model at a local copy",
        )
    ctx.say(f"eval: converting the base model to {out.name} (scored like the fine-tune)")
    if gguf_type in CONVERT_TYPES:
        return convert(source, out, gguf_type, ctx.log)
    quantize(convert(source, out.with_name("base-f16.gguf"), "f16", ctx.log), out, gguf_type, ctx.log)
    return out


def device(ctx: StepContext) -> str:
    """Where lm-eval runs: `options.device`, else the GPU when the spec trains on one."""
    target = str(ctx.spec["compute"]["target"])
    return str(ctx.options.get("device") or ("cpu" if target == "cpu" else "cuda"))


def _run_lm_eval(
    ctx: StepContext, model: Model, argv: list[str], out: Path, inputs: list[Path]
) -> tuple[int, list[str]]:
    """Run one lm-eval child. The base model's results are reused when its command and the task
    files are unchanged (`eval --model merged` after `--model adapter` does not redo the base)."""
    from axowrap.errors import StepInterrupted
    from axowrap.run.child import run_child

    digest = hashlib.sha256(json.dumps(argv).encode())
    for path in inputs:
        digest.update(path.read_bytes())
    stamp = out / "axowrap-inputs.sha256"
    if (
        model.label == "base"
        and stamp.is_file()
        and stamp.read_text() == digest.hexdigest()
        and any(out.rglob("results_*.json"))
    ):
        ctx.say(f"eval: reusing the base model's results in {out}")
        return 0, []
    result = run_child(argv, env={"TOKENIZERS_PARALLELISM": "false"}, log=ctx.log)
    code, tail = result.code, result.tail
    if result.interrupted:
        raise StepInterrupted("step eval interrupted", hint="rerun the same command to redo the eval")
    if code == 0 and model.label == "base":  # a tuned model changes with every training: never reused
        atomic_write(stamp, digest.hexdigest())
    return code, tail


def _domain(
    ctx: StepContext, models: list[Model], ev: dict[str, Any]
) -> tuple[dict[str, dict[str, float]], int, dict[str, Any], dict[str, dict[str, list[float]]]]:
    """Write and run the domain task on every model: ({label: {metric: value}}, rows, judge info,
    {label: {metric: per-row values}})."""
    from axowrap.evaluation.tasks import write_task
    from axowrap.run.child import step_failed

    opts = ctx.options
    spec = {**ctx.spec, "eval": {**ev, "database": _database(ctx, ev)}}
    task = write_task(
        ctx.run.eval / "task",
        _holdout(ctx),
        spec,
        ctx.config,
        max_gen_toks=int(opts.get("max_gen_toks") or 256),
        limit=opts.get("limit"),
    )
    values: dict[str, dict[str, float]] = {}
    rows: dict[str, dict[str, list[float]]] = {}
    judged: dict[str, Any] = {}
    for model in models:
        ctx.say(f"eval: {model.label} model on {task.n} held-out rows")
        out = ctx.run.eval / model.label / task.name
        argv = lm_eval_argv(
            model,
            [task.name],
            out,
            include_path=task.folder,
            device=device(ctx),
            batch_size=int(opts.get("batch_size") or 1),
        )
        code, tail = _run_lm_eval(
            ctx,
            model,
            argv,
            out,
            [task.folder / f"{task.name}.yaml", task.folder / "docs.jsonl", task.folder / "utils.py"],
        )
        if code != 0:
            raise step_failed("eval", argv, code, ctx.log, tail)
        values[model.label] = read_results(out, task.name)
        samples = read_samples(out, task.name)
        rows[model.label] = per_row(samples, task.metrics)
        if ev.get("judge"):
            judged[model.label] = _judge(ctx, ev["judge"], model.label, samples)
            values[model.label]["judge_score"] = judged[model.label]["judge_score"]
    return values, task.n, judged, rows


def per_row(samples: list[dict[str, Any]], names: tuple[str, ...]) -> dict[str, list[float]]:
    """{metric: values in doc order} from lm-eval's logged samples (numeric values only)."""
    ordered = sorted(samples, key=lambda s: int(s.get("doc_id", 0)))
    out: dict[str, list[float]] = {}
    for name in names:
        values = [s.get(name) for s in ordered]
        if values and all(isinstance(v, (int, float)) for v in values):
            out[name] = [float(v) for v in values]  # type: ignore[arg-type]
    return out


def _judge(ctx: StepContext, settings: dict[str, Any], label: str, samples: list[dict[str, Any]]) -> dict[str, Any]:
    from axowrap.evaluation.judge import judge_samples

    rows = [
        {
            "prompt": s["doc"].get("prompt", ""),
            "reference": s["doc"].get("target", ""),
            "answer": (s.get("filtered_resps") or [""])[0],
        }
        for s in samples
    ]
    ctx.say(f"eval: judging {len(rows)} {label} answers at {settings['endpoint']}")
    return judge_samples(
        rows, settings, ctx.run.eval / f"judge-{label}.jsonl", api_key=os.environ.get("AXOWRAP_JUDGE_API_KEY")
    )


def _standard(
    ctx: StepContext, models: list[Model], tasks: list[str]
) -> tuple[dict[str, dict[str, float]], dict[str, str]]:
    """Each listed lm-eval task on each model, alone; a failing task is recorded, not fatal."""
    values: dict[str, dict[str, float]] = {m.label: {} for m in models}
    errors: dict[str, str] = {}
    for task in tasks:
        if any(m.server for m in models):
            errors[task] = (
                f"lm-eval task {task!r} not run on the GGUF (standard tasks score log-likelihoods with the "
                "model's tokenizer); run `axowrap eval RUN --model merged` for it"
            )
            ctx.say(f"eval: {errors[task]}")
            continue
        for model in models:
            if task in errors:
                break
            ctx.say(f"eval: {model.label} model on lm-eval task {task}")
            out = ctx.run.eval / model.label / task
            argv = lm_eval_argv(
                model,
                [task],
                out,
                limit=ctx.options.get("limit"),
                device=device(ctx),
                batch_size=int(ctx.options.get("batch_size") or 1),
            )
            code, tail = _run_lm_eval(ctx, model, argv, out, [])
            if code != 0:
                errors[task] = standard_task_error(task, tail)
                ctx.say(f"eval: {errors[task]} (log: {ctx.log})")
                continue
            values[model.label].update({f"{task}/{k}": v for k, v in read_results(out, task).items()})
    return values, errors


def table(
    values: dict[str, dict[str, float]],
    base: str,
    tuned: str | None,
    rows: dict[str, dict[str, list[float]]] | None = None,
) -> dict[str, dict[str, Any]]:
    """{metric: {base, tuned, delta, higher_is_better}} over the metrics either model has; for
    metrics scored 0 or 1 per row (`rows`), also 95% intervals (axowrap.evaluation.intervals):
    base_ci95 and tuned_ci95 (Wilson), delta_ci95 (paired bootstrap)."""
    from axowrap.evaluation.intervals import is_binary, paired_bootstrap, wilson

    rows = rows or {}
    tuned_values = values.get(tuned, {}) if tuned else {}
    names = sorted(set(values.get(base, {})) | set(tuned_values))
    out = {}
    for name in names:
        b, t = values.get(base, {}).get(name), tuned_values.get(name)
        entry: dict[str, Any] = {
            "base": b,
            "tuned": t,
            "delta": (t - b) if b is not None and t is not None else None,
            "higher_is_better": None if name in INFORMATIONAL else not lower_is_better(name),
        }
        per = {label: rows.get(label, {}).get(name) for label in (base, tuned) if label}
        for label, key in ((base, "base_ci95"), (tuned, "tuned_ci95")):
            got = per.get(label) if label else None
            if got and is_binary(got):
                entry[key] = list(wilson(sum(got), len(got)))
        rb, rt = per.get(base), per.get(tuned) if tuned else None
        if rb and rt and is_binary(rb) and is_binary(rt) and len(rb) == len(rt):
            entry["delta_ci95"] = list(paired_bootstrap(rb, rt))
        out[name] = entry
    return out


def report_markdown(
    metrics: dict[str, dict[str, Any]], n: int, tuned: str, errors: dict[str, str], gate: list[str]
) -> str:
    def fmt(x: float | None, sign: str = "", ci: list[float] | None = None) -> str:
        text = "n/a" if x is None else f"{x:{sign}.4f}"
        return text + (f" [{ci[0]:{sign}.2f}, {ci[1]:{sign}.2f}]" if ci else "")

    lines = [
        "## Evaluation",
        "",
        f"Held-out rows: {n}; " + (f"fine-tuned model: {tuned}." if tuned != "base" else "base model only."),
        "",
        "| metric | base | tuned | delta |",
        "|---|---:|---:|---:|",
    ]
    lines += [
        f"| {name} | {fmt(m['base'], ci=m.get('base_ci95'))} | {fmt(m['tuned'], ci=m.get('tuned_ci95'))} | "
        f"{fmt(m['delta'], '+', m.get('delta_ci95'))} |"
        for name, m in metrics.items()
    ]
    if any("delta_ci95" in m for m in metrics.values()):
        lines += ["", "[95% intervals: Wilson for each model, paired bootstrap over the rows for the delta.]"]
    if "sql_extracted" in metrics:
        lines += ["`sql_extracted` is not a score: the share of answers whose SQL was cut out of a fence or text."]
    if errors:
        lines += [""] + [f"- not run: {e}" for e in errors.values()]
    if gate:
        lines += ["", "**Gate failed:** " + "; ".join(gate)]
    return "\n".join(lines).rstrip() + "\n"


def run(ctx: StepContext) -> dict[str, Any]:
    from axowrap.evaluation.gate import check_gate

    ev = _eval(ctx)
    which = str(ctx.options.get("model") or "adapter")
    base = Model("base", str(ctx.config["base_model"]))
    tuned = tuned_model(ctx, which)
    models = [base] if tuned is None else [base, tuned]
    has_holdout = _holdout(ctx).is_file()
    if which == "gguf" and has_holdout:
        _check_gguf_metric(ev)
    if ctx.dry_run:
        ctx.say(
            f"eval: would score {', '.join(m.label for m in models)} on "
            f"{'the held-out rows' if has_holdout else 'no held-out rows'} and {ev.get('lm_eval') or 'no standard tasks'}"
        )
        return {"dry_run": True}
    values: dict[str, dict[str, float]] = {m.label: {} for m in models}
    rows: dict[str, dict[str, list[float]]] = {}
    n = 0
    judged: dict[str, Any] = {}
    with ExitStack() as stack:
        if tuned is not None and tuned.label == "gguf":
            # Both models through the same backend and file type: the base as a GGUF too.
            base = _serve(ctx, stack, dataclasses.replace(base, pretrained=str(base_gguf(ctx, Path(tuned.pretrained)))))
            tuned = _serve(ctx, stack, tuned)
            models = [base, tuned]
        if has_holdout:
            values, n, judged, rows = _domain(ctx, models, ev)
        std_values, errors = _standard(ctx, models, list(ev.get("lm_eval") or []))
    for label, extra in std_values.items():
        values[label].update(extra)
    metrics = table(values, "base", tuned.label if tuned else None, rows)
    gate = check_gate(dict(ev.get("require") or {}), metrics) if tuned else []  # no fine-tuned model: nothing to gate
    results = {
        "metrics": metrics,
        "n": n,
        "model": which,
        "task": str(ctx.run.eval / "task") if has_holdout else None,
        "lm_eval_errors": errors,
        "judge": judged,
        "require": ev.get("require") or {},
        # the gate runs on a fine-tuned model only: `eval --model base` records that none ran
        "gate": {"ran": tuned is not None, "passed": tuned is not None and not gate, "failures": gate},
    }
    atomic_write(ctx.run.eval / "results.json", json.dumps(results, indent=2, sort_keys=True) + "\n")
    report = report_markdown(metrics, n, which, errors, gate)
    atomic_write(ctx.run.eval / "report.md", report)
    if gate:
        raise StepFailed(
            f"eval gate failed: {'; '.join(gate)}",
            hint=f"the pipeline stops here (nothing is pushed); results in {ctx.run.eval / 'results.json'}",
        )
    return {
        "n": n,
        "model": which,
        "gate": results["gate"],
        "metrics": metrics,
        "lm_eval_errors": errors,
        "results": str(ctx.run.eval / "results.json"),
        "report": report,
    }


STEP = Step(
    name="eval",
    needs=("train",),
    enabled=enabled,
    params=params,
    outputs=outputs,
    run=run,
    requires=("lm-eval", "torch", "transformers", "peft"),
)
