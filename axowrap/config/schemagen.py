"""Generate schemas/axolotl-<version>.schema.json and .tables.json from the installed Axolotl.

    python -m axowrap.config.schemagen            # (re)write both files for the installed release
    python -m axowrap.config.schemagen --check    # exit 1 if the committed files are stale

One pair of files per supported Axolotl release: run it in an environment holding that release
(`make venv312` for 0.21). The schema comes from Axolotl's pydantic models, the tables
(optimizers, schedulers, dataset types, deprecations, ...) from axowrap.config.tablegen.

Axolotl's `config-schema` command cannot do this (pydantic fails on the torch.dtype members
of an enum, and the command prints a banner first); here a custom generator writes those
members as their names. The bundled plugins' argument models go under `x-axolotl-plugins`
so a config that lists a plugin is checked with that plugin's fields too. Needs the `train`
extra (axolotl installed); nothing on axowrap's fast paths imports this module.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from pathlib import Path
from typing import Any

from axowrap.resources import schemas_dir

# Keys under which Axolotl models list datasets: entries are checked key by key.
DATASET_KEYS = ("datasets", "test_datasets", "pretraining_dataset")


def _generator() -> type:
    from pydantic.json_schema import GenerateJsonSchema

    class AxolotlSchemaGenerator(GenerateJsonSchema):
        def enum_schema(self, schema: Any) -> Any:
            members = schema["members"]
            values = []
            for m in members:
                v = m.value
                values.append(v if isinstance(v, (str, int, float, bool)) or v is None else m.name)
            return {"enum": values, "title": schema["cls"].__name__}

        def default_schema(self, schema: Any) -> Any:
            try:
                return super().default_schema(schema)
            except Exception:  # an unserializable default (a dtype, a class): drop it
                return self.generate_inner(schema["schema"])

        def handle_invalid_for_json_schema(self, schema: Any, error_info: str) -> Any:
            return {}

    return AxolotlSchemaGenerator


def _plugin_args() -> dict[str, str]:
    """{plugin class path: args class path} for every plugin bundled with Axolotl."""
    from axowrap.config.tablegen import plugin_classes

    found: dict[str, str] = {}
    for obj in plugin_classes():
        try:
            args = obj().get_input_args()
        except Exception:
            continue
        if args:
            package = obj.__module__.rsplit(".plugin", 1)[0].rsplit(".plugins", 1)[0]
            for name in {f"{obj.__module__}.{obj.__name__}", f"{package}.{obj.__name__}"}:
                found[name] = args
    return dict(sorted(found.items()))


def _class(path: str) -> Any:
    module, _, name = path.rpartition(".")
    return getattr(importlib.import_module(module), name)


def installed_version() -> str:
    import importlib.metadata

    return importlib.metadata.version("axolotl")


def build() -> dict[str, Any]:
    """The full schema document (deterministic: keys sorted on write)."""
    from axolotl.utils.schemas.config import AxolotlInputConfig

    version = installed_version()

    gen = _generator()
    schema = AxolotlInputConfig.model_json_schema(schema_generator=gen, mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = f"https://axowrap.dev/schemas/axolotl-{version}.schema.json"
    schema["description"] = (
        f"Axolotl {version} config, generated from its pydantic models by "
        "`python -m axowrap.config.schemagen`. Do not edit by hand."
    )
    plugins: dict[str, Any] = {}
    for plugin, args in _plugin_args().items():
        try:
            sub = _class(args).model_json_schema(schema_generator=gen, mode="validation")
        except Exception:
            continue
        plugins[plugin] = {
            "args": args,
            "properties": sub.get("properties", {}),
            "$defs": sub.get("$defs", {}),
        }
    schema["x-axolotl-plugins"] = plugins
    return schema


def dump(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=1, sort_keys=True, default=str) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m axowrap.config.schemagen", description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if a committed file is stale")
    parser.add_argument("--output-dir", type=Path, default=None, help="write here instead of schemas/")
    args = parser.parse_args(argv)
    from axowrap.config.tablegen import build as build_tables

    version = installed_version()
    folder = args.output_dir or schemas_dir()
    schema = build()
    texts = {
        folder / f"axolotl-{version}.schema.json": dump(schema),
        folder / f"axolotl-{version}.tables.json": dump(build_tables(schema)),
    }
    stale = 0
    for target, text in texts.items():
        if args.check:
            current = target.read_text(encoding="utf-8") if target.exists() else ""
            if current != text:
                print(f"{target} is stale: run `python -m axowrap.config.schemagen`", file=sys.stderr)
                stale += 1
            else:
                print(f"{target} is up to date")
        else:
            target.write_text(text, encoding="utf-8")
            print(f"wrote {target}")
    return 1 if stale else 0


if __name__ == "__main__":
    raise SystemExit(main())
