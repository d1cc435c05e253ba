"""push: upload the adapter, merged model and GGUF files to the Hub repos named in
`export.hub`, each with a generated model card (see axowrap.hub).

What is uploaded is exactly what the producing step recorded (axowrap.run.outputs) when it
finished for the current spec: train for the adapter (and a full fine-tune's model), merge
for the merged model, gguf for the GGUF files. A step that is not done for the current spec,
or whose outputs changed since, stops the push. So does the eval gate: it must have run on
the current training's model and passed (no eval = no push, unless `push --no-gate`).

Idempotent and resumable: each repo's remote files are compared with the local ones
(sha256 for LFS files, git blob id for the others) and only what differs is committed, so a
rerun after success sends nothing and a rerun after a failure completes what is missing.
"""

from __future__ import annotations

from typing import Any

from axowrap.errors import AxowrapError
from axowrap.hub.upload import RepoPlan, build_plan, describe, producer, targets
from axowrap.run.outputs import Record, digest, verify
from axowrap.steps.base import Step, StepContext

UPSTREAM = ("train", "merge", "gguf", "eval", "audit")


def enabled(ctx: StepContext) -> bool:
    return bool(targets(ctx.spec))


def endpoint(ctx: StepContext) -> str:
    from axowrap.hub.client import resolve_endpoint

    return resolve_endpoint(ctx.options.get("endpoint"))


def params(ctx: StepContext) -> dict[str, Any]:
    upstream = {
        n: {"fingerprint": ctx.fingerprints.get(n), "outputs": digest((ctx.state.get(n) or {}).get("recorded"))}
        for n in UPSTREAM
    }
    return {
        "hub": (ctx.spec.get("export") or {}).get("hub"),
        "endpoint": endpoint(ctx),
        "upstream": upstream,
        "no_gate": bool(ctx.options.get("no_gate")),
        "allow_failed_audit": bool(ctx.options.get("allow_failed_audit")),
    }


def ready(ctx: StepContext, *, strict: bool = True) -> dict[str, Record]:
    """{kind: the outputs its producing step recorded}; with `strict`, AxowrapError unless that
    step is done for the current spec and its outputs are unchanged."""
    out: dict[str, Record] = {}
    for kind in targets(ctx.spec):
        step = producer(kind, ctx.spec)
        entry = ctx.state.get(step) or {}
        if strict and not ctx.current(step):
            raise AxowrapError(
                f"not pushing {kind}: step {step} is not done for the current spec "
                f"(status: {entry.get('status') or 'never ran'})",
                hint=f"run `axowrap {step} {ctx.run.root}` (or `axowrap run SPEC`) first",
            )
        changed = verify(entry.get("recorded") or {}, ctx.run.root) if strict else []
        if changed:
            raise AxowrapError(
                f"not pushing {kind}: the outputs of step {step} changed since it ran ({changed[0]})",
                hint=f"run `axowrap {step} {ctx.run.root} --force` to make them again",
            )
        out[kind] = dict(entry.get("recorded") or {})
    return out


def check_gate(ctx: StepContext) -> None:
    """The eval gate, on the current training: AxowrapError unless it ran and passed."""
    from axowrap.evaluation.gate import gate_failures

    if ctx.options.get("no_gate"):
        ctx.say("push: --no-gate: not checking the eval gate")
        return
    hint = f"run `axowrap eval {ctx.run.root}` (eval.require sets the bar), or push with --no-gate"
    entry = ctx.state.get("eval") or {}
    if not entry:
        raise AxowrapError("not pushing: no eval ran, so nothing shows the fine-tuned model works", hint=hint)
    if entry.get("status") == "failed":
        failures = gate_failures(ctx.run.eval / "results.json") or []
        why = f"the eval gate failed ({'; '.join(failures)})" if failures else "the eval step failed"
        raise AxowrapError(
            f"not pushing: {why}", hint="improve the model or change eval.require, then rerun `axowrap eval RUN`"
        )
    if not ctx.current("eval"):
        raise AxowrapError(
            "not pushing: the eval results are not for the current training and spec "
            f"(eval status: {entry.get('status')})",
            hint=hint,
        )
    gate = (entry.get("result") or {}).get("gate") or {}
    if not gate.get("ran"):
        raise AxowrapError(
            "not pushing: the last eval scored the base model only (`eval --model base`): no gate ran on the "
            "fine-tuned model",
            hint=hint,
        )
    if not gate.get("passed"):
        raise AxowrapError(f"not pushing: the eval gate failed ({'; '.join(gate.get('failures') or [])})", hint=hint)


def outputs(ctx: StepContext) -> list:
    return []  # what is pushed lives on the Hub; a rerun compares with it and sends only the difference


def _manifest(ctx: StepContext) -> dict[str, Any]:
    from axowrap.run.manifest import load_manifest

    return load_manifest(ctx.run) if ctx.run.manifest.is_file() else {}


def _log(ctx: StepContext, line: str) -> None:
    ctx.log.parent.mkdir(parents=True, exist_ok=True)
    with ctx.log.open("a", encoding="utf-8") as fh:
        fh.write(line + "\n")


def push_repo(client: Any, plan: RepoPlan, ctx: StepContext) -> dict[str, Any]:
    """Create the repo if needed and commit the files that differ from the remote ones."""
    url = client.ensure_repo(plan.repo_id, private=plan.private)  # refuses a public repo when private is asked
    remote = client.remote_files(plan.repo_id)
    changed = []
    for f in plan.files:
        have = remote.get(f.path)
        same = (
            have is not None
            and have.size == f.size
            and (have.sha256 == f.sha256 if have.sha256 else have.git_oid == f.git_oid())
        )
        if not same:
            changed.append(f)
    out: dict[str, Any] = {
        "repo_id": plan.repo_id,
        "url": url,
        "private": plan.private,
        "files": {f.path: f.sha256 for f in plan.files},
        "uploaded": [f.path for f in changed],
    }
    if not changed:
        ctx.say(f"push: {plan.repo_id} is up to date ({len(plan.files)} files)", repo=plan.repo_id, uploaded=[])
        out["commit"] = None
        return out
    ctx.say(
        f"push: {plan.repo_id}: uploading {len(changed)} of {len(plan.files)} files",
        repo=plan.repo_id,
        uploading=[f.path for f in changed],
    )
    commit = client.commit(plan.repo_id, changed, f"axowrap: upload {plan.kind} ({len(changed)} files)")
    _log(ctx, f"{plan.repo_id}: commit {commit['oid']}: {', '.join(f.path for f in changed)}")
    out["commit"] = commit
    return out


def audit_refusal(audit: dict[str, Any] | None, allowed: bool) -> AxowrapError | None:
    """The error that stops a push after a failed stop audit (None: go ahead)."""
    failures = list((audit or {}).get("failures") or [])
    if not failures or allowed:
        return None
    fixes = sorted({c["fix"] for c in (audit or {}).get("checks", {}).values() if c.get("fix")})
    return AxowrapError(
        "not pushing: the stop audit failed (" + "; ".join(failures) + ")",
        hint="; ".join(fixes) + "; then rerun `axowrap audit RUN` (or push anyway with `--allow-failed-audit`: "
        "the model card will say so)",
    )


def run(ctx: StepContext) -> dict[str, Any]:
    from axowrap.audit.checks import recorded_audit
    from axowrap.hub.client import HubClient

    where = endpoint(ctx)
    recorded = ready(ctx, strict=not ctx.dry_run)
    if not ctx.dry_run:
        check_gate(ctx)
    audit = recorded_audit(ctx.run)
    allowed = bool(ctx.options.get("allow_failed_audit"))
    override = allowed and bool((audit or {}).get("failures"))
    plans = build_plan(
        ctx.run, ctx.spec, ctx.config, ctx.state, _manifest(ctx), recorded, audit=audit, audit_override=override
    )
    if ctx.dry_run:
        listing = {
            p.repo_id: {"kind": p.kind, "private": p.private, "files": {f.path: f.size for f in p.files}} for p in plans
        }
        ctx.events.emit("push", "plan", text=describe(plans, where), endpoint=where, repos=listing)
        return {"dry_run": True, "repos": {p.kind: p.repo_id for p in plans}}
    refusal = audit_refusal(audit, allowed)
    if refusal is not None:
        raise refusal
    if override:
        ctx.say("push: the stop audit failed; pushing anyway (--allow-failed-audit), as each model card says")
    client = HubClient(where, echo=ctx.say)
    repos = {}
    for plan in plans:
        repos[plan.kind] = push_repo(client, plan, ctx)
    lines = [
        f"- {kind}: [{r['repo_id']}]({r['url']}) ({len(r['uploaded'])} files uploaded)" for kind, r in repos.items()
    ]
    if override:
        lines.append("- pushed with `--allow-failed-audit` although the stop audit failed")
    return {
        "endpoint": where,
        "repos": repos,
        "audit_override": override,
        "report": "### Hub\n\n" + "\n".join(lines) + "\n",
    }


STEP = Step(
    name="push",
    needs=("train",),
    enabled=enabled,
    params=params,
    outputs=outputs,
    run=run,
    requires=("huggingface-hub",),
)
