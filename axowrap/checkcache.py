"""`validate` and `render --all` results kept by content hash (axowrap.cache), and `--jobs`.

A result is kept with its inputs (axowrap.rules.inputs: the files of `extends`, data files, the
model's folder, ...) and reused while the file, its inputs and axowrap are unchanged. The
Axolotl release is part of it: the question holds `--axolotl` and the installed release (the
spec's own `compute.axolotl` is in its files), and the chosen release's schema and table files
are inputs by content. Not kept:
`--deep` (Axolotl's own verdict on this install), a file that could not be read as a spec (its
bases are not known), a volatile check (free disk space), and any result whose file or inputs
changed while it was being computed. A hit imports none of the checking machinery (jsonschema,
Jinja, the rules), which is what makes a warm `validate --all` cheap.

`--jobs N` checks the misses in N forked processes (each keeps its own results).
"""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from axowrap import cache
from axowrap.files import ALLOW_OUTSIDE
from axowrap.problems import Problem

if TYPE_CHECKING:
    from axowrap.releases import Release
    from axowrap.spec.model import Spec
    from axowrap.targets import Target
    from axowrap.validate import Report

VALIDATE, RENDER = "validate", "render"
# An input whose mtime is this close to the start of its check may have changed during it
# (file systems stamp with a coarse clock): its result is not kept.
RACY_NS = 100_000_000
MISSES_PER_WORKER = 16  # fewer misses than this per process: forking costs more than it saves

T = TypeVar("T")
R = TypeVar("R")


def problem_to_json(p: Problem) -> dict[str, Any]:
    return {
        "path": list(p.path),
        "message": p.message,
        "file": p.file,
        "line": p.line,
        "column": p.column,
        "hint": p.hint,
        "severity": p.severity,
        "extra": p.extra,
    }


def problem_from_json(d: dict[str, Any]) -> Problem:
    return Problem(**{**d, "path": tuple(d["path"])})


def target_from_json(d: dict[str, Any] | None) -> Target | None:
    if d is None:
        return None
    from axowrap.targets import Target

    return Target(**{**d, "speed": tuple(d["speed"]), "packages": tuple(d["packages"])})


def release_from_json(d: dict[str, Any] | None) -> Release | None:
    if d is None:
        return None
    from axowrap.releases import Release

    return Release(**d)


def report_to_json(r: Report) -> dict[str, Any]:
    return {
        "file": r.file,
        "kind": r.kind,
        "problems": [problem_to_json(p) for p in r.problems],
        "target": asdict(r.target) if r.target is not None else None,
        "release": asdict(r.release) if r.release is not None else None,
    }


def report_from_json(d: dict[str, Any]) -> Report:
    from axowrap.validate import Report

    return Report(
        d["file"],
        d["kind"],
        [problem_from_json(p) for p in d["problems"]],
        target_from_json(d["target"]),
        release_from_json(d["release"]),
    )


def release_question(axolotl: str | None) -> dict[str, Any]:
    """What chooses the release besides the spec's own files: `--axolotl` and the installed one."""
    from axowrap.releases import installed

    return {"axolotl": axolotl, "installed": installed()}


def release_inputs(version: str | None) -> set[Path]:
    """The generated files a check for Axolotl `version` reads (its schema, tables and speed support)."""
    if version is None:
        return set()
    from axowrap.resources import schema_file

    return {schema_file(f"axolotl-{version}.{kind}.json") for kind in ("schema", "tables", "speed")}


def _newest_mtime(path: Path) -> int:
    """The newest mtime (ns) of `path` and, for a folder, of everything in it (0: missing)."""
    try:
        newest = path.lstat().st_mtime_ns
    except OSError:
        return 0
    if path.is_dir() and not path.is_symlink():
        for folder, dirs, files in os.walk(path):
            for name in (*dirs, *files):
                try:
                    newest = max(newest, os.lstat(os.path.join(folder, name)).st_mtime_ns)
                except OSError:
                    pass
    return newest


def _keep(kind: str, key: str, result: Any, file: Path, content: bytes, inputs: set[Path], start_ns: int) -> None:
    """Store the result unless the file or an input changed since the check began."""
    try:
        if file.read_bytes() != content:
            return
    except OSError:
        return
    if any(_newest_mtime(p) >= start_ns - RACY_NS for p in (file, *inputs)):
        return
    cache.store(kind, key, result, inputs)


@dataclass
class _Question:
    kind: str
    key: str | None = None  # None: not cacheable (cache off, unreadable file)
    content: bytes = b""
    result: Any = None  # the stored result on a hit


def _ask(kind: str, path: Path, question: dict[str, Any], use_cache: bool) -> _Question:
    if not use_cache or not cache.enabled():
        return _Question(kind)
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            return _Question(kind)  # a FIFO or a device: never read here (a FIFO blocks); the check refuses it
        content = path.read_bytes()
    except OSError:
        return _Question(kind)  # the check itself reports what is wrong with the file
    key = cache.head_key(kind, {"path": str(path), **question}, content)
    return _Question(kind, key, content, cache.lookup(kind, key))


def _spec_inputs(spec: Spec) -> set[Path] | None:
    from axowrap.rules.inputs import spec_inputs

    found = spec_inputs(spec)
    if found.volatile:
        return None
    return found.paths | release_inputs(spec.axolotl)


# validate


def _validate_fresh(
    path: Path, target: str | None, deep: bool, axolotl: str | None, q: _Question, overrides: tuple[Any, ...] = ()
) -> Report:
    from axowrap.validate import AXOLOTL, validate_path

    start = time.time_ns()
    report = validate_path(path, target=target, deep=deep, axolotl=axolotl, overrides=overrides)
    if q.key is not None:
        if report.kind == AXOLOTL:
            inputs: set[Path] | None = release_inputs(report.release.version if report.release else None)
        else:
            inputs = _spec_inputs(report.spec) if report.spec else None
        if inputs is not None:
            _keep(VALIDATE, q.key, report_to_json(report), path, q.content, inputs, start)
    report.spec = None  # not needed by the caller; a worker sends the report back pickled
    return report


def validate_file(
    path: Path, *, target: str | None = None, deep: bool = False, axolotl: str | None = None, use_cache: bool = True
) -> Report:
    """`axowrap.validate.validate_path`, answered from the cache when nothing it read changed."""
    q = _ask(
        VALIDATE,
        path,
        {"target": target, "allow_outside": ALLOW_OUTSIDE.get(), **release_question(axolotl)},
        use_cache and not deep,
    )
    if q.result is not None:
        return report_from_json(q.result)
    return _validate_fresh(path, target, deep, axolotl, q)


def validate_files(
    paths: Sequence[Path],
    *,
    target: str | None = None,
    deep: bool = False,
    axolotl: str | None = None,
    use_cache: bool = True,
    jobs: int = 1,
    on_error: Callable[[Path, Exception], Report] | None = None,
    overrides: tuple[Any, ...] = (),
) -> list[Report]:
    """validate_file for each of `paths`, in order; the misses in up to `jobs` processes.
    `on_error` turns an exception of one file into its report (else it propagates). With
    `--set` overrides nothing is cached (they are not part of any file)."""
    question = {"target": target, "allow_outside": ALLOW_OUTSIDE.get(), **release_question(axolotl)}
    questions = [_ask(VALIDATE, p, question, use_cache and not deep and not overrides) for p in paths]
    out: list[Report | None] = [report_from_json(q.result) if q.result is not None else None for q in questions]
    misses = [i for i, r in enumerate(out) if r is None]
    work = [(paths[i], target, deep, axolotl, questions[i], on_error, overrides) for i in misses]
    for i, report in zip(misses, parallel(_validate_task, work, jobs), strict=True):
        out[i] = report
    return [r for r in out if r is not None]


def _validate_task(args: tuple[Path, str | None, bool, str | None, _Question, Any, tuple[Any, ...]]) -> Report:
    path, target, deep, axolotl, q, on_error, overrides = args
    try:
        return _validate_fresh(path, target, deep, axolotl, q, overrides)
    except Exception as exc:
        if on_error is None:
            raise
        return on_error(path, exc)


# render --all / --check


@dataclass
class Rendering:
    """A spec's rendered config (`text` None: the spec is invalid) and its problems."""

    name: str | None
    text: str | None
    problems: list[Problem] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "text": self.text, "problems": [problem_to_json(p) for p in self.problems]}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Rendering:
        return cls(d["name"], d["text"], [problem_from_json(p) for p in d["problems"]])


def _render_fresh(path: Path, root: Path, q: _Question, dest: Path | None = None) -> Rendering:
    from axowrap.config.render import render_spec
    from axowrap.errors import ValidationFailed
    from axowrap.repo import rendered_path
    from axowrap.spec.read import read_spec
    from axowrap.validate import checked, rendered_problems

    start = time.time_ns()
    try:
        spec = read_spec(path)
    except ValidationFailed as exc:
        return Rendering(None, None, exc.problems)  # not kept: its bases are not known
    try:
        checked(spec)
        # where it is written: the schema modeline is relative to it
        rendered = render_spec(spec, base_dir=root, dest=dest or rendered_path(root, spec.name))
        problems = [*spec.warnings, *rendered_problems(spec, rendered, False)]
        if any(p.severity == "error" for p in problems):
            raise ValidationFailed(problems)
        out = Rendering(spec.name, rendered.text, problems)
    except ValidationFailed as exc:
        out = Rendering(None, None, exc.problems)
    inputs = _spec_inputs(spec)
    if q.key is not None and inputs is not None:
        _keep(RENDER, q.key, out.to_json(), path, q.content, inputs, start)
    return out


def render_files(
    paths: Sequence[Path], root: Path, *, dest: Path | None = None, use_cache: bool = True, jobs: int = 1
) -> list[Rendering]:
    """Each spec of `paths` rendered for the repo at `root` (paths relative to it), or its
    problems; `dest`: where the one rendered config goes, instead of rendered/<name>."""
    question = {
        "root": str(root.resolve()),
        "dest": str(dest.resolve()) if dest is not None else None,
        "allow_outside": ALLOW_OUTSIDE.get(),
        **release_question(None),
    }
    questions = [_ask(RENDER, p, question, use_cache) for p in paths]
    out: list[Rendering | None] = [Rendering.from_json(q.result) if q.result is not None else None for q in questions]
    misses = [i for i, r in enumerate(out) if r is None]
    work = [(paths[i], root, questions[i], dest) for i in misses]
    for i, rendering in zip(misses, parallel(_render_task, work, jobs), strict=True):
        out[i] = rendering
    return [r for r in out if r is not None]


def _render_task(args: tuple[Path, Path, _Question, Path | None]) -> Rendering:
    return _render_fresh(*args)


# --jobs


def cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def workers(jobs: int, tasks: int) -> int:
    """How many processes `tasks` checks get: `jobs` (0: as many as pay, up to one per CPU)."""
    if jobs == 0:
        jobs = min(cpus(), tasks // MISSES_PER_WORKER)
    return max(1, min(jobs, tasks))


def _preload() -> None:
    """Import what a check needs once, before forking, rather than once per worker."""
    import axowrap.config.render
    import axowrap.rules
    import axowrap.rules.inputs
    import axowrap.spec.read
    import axowrap.validate  # noqa: F401


def parallel(fn: Callable[[T], R], items: list[T], jobs: int) -> list[R]:
    """[fn(item) for item in items], in up to `jobs` forked processes (see `workers`)."""
    n = workers(jobs, len(items))
    if n <= 1:
        return [fn(item) for item in items]
    _preload()
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    # fork: the workers start with everything this process imported (spawn would import it all again)
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods else None)
    with ProcessPoolExecutor(max_workers=n, mp_context=context) as pool:
        return list(pool.map(fn, items, chunksize=max(1, len(items) // (n * 4))))
