"""A run directory's records, read with checks: state.json, manifest.json and axolotl.yaml.

Each record is read as a regular file of bounded size (axowrap.files), parsed within bounds,
and checked before anything trusts it: state.json and manifest.json against their schemas
(schemas/run-state.schema.json, run-manifest.schema.json), the manifest's effective spec again
against the spec schema, and axolotl.yaml against the sha256 the manifest recorded for it
(or, without one, against Axolotl's schema). A damaged or hand-edited record is one clear
error naming the file, the key and what would fix it, never a crash inside a step.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from axowrap.errors import AxowrapError, ValidationFailed
from axowrap.files import read_text
from axowrap.problems import Problem, format_path
from axowrap.resources import schema_file
from axowrap.run.rundir import RunDir
from axowrap.schema_check import check, load_schema
from axowrap.yamlio import Document

RERUN = "rerun `axowrap run SPEC` to prepare the run directory again (outputs and finished steps are kept)"


class DamagedRecord(AxowrapError):
    """A run-directory record that is not as axowrap wrote it."""


def _damaged(path: Path, what: str, why: str, hint: str) -> DamagedRecord:
    return DamagedRecord(f"{path}: damaged {what}: {why}", hint=hint)


def _first(problems: list[Problem]) -> str:
    p = problems[0]
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    return f"{format_path(p.path)}: {p.message}{more}"


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not a number JSON allows")


def read_json(path: Path, what: str, hint: str) -> Any:
    """The JSON value of a record (AxowrapError naming the file when it cannot be read)."""
    text = read_text(path, what)
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise _damaged(path, what, f"invalid JSON ({exc.msg}, line {exc.lineno})", hint) from None
    except (ValueError, RecursionError) as exc:  # numbers over Python's digit limit, NaN, deep nesting
        raise _damaged(path, what, f"invalid JSON ({exc})"[:200], hint) from None


def checked(data: Any, schema: str, path: Path, what: str, hint: str) -> Any:
    problems = check(data, load_schema(schema_file(schema)), Document(data=data, file=str(path)))
    if problems:
        raise _damaged(path, what, _first(problems), hint)
    return data


def load_state(run: RunDir) -> dict[str, Any]:
    """state.json, checked; an empty state when nothing ran yet."""
    hint = f"delete {run.state} to start the run's steps over (outputs on disk are kept)"
    if not run.state.exists() and not run.state.is_symlink():
        return {"version": 1, "steps": {}}
    data = checked(read_json(run.state, "run state", hint), "run-state.schema.json", run.state, "run state", hint)
    return dict(data)


def load_manifest(run: RunDir) -> dict[str, Any]:
    """manifest.json, checked; its effective spec checked again (defaults every run needs put back)."""
    from axowrap.spec.read import recheck_effective

    data = checked(
        read_json(run.manifest, "run manifest", RERUN), "run-manifest.schema.json", run.manifest, "run manifest", RERUN
    )
    try:
        data["spec"]["effective"] = recheck_effective(data["spec"]["effective"], str(run.manifest))
    except ValidationFailed as exc:
        raise _damaged(run.manifest, "run manifest", "spec.effective." + _first(exc.problems), RERUN) from None
    return dict(data)


def load_config(run: RunDir, manifest: dict[str, Any] | None = None) -> dict[str, Any]:
    """axolotl.yaml as Axolotl reads it (YAML 1.1), refused when it is not the config the run
    was prepared with (its sha256 in the manifest) or, without a recorded sha256, not a valid
    Axolotl config."""
    from axowrap.hashing import text_sha256
    from axowrap.yamlio import parse_yaml

    text = read_text(run.config, "Axolotl config")
    want = ((manifest or {}).get("config") or {}).get("sha256")
    if want is not None and text_sha256(text) != want:
        raise DamagedRecord(
            f"{run.config}: changed since the run was prepared (sha256 {text_sha256(text)[:12]}, "
            f"manifest.json recorded {str(want)[:12]})",
            hint="edit the spec, not the rendered config; " + RERUN,
        )
    try:
        doc = parse_yaml(text, str(run.config), yaml12_floats=False)
    except ValidationFailed as exc:
        raise _damaged(run.config, "Axolotl config", _first(exc.problems), RERUN) from None
    if not isinstance(doc.data, dict):
        raise _damaged(run.config, "Axolotl config", "not a mapping of keys to values", RERUN)
    if want is None:
        from axowrap.config.check import check_config

        errors = [p for p in check_config(doc) if p.severity == "error"]
        if errors:
            raise _damaged(run.config, "Axolotl config", _first(errors), RERUN)
    return doc.data
