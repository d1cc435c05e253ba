"""The committed Axolotl schema is what the installed Axolotl generates (CI runs this)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from axowrap.config.check import base_schema, plugin_names


@pytest.mark.axolotl
def test_committed_schema_and_tables_are_up_to_date() -> None:
    """The installed release's two files match what the generator makes of it (~40 s)."""
    out = subprocess.run([sys.executable, "-m", "axowrap.config.schemagen", "--check"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.count("is up to date") == 2, out.stdout


def test_schema_is_a_real_json_schema_with_plugins() -> None:
    from jsonschema import Draft202012Validator

    schema = base_schema()
    Draft202012Validator.check_schema(schema)
    assert len(schema["properties"]) > 300
    assert "axolotl.integrations.liger.LigerPlugin" in plugin_names()


def test_plugin_fields_are_known_only_when_the_plugin_is_listed(tmp_path) -> None:
    from axowrap.validate import validate_path

    cfg = tmp_path / "cfg.yaml"
    body = "base_model: org/m\nlearning_rate: 0.0001\nmicro_batch_size: 1\nliger_rms_norm: true\n"
    cfg.write_text(body)
    assert [p.message for p in validate_path(cfg).problems] == [
        "'liger_rms_norm' is a field of the plugin axolotl.integrations.liger.LigerPlugin, which is not listed "
        "(Axolotl would silently ignore it)"
    ]
    cfg.write_text("plugins: [axolotl.integrations.liger.LigerPlugin]\n" + body)
    assert validate_path(cfg).problems == []


def test_axowrap_plugins_keep_unknown_keys_errors(tmp_path) -> None:
    from axowrap.validate import validate_path

    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(
        "plugins: [axowrap.distributed.cpu_ddp.CpuDdpPlugin]\nbase_model: org/m\nlearning_rate: 0.0001\n"
        "micro_batch_size: 1\nlora_rr: 8\n"
    )
    assert [(p.severity, p.message) for p in validate_path(cfg).problems] == [
        ("error", "unknown Axolotl key 'lora_rr'; did you mean 'lora_r'? (Axolotl would silently ignore it)")
    ]
