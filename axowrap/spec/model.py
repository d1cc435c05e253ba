"""The spec object every later layer works on: the file as written, the effective values
(presets and `extends` applied), where each value came from, and what it names on disk."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from axowrap import files
from axowrap.datafiles import DATA_FILE_TYPES
from axowrap.errors import SpecError
from axowrap.problems import Path_, Problem
from axowrap.releases import Release
from axowrap.resources import schema_file
from axowrap.schema_check import load_schema
from axowrap.spec.layers import Sources
from axowrap.spec.overrides import Override, is_override
from axowrap.spec.presets import Preset, get_preset
from axowrap.targets import Target, get_target, parse_target
from axowrap.yamlio import Document, safe_load


def spec_schema() -> dict[str, Any]:
    return load_schema(schema_file("spec.schema.json"))


def local_path(base_dir: Path, value: str, *, model: bool = False) -> Path | None:
    """The local file or folder `value` names (relative to `base_dir`), or None for a Hub id.

    Local: it exists there, it starts with `.`, `/` or `~`, or (not for a `model`, whose Hub id
    may end in anything) it ends in a data-file suffix. This is the one answer to "local path or
    Hub id?" for models, datasets and held-out files."""
    candidate = Path(value).expanduser()
    if not candidate.is_absolute():
        candidate = base_dir / candidate
    if files.exists(candidate) or value.startswith((".", "/", "~")):
        return candidate
    if not model and Path(value).suffix.lower() in DATA_FILE_TYPES:
        return candidate
    return None


NAME_MAX = 255  # bytes in one file name (Linux, macOS)
PATH_MAX = 4095  # bytes in a whole path


def named_paths(data: dict[str, Any]) -> list[tuple[Path_, str]]:
    """(key path, value) of every spec value that names a file, a folder or a Hub repo."""
    found: list[tuple[Path_, Any]] = [(("base_model",), data.get("base_model"))]
    for i, entry in enumerate(data.get("datasets") or []):
        if isinstance(entry, dict):
            found.append((("datasets", i, "path"), entry.get("path")))
    ev = data.get("eval")
    if isinstance(ev, dict):
        found += [(("eval", "holdout_file"), ev.get("holdout_file")), (("eval", "database"), ev.get("database"))]
    found.append((("output_dir",), data.get("output_dir")))
    return [(where, value) for where, value in found if isinstance(value, str)]


def unnameable(value: str) -> str | None:
    """Why no file can have the name `value` (too long for the filesystem), or None."""
    if len(value.encode("utf-8", "surrogatepass")) > PATH_MAX:
        return f"longer than the {PATH_MAX} bytes a path may have"
    if any(len(part.encode("utf-8", "surrogatepass")) > NAME_MAX for part in value.split("/")):
        return f"a name in it is longer than the {NAME_MAX} bytes a file name (or a Hub repo name) may have"
    if "\0" in value:
        return "it holds a NUL character"
    return None


def spec_root(spec_path: Path) -> Path | None:
    """The folder a spec may read files from: the git work tree that holds it (in CI, the
    checkout of a pull request), else the current directory when that holds the spec; None (no
    bound) for a spec elsewhere outside any git work tree. `extends` and `data check` stay
    inside it unless asked (`axowrap --allow-outside`)."""
    folder = spec_path.resolve().parent
    for candidate in (folder, *folder.parents):
        if files.exists(candidate / ".git"):
            return candidate
    cwd = Path.cwd().resolve()
    return cwd if is_within(folder, cwd) else None


def is_within(path: Path, root: Path | None) -> bool:
    """Whether `path` (symlinks resolved) is `root` or inside it (always, without a root)."""
    if root is None:
        return True
    try:
        path.resolve().relative_to(root.resolve())
    except (ValueError, OSError, RuntimeError):
        return False
    return True


@dataclass
class Spec:
    """A spec as the user wrote it (`doc`) and as it takes effect (`data`)."""

    path: Path
    doc: Document
    data: dict[str, Any]
    sources: Sources
    docs: dict[str, Document] = field(default_factory=dict)
    warnings: list[Problem] = field(default_factory=list)
    overrides: tuple[Override, ...] = ()  # `--set KEY=VALUE`, the topmost layer
    release: Release | None = None  # the Axolotl release it is checked and rendered for

    @property
    def axolotl(self) -> str:
        """The Axolotl version the spec is checked against (axowrap.releases.choose)."""
        from axowrap.releases import choose

        return (self.release or choose(pin=self.axolotl_pin)).version

    @property
    def axolotl_pin(self) -> str | None:
        """The spec's `compute.axolotl` (None when unset, or when `compute` is not a mapping: the
        schema reports that)."""
        compute = self.data.get("compute")
        pin = compute.get("axolotl") if isinstance(compute, dict) else None
        return pin if isinstance(pin, str) else None

    @property
    def name(self) -> str:
        return str(self.data.get("name") or self.path.stem)

    @property
    def preset(self) -> Preset:
        return get_preset(self.data["task"])

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.doc.text.encode("utf-8")).hexdigest()

    @property
    def base_dir(self) -> Path:
        return self.path.parent

    def source_of(self, path: Path_) -> str:
        """The layer (a file, or a preset) that set `path`, or the spec file itself."""
        path = tuple(path)
        if path in self.sources:
            return self.sources[path]
        below = [v for k, v in self.sources.items() if k[: len(path)] == path]
        if below:
            return below[0]
        while path:
            path = path[:-1]
            if path in self.sources:
                return self.sources[path]
        return self.doc.file

    def problem(self, path: Path_, message: str, **kw: Any) -> Problem:
        """A problem located in the file that set `path` (a base spec, or this one)."""
        label = self.source_of(path)
        if is_override(label):  # set on the command line: the problem names the --set
            return Problem(path=tuple(path), message=message, file=label, **kw)
        return self.docs.get(label, self.doc).problem(path, message, **kw)

    def local_path(self, value: str, *, model: bool = False) -> Path | None:
        """The local file or folder `value` (as written in this spec) names, or None for a Hub id
        (`model`: `value` names a model, as `base_model` does)."""
        return local_path(self.base_dir, value, model=model)

    def targets_file(self) -> Path | None:
        """The YAML file `targets:` names (relative to the file that set it), if it names one."""
        value = self.data.get("targets")
        if not isinstance(value, str):
            return None
        return (Path(self.source_of(("targets",))).parent / value).expanduser()

    def team_targets(self) -> dict[str, Any]:
        """The spec's own `targets:` (a mapping, or a YAML file of one named relative to the
        file that set it); {} when it has none."""
        value = self.data.get("targets")
        path = self.targets_file()
        if path is None:
            return value if isinstance(value, dict) else {}
        try:
            loaded = safe_load(path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as exc:
            raise SpecError(
                f"{self.source_of(('targets',))}: targets: cannot read {path}: {exc}",
                hint="`targets:` names a YAML file of target profiles, relative to the spec that sets it",
            ) from None
        if not isinstance(loaded, dict):
            raise SpecError(f"{path}: a targets file is a mapping of target names to their fields")
        return loaded

    def target(self, override: Target | str | None = None) -> Target:
        """The machine this spec is rendered and checked for: `override` (a Target, or text such
        as `h100-80gb:8` resolved with the spec's own targets), else `compute:`."""
        if isinstance(override, Target):
            return override
        if isinstance(override, str):
            return parse_target(override, self.team_targets())
        compute = self.data["compute"]
        return get_target(compute["target"], compute["gpus_per_node"], compute["nodes"], self.team_targets())
