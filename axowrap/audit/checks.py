"""The stop audit of a run: does the trained model stop where training taught it to, in every
artifact it is served from? Each check passes, fails (with the fix) or is skipped (with why):

    rows        Axolotl's prepared rows: each trained answer ends with a labelled end-of-turn
                token; their prompts are the ones `chat` and the Modelfile build
    merged      merged/ generation_config.json, config.json, tokenizer_config.json
    gguf        each GGUF's eos/eot/add_bos metadata, and llama.cpp's end-of-generation tokens
    modelfile   serve/Modelfile: a stop for every end-of-turn token, the training TEMPLATE
    behaviour   N held-out prompts end by themselves (finish_reason stop) within max_tokens in
                HF and in llama.cpp; the f16/bf16/f32 GGUF's first K greedy tokens equal HF's.
                max_tokens: twice the longest held-out answer (`answer_limit`); a backend stops
                generating once STOP_AFTER answers ran to it (the check has failed by then)
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from axowrap.chat.format import PromptFormat, load_format
from axowrap.data.split import read_rows
from axowrap.run.rundir import RunDir

PROMPTS = 16  # held-out prompts the behaviour check generates from
MAX_TOKENS = 128  # the answer limit when no held-out answer says how long answers are
LIMIT_FLOOR, LIMIT_CAP = 32, 512  # bounds of the limit derived from the held-out answers
STOP_AFTER = 3  # answers run to the limit after which a backend stops generating (the check failed)
K = 8  # greedy tokens the unquantized GGUF must share with HF
FORMAT_ROWS = 8  # prepared rows whose prompt is compared with axowrap's
UNQUANTIZED = ("f32", "f16", "bf16")
CHECKS = ("rows", "merged", "gguf", "modelfile", "behaviour")
FIX = {
    "rows": "set `eot_tokens` to the template's end-of-turn token (Axolotl labels only the tokens it is given), "
    "then train again",
    "merged": "set eos_token_id in merged/generation_config.json and config.json to the end-of-turn token id "
    "(or a list holding it), or train with that EOS",
    "gguf": "convert the merged model again (`axowrap gguf RUN --force`) once its tokenizer files are right",
    "modelfile": "write it again with `axowrap gguf RUN --force` (or add the missing stop / TEMPLATE by hand)",
    "behaviour": "the model does not end its answers: check the other checks, then train longer or on rows "
    "that end with the end-of-turn token",
}


def skipped(why: str) -> dict[str, Any]:
    return {"status": "skipped", "why": why}


def judged(result: dict[str, Any], problems: list[str], name: str) -> dict[str, Any]:
    out = {**result, "status": "failed" if problems else "passed", "problems": problems}
    if problems:
        out["fix"] = FIX[name]
    return out


def messages_of(row: dict[str, Any], entry: dict[str, Any]) -> list[dict[str, str]]:
    """A raw chat row as role/content messages, the way the rendered dataset entry maps it."""
    mapping = entry.get("message_property_mappings") or {}
    role_key, content_key = mapping.get("role", "role"), mapping.get("content", "content")
    aliases = {a: role for role, names in (entry.get("roles") or {}).items() for a in names}
    raw = row.get(entry.get("field_messages", "messages")) or []
    return [
        {"role": aliases.get(str(m.get(role_key)), str(m.get(role_key))), "content": str(m.get(content_key, ""))}
        for m in raw
    ]


def prompt_of(row: dict[str, Any], fmt: PromptFormat, entry: dict[str, Any]) -> str | None:
    """The prompt training put before this row's first answer (None: no answer in the row)."""
    if fmt.kind == "alpaca":
        f = fmt.fields or {}
        return fmt.alpaca_prompt(str(row.get(f["instruction"], "")), str(row.get(f["input"]) or ""))
    messages = messages_of(row, entry)
    first = next((i for i, m in enumerate(messages) if m["role"] == "assistant"), None)
    return fmt.chat_prompt(messages[:first]) if first else None


def last_prompt_of(row: dict[str, Any], fmt: PromptFormat, entry: dict[str, Any]) -> str | None:
    """The prompt before the row's last answer (what the eval asks too)."""
    if fmt.kind == "alpaca":
        return prompt_of(row, fmt, entry)
    messages = messages_of(row, entry)
    last = max((i for i, m in enumerate(messages) if m["role"] == "assistant"), default=None)
    return fmt.chat_prompt(messages[:last]) if last else None


def answer_limit(gold_tokens: list[int]) -> int:
    """The default max_tokens: twice the longest held-out answer among the prompts audited (in
    the model's tokens, end-of-turn included), within [LIMIT_FLOOR, LIMIT_CAP]; MAX_TOKENS when
    there are none. A model that learned to stop ends near its gold answer's length; twice the
    longest leaves room for a wordier answer, and a long-answer task is not failed by a fixed
    limit shorter than its answers."""
    if not gold_tokens:
        return MAX_TOKENS
    return min(LIMIT_CAP, max(LIMIT_FLOOR, 2 * max(gold_tokens)))


def audit_run(
    run: RunDir,
    config: dict[str, Any],
    *,
    prompts: int = PROMPTS,
    max_tokens: int | None = None,
    log: Path,
    say: Callable[[str], None],
) -> dict[str, Any]:
    """Every check on the run as it is now; {"passed", "checks", "failures", "format"}."""
    from transformers import AutoTokenizer

    fmt = load_format(run, config)
    model_dir = next((d for d in (run.merged, run.adapter) if (d / "tokenizer_config.json").is_file()), None)
    tok: Any = AutoTokenizer.from_pretrained(str(model_dir) if model_dir else str(config["base_model"]))
    eot = {t: int(tok.convert_tokens_to_ids(t)) for t in fmt.end_of_turn}
    entry = dict(config["datasets"][0])
    checks: dict[str, Any] = {}
    say(f"audit: prompt format {fmt.kind}; end of turn {', '.join(eot) or 'none'}")
    checks["rows"] = _rows(config, fmt, tok, eot, entry)
    checks["merged"] = (
        skipped("a completion task has no end of turn")
        if fmt.kind == "text"
        else judged(*_merged(run, eot), "merged")
        if (run.merged / "config.json").is_file()
        else skipped("no merged model (run `axowrap merge RUN`)")
    )
    ggufs = {p.stem.rsplit("-", 1)[-1]: p for p in sorted(run.gguf.glob("*.gguf"))} if run.gguf.is_dir() else {}
    checks["modelfile"] = _modelfile(run, fmt, eot) if ggufs else skipped("no GGUF files (run `axowrap gguf RUN`)")
    behaviour = _generate(run, config, fmt, tok, eot, entry, ggufs, prompts, max_tokens, log, say)
    checks["gguf"] = _gguf(ggufs, tok, fmt, eot, behaviour) if ggufs else skipped("no GGUF files")
    checks["behaviour"] = _behaviour(behaviour, fmt, ggufs)
    failures = [f"{name}: {p}" for name in CHECKS for p in checks[name].get("problems", [])]
    return {"passed": not failures, "checks": checks, "failures": failures, "format": fmt.kind, "end_of_turn": eot}


def _rows(
    config: dict[str, Any], fmt: PromptFormat, tok: Any, eot: dict[str, int], entry: dict[str, Any]
) -> dict[str, Any]:
    from axowrap.audit.rows import check_rows, first_prompts, prepared_folder

    if fmt.kind == "text":
        return skipped("a completion task has no end of turn: every token is trained")
    if fmt.kind == "preference":
        return skipped("preference rows are tokenized by TRL inside the trainer: no prepared labels to read")
    folder = prepared_folder(config)
    if folder is None:
        return skipped(f"no prepared dataset under {config.get('dataset_prepared_path')} (run `axowrap train RUN`)")
    result = check_rows(folder, set(eot.values()), list(eot))
    problems = []
    if result["masked"]:
        problems.append(
            f"{result['masked']} of {result['trained_rows']} prepared rows have a trained answer whose end-of-turn "
            f"token {', '.join(eot)} is masked (label -100): the model never learns to stop "
            f"(rows {', '.join(map(str, result['examples']))} of {folder})"
        )
    if result["missing"]:
        problems.append(
            f"{result['missing']} of {result['trained_rows']} prepared rows have a trained answer not followed by "
            f"the end-of-turn token {', '.join(eot)}"
        )
    add_special = fmt.kind == "alpaca"
    rows = list(read_rows(Path(entry["path"])))[:2000] if Path(str(entry.get("path"))).is_file() else []
    ours = {tuple(tok(p, add_special_tokens=add_special)["input_ids"]) for r in rows if (p := prompt_of(r, fmt, entry))}
    seen = first_prompts(folder, FORMAT_ROWS)
    differ = sum(1 for p in seen if tuple(p) not in ours) if ours else 0
    result["format_rows"] = {"compared": len(seen) if ours else 0, "differ": differ}
    if differ:
        problems.append(
            f"{differ} of {len(seen)} prepared prompts are not the prompt `axowrap chat` builds from the "
            "training rows: chat and serving would not prompt the model as training did"
        )
    return judged(result, problems, "rows")


def _merged(run: RunDir, eot: dict[str, int]) -> tuple[dict[str, Any], list[str]]:
    from axowrap.audit.metadata import check_merged

    result = check_merged(run.merged, eot)
    return result, result.pop("problems")


def _modelfile(run: RunDir, fmt: PromptFormat, eot: dict[str, int]) -> dict[str, Any]:
    from axowrap.audit.modelfile import check_modelfile

    result = check_modelfile(run.serve / "Modelfile", fmt, list(eot))
    return judged(result, result.pop("problems"), "modelfile")


def _gguf(
    ggufs: dict[str, Path], tok: Any, fmt: PromptFormat, eot: dict[str, int], behaviour: dict[str, Any] | None
) -> dict[str, Any]:
    from axowrap.audit.metadata import check_gguf

    hf = {
        "eos_id": tok.eos_token_id,
        "eos": tok.eos_token,
        "eot_ids": sorted(eot.values()) or [tok.eos_token_id],
        "add_bos": bool(tok.bos_token_id is not None and tok("x")["input_ids"][:1] == [tok.bos_token_id]),
    }
    files, problems = {}, []
    for gguf_type, path in ggufs.items():
        eog = ((behaviour or {}).get("gguf") or {}).get(gguf_type, {}).get("eog") or {}
        result = check_gguf(path, hf, eog)
        problems += result.pop("problems")
        files[gguf_type] = result
    return judged({"files": files}, problems, "gguf")


def last_answer_of(row: dict[str, Any], fmt: PromptFormat, entry: dict[str, Any]) -> str | None:
    """The gold answer to `last_prompt_of` (None: the row has none)."""
    if fmt.kind == "alpaca":
        answer = row.get((fmt.fields or {}).get("output", "output"))
        return None if answer is None else str(answer)
    messages = messages_of(row, entry)
    return next((m["content"] for m in reversed(messages) if m["role"] == "assistant"), None)


def _holdout_prompts(run: RunDir, fmt: PromptFormat, entry: dict[str, Any], n: int) -> tuple[list[str], list[str], str]:
    """The first `n` held-out prompts (else training prompts), their gold answers, and which."""
    for name, path in (("held-out", run.data / "holdout.jsonl"), ("training", Path(str(entry.get("path"))))):
        if path.is_file():
            pairs = [
                (p, last_answer_of(r, fmt, entry)) for r in read_rows(path) if (p := last_prompt_of(r, fmt, entry))
            ]
            if pairs[:n]:
                return [p for p, _ in pairs[:n]], [a for _, a in pairs[:n] if a], name
    return [], [], "no"


def _generate(
    run: RunDir,
    config: dict[str, Any],
    fmt: PromptFormat,
    tok: Any,
    eot: dict[str, int],
    entry: dict[str, Any],
    ggufs: dict[str, Path],
    n: int,
    max_tokens: int | None,
    log: Path,
    say: Callable[[str], None],
) -> dict[str, Any] | None:
    """The answers: llama.cpp's in a child (axowrap.audit.generate; llama.cpp may crash on a bad
    file), then HF's here, verifying the unquantized GGUF's answers; None when there is nothing
    to generate with."""
    from axowrap.audit.generate import draft_type, hf_answers
    from axowrap.errors import StepFailed
    from axowrap.run.child import run_child

    if fmt.kind == "text":
        return None
    texts, golds, source = _holdout_prompts(run, fmt, entry, n)
    if (run.merged / "config.json").is_file():
        hf: dict[str, Any] | None = {"label": "merged", "model": str(run.merged)}
    elif (run.adapter / "adapter_config.json").is_file():
        hf = {"label": "adapter", "model": str(config["base_model"]), "adapter": str(run.adapter)}
    else:
        hf = None
    if not texts or (hf is None and not ggufs):
        return None
    prompts = [list(tok(t, add_special_tokens=fmt.kind == "alpaca")["input_ids"]) for t in texts]
    limit_from = "given"
    if max_tokens is None:
        gold = [len(tok(a, add_special_tokens=False)["input_ids"]) + 1 for a in golds]
        max_tokens = answer_limit(gold)
        limit_from = f"2 x the longest {source} answer ({max(gold)} tokens)" if gold else "default"
    job = {
        "prompts": prompts,
        "hf": hf,
        "ggufs": {t: str(p) for t, p in ggufs.items()},
        "max_tokens": max_tokens,
        "stop_after": STOP_AFTER,
        "eot": eot,
        "pad_id": tok.pad_token_id,
        "n_ctx": max(len(p) for p in prompts) + max_tokens + 8,
    }
    folder = run.root / "audit"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "generate-in.json").write_text(json.dumps(job), encoding="utf-8")
    out = folder / "generate-out.json"
    out.unlink(missing_ok=True)
    say(
        f"audit: generating {len(prompts)} {source} answers (max {max_tokens} tokens: {limit_from}) with "
        + _backends(hf, ggufs)
    )
    result: dict[str, Any] = {"gguf": {}}
    if ggufs:
        argv = [sys.executable, "-m", "axowrap.audit.generate", str(folder / "generate-in.json"), str(out)]
        done = run_child(argv, log=log, env={"TOKENIZERS_PARALLELISM": "false"}, timeout=1800)
        if done.code != 0 or not out.is_file():
            from axowrap.run.child import step_failed

            if done.interrupted:
                from axowrap.errors import StepInterrupted

                raise StepInterrupted("step audit interrupted", hint="rerun the same command")
            raise step_failed("audit", argv, "timeout after 1800 s" if done.timed_out else done.code, log, done.tail)
        result = json.loads(out.read_text(encoding="utf-8"))
        if not isinstance(result, dict):
            raise StepFailed(f"audit: {out} is not a result")
    draft = draft_type(job["ggufs"], UNQUANTIZED)
    result["hf"] = hf_answers(job, result["gguf"][draft]["results"] if draft else None) if hf else None
    result["draft"] = draft if hf else None
    result.update(source=source, max_tokens=max_tokens, max_tokens_from=limit_from, prompts=len(prompts))
    out.write_text(json.dumps(result), encoding="utf-8")
    return result


def _backends(hf: dict[str, Any] | None, ggufs: dict[str, Path]) -> str:
    names = ([f"HF ({hf['label']})"] if hf else []) + [f"llama.cpp ({t})" for t in ggufs]
    return ", ".join(names)


def _behaviour(behaviour: dict[str, Any] | None, fmt: PromptFormat, ggufs: dict[str, Path]) -> dict[str, Any]:
    if fmt.kind == "text":
        return skipped("a completion task has no end of turn: its answers need not stop")
    if behaviour is None:
        return skipped("no model or no prompts to generate with")
    problems = []
    max_tokens = behaviour["max_tokens"]
    summary: dict[str, Any] = {
        "prompts_from": behaviour["source"],
        "prompts": behaviour["prompts"],
        "max_tokens": max_tokens,
        "max_tokens_from": behaviour["max_tokens_from"],
        "k": K,
        "stop_after": STOP_AFTER,
    }
    answers: dict[str, dict[str, Any]] = {}
    if behaviour.get("hf"):
        answers[f"hf:{behaviour['hf']['label']}"] = behaviour["hf"]
        summary["hf_verified_from"] = behaviour.get("draft") and f"gguf:{behaviour['draft']}"
    for gguf_type, g in behaviour["gguf"].items():
        answers[f"gguf:{gguf_type}"] = g
    for name, answered in answers.items():
        results = answered["results"]
        stopped = sum(r["finish_reason"] == "stop" for r in results)
        summary[name] = {
            "stopped": stopped,
            "of": len(results),
            "mean_tokens": round(sum(r["tokens"] for r in results) / max(1, len(results)), 1),
            "stopped_early": bool(answered.get("stopped_early")),
            "seconds": answered.get("seconds"),
        }
        if stopped < len(results):
            early = (
                f" (generation stopped there, {len(results)} of {behaviour['prompts']} prompts asked: "
                f"{STOP_AFTER} such answers fail the check)"
                if answered.get("stopped_early")
                else ""
            )
            problems.append(
                f"{name}: {len(results) - stopped} of {len(results)} answers did not end by themselves within "
                f"{max_tokens} tokens{early}"
            )
    hf_results = {r.get("prompt", n): r for n, r in enumerate((behaviour.get("hf") or {}).get("results") or [])}
    for gguf_type, g in behaviour["gguf"].items():
        if gguf_type not in UNQUANTIZED or not hf_results:
            continue
        pairs = [
            (hf_results[r.get("prompt", n)], r) for n, r in enumerate(g["results"]) if r.get("prompt", n) in hf_results
        ]
        same = sum(a["ids"][:K] == b["ids"][:K] for a, b in pairs)
        summary[f"gguf:{gguf_type}"]["first_k_match"] = same
        if same < len(pairs):
            problems.append(
                f"gguf:{gguf_type}: the first {K} greedy tokens differ from HF on {len(pairs) - same} of "
                f"{len(pairs)} prompts"
            )
    return judged(summary, problems, "behaviour")


def recorded_audit(run: RunDir) -> dict[str, Any] | None:
    """The run's last audit (audit/audit.json; None: never audited)."""
    from axowrap.errors import AxowrapError

    path = run.root / "audit" / "audit.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, json.JSONDecodeError) as exc:
        raise AxowrapError(f"{path}: cannot read: {exc}", hint=f"rerun `axowrap audit {run.root}`") from None
    return data if isinstance(data, dict) else None
