"""The layout holds: imports flow one way (no cycle, no layer importing a higher one), light
modules stay light, and each table has one definition that the CLI choices come from."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

from axowrap.resources import schema_file

PACKAGE = Path(__file__).resolve().parent.parent / "axowrap"

# Lowest first. A module may import its own layer or a lower one, never a higher one.
LAYERS: tuple[tuple[str, ...], ...] = (
    # 0: foundations and tables
    (
        "axowrap",
        "axowrap.errors",
        "axowrap.problems",
        "axowrap.resources",
        "axowrap.yamlio",
        "axowrap.yamlemit",
        "axowrap.hashing",
        "axowrap.versions",
        "axowrap.schema_check",
        "axowrap.schema_compile",
        "axowrap.cache",
        "axowrap.targets",
        "axowrap.speed",
        "axowrap.hfcache",
        "axowrap.gguf_types",
        "axowrap.templating",
        "axowrap.datafiles",
        "axowrap.machine",
        "axowrap.releases",
        "axowrap.files",
        "axowrap.redact",
        "axowrap.mdemit",
        "axowrap.gotemplate",
        "axowrap.extras",
        "axowrap.config.check",
        "axowrap.noise",
        "axowrap.repo",
        "axowrap.config.keys",
        "axowrap.config.values",
        "axowrap.config.combos",
    ),
    # 1: specs
    ("axowrap.spec",),
    # 2: features (what the rules, steps and commands are about)
    (
        "axowrap.config",
        "axowrap.data",
        "axowrap.plan",
        "axowrap.distributed",
        "axowrap.models",
        "axowrap.evaluation",
        "axowrap.objectives",
        "axowrap.gguf",
        "axowrap.hub",
        "axowrap.chat",
        "axowrap.serve",
        "axowrap.audit",
        "axowrap.run",
        "axowrap.tracking",
    ),
    # 3: feature rules; 4: the registry
    ("axowrap.rules.",),
    ("axowrap.rules",),
    # 5: validation, steps, the runner and what drives it
    ("axowrap.validate", "axowrap.checkcache", "axowrap.steps"),
    ("axowrap.run.pipeline", "axowrap.jobs", "axowrap.team"),
    ("axowrap.sweep", "axowrap.doctor"),
    # 6: the command line
    ("axowrap.cli", "axowrap.__main__"),
)


def layer_of(module: str) -> int:
    best, rank = -1, -1
    for i, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            exact = module == prefix
            within = prefix.endswith(".") and module.startswith(prefix)
            below = module.startswith(prefix + ".")
            length = len(prefix) + (1 if exact else 0)
            if (exact or within or below) and length > best:
                best, rank = length, i
    assert rank >= 0, f"{module} is in no layer: add it to LAYERS"
    return rank


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in PACKAGE.rglob("*.py")}


def _type_checking(node: ast.AST) -> bool:
    test = getattr(node, "test", None)
    return isinstance(node, ast.If) and isinstance(test, ast.Name) and test.id == "TYPE_CHECKING"


def imports(path: Path, known: set[str]) -> set[str]:
    """Every axowrap module `path` imports, at the top or inside functions (not TYPE_CHECKING),
    with the packages whose __init__ such an import runs."""
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if _type_checking(node):
            return
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [
                f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in known else node.module for a in node.names
            ]
        for name in names:
            if name.split(".")[0] != "axowrap":
                continue
            parts = name.split(".")
            found.update(".".join(parts[:i]) for i in range(1, len(parts) + 1))
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text(encoding="utf-8")))
    return found & known


def graph() -> dict[str, set[str]]:
    mods = modules()
    known = set(mods)
    return {name: imports(path, known) - {name} for name, path in mods.items()}


def test_no_import_cycle() -> None:
    edges = graph()
    # every module that imports itself back through others: an iterative DFS for back edges
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def dfs(start: str) -> None:
        stack = [(start, iter(sorted(edges[start])))]
        path = [start]
        state[start] = 1
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                state[node] = 2
                stack.pop()
                path.pop()
                continue
            if state.get(child) == 1:
                cycles.append(path[path.index(child) :] + [child])
            elif child not in state:
                state[child] = 1
                stack.append((child, iter(sorted(edges[child]))))
                path.append(child)

    for name in sorted(edges):
        if name not in state:
            dfs(name)
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)


def test_imports_never_reach_up_a_layer() -> None:
    wrong = [
        f"{mod} (layer {layer_of(mod)}) imports {dep} (layer {layer_of(dep)})"
        for mod, deps in sorted(graph().items())
        for dep in sorted(deps)
        if layer_of(dep) > layer_of(mod) and not mod.startswith(dep + ".")  # a module runs its package's __init__
    ]
    assert not wrong, "\n".join(wrong)


def _loaded_after(statement: str) -> list[str]:
    code = f"import sys; {statement}; print(__import__('json').dumps(sorted(m for m in sys.modules if m.startswith('axowrap'))))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def test_render_loads_few_modules() -> None:
    # foundations only: render's own module, the tables it reads, templating, YAML in and out
    loaded = _loaded_after("import axowrap.config.render")
    assert len(loaded) <= 14, loaded


def test_validate_command_never_imports_the_heavy_stack() -> None:
    code = (
        "import sys; from axowrap.cli.main import main; main(['validate', 'examples/sql.yaml']); "
        "print(sorted(m for m in ('torch', 'transformers', 'axolotl', 'jinja2.sandbox', 'huggingface_hub', "
        "'axowrap.steps.registry', 'axowrap.cli.run') if m in sys.modules))"
    )
    repo = PACKAGE.parent
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=repo, check=True)
    # rendering is part of validate; nothing heavy, and no other command's modules (lazy commands)
    assert out.stdout.strip().splitlines()[-1] == "['jinja2.sandbox']"


def test_cli_choices_come_from_the_tables() -> None:
    """The spec schema's enums and the CLI's choices are the tables' own lists."""
    from axowrap.cli.data import _formats
    from axowrap.data.formats import FORMATS
    from axowrap.gguf_types import SUPPORTED
    from axowrap.spec.presets import preset_names
    from axowrap.targets import target_names

    schema = json.loads(schema_file("spec.schema.json").read_text(encoding="utf-8"))
    props = schema["properties"]
    assert sorted(props["task"]["enum"]) == list(preset_names())
    assert props["export"]["properties"]["gguf"]["items"]["enum"] == list(SUPPORTED)
    assert props["compute"]["properties"]["target"]["anyOf"][0]["enum"] == list(target_names())
    from axowrap.speed import SWITCHES
    from axowrap.targets import FIELDS

    assert list(props["speed"]["properties"]) == list(SWITCHES)
    target_def = schema["$defs"]["target"]["properties"]
    assert list(target_def) == list(FIELDS)
    assert target_def["speed"]["items"]["enum"] == list(SWITCHES)
    dataset = props["datasets"]["items"]["properties"]
    assert set(dataset["format"]["enum"]) <= set(FORMATS)
    assert _formats() == list(FORMATS)
