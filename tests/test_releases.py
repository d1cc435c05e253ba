"""One schema and one table file per supported Axolotl release; the installed release chooses,
else `--axolotl`, the spec's `compute.axolotl`, or the newest (no Axolotl import)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import write
from helpers import run_cli

from axowrap import releases
from axowrap.errors import UsageError
from axowrap.validate import validate_axolotl
from axowrap.yamlio import parse_yaml

HEAD = "base_model: org/m\nlearning_rate: 0.0001\nmicro_batch_size: 1\ndatasets:\n  - path: d.jsonl\n    type: alpaca\n"


def test_both_releases_ship_a_schema_and_tables() -> None:
    assert releases.shipped() == ("0.19.0", "0.21.0")
    for version in releases.shipped():
        assert releases.tables(version)["axolotl"] == version
        assert f"Axolotl {version} config" in releases.schema(version)["description"]


def test_the_installed_release_chooses(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(releases, "installed", lambda: "0.19.0")
    assert releases.choose(pin="0.21.0") == releases.Release("0.19.0", "installed")
    assert releases.choose("0.21.0") == releases.Release("0.21.0", "--axolotl")
    monkeypatch.setattr(releases, "installed", lambda: None)  # the light install
    assert releases.choose(pin="0.19.0") == releases.Release("0.19.0", "compute.axolotl")
    assert releases.choose() == releases.Release("0.21.0", "newest")


def test_a_release_without_files_is_refused_with_the_list_and_the_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(releases, "installed", lambda: "0.20.0")
    with pytest.raises(UsageError) as info:
        releases.choose()
    assert info.value.message == "no tables for Axolotl 0.20.0 (installed); this axowrap supports 0.19.0, 0.21.0"
    assert info.value.hint == (
        "use a supported release, or generate the files for 0.20.0: pip install axolotl==0.20.0 beside axowrap, "
        "then `python -m axowrap.config.schemagen`"
    )


def _messages(text: str, version: str) -> list[str]:
    doc = parse_yaml(text, "c.yaml", yaml12_floats=False)
    return [p.message for p in validate_axolotl(doc, axolotl=version).problems if p.severity == "error"]


def test_a_key_added_after_0_19_is_accepted_by_0_21_and_named_so_by_0_19() -> None:
    text = HEAD + "eval_on_start: true\n"
    assert _messages(text, "0.21.0") == []
    assert _messages(text, "0.19.0") == [
        "'eval_on_start' was added after Axolotl 0.19.0 (Axolotl 0.21.0 has it) (Axolotl would silently ignore it)"
    ]


def test_a_key_removed_in_0_21_is_the_reverse() -> None:
    text = HEAD + "fsdp: [full_shard]\nfsdp_config:\n  offload_params: true\n"
    assert _messages(text, "0.19.0") == []
    [refused] = _messages(text, "0.21.0")
    assert refused.startswith("Axolotl refuses it: The top-level `fsdp` list is no longer supported")


def _problems(text: str, version: str) -> list[tuple[str, str, str]]:
    doc = parse_yaml(text, "c.yaml", yaml12_floats=False)
    found = validate_axolotl(doc, axolotl=version).problems
    return [(".".join(map(str, p.path)), p.severity, p.message) for p in found if p.severity in ("error", "warning")]


def test_fsdp1_settings_are_refused_or_dropped_by_0_21_as_its_validator_does() -> None:
    """0.21 removed FSDP1: some of its fsdp_config settings are refused, others dropped with a
    warning (both tables probed from 0.21's validate_config); 0.19 knows use_orig_params."""
    text = HEAD + "fsdp_config:\n  fsdp_sharding_strategy: FULL_SHARD\n  use_orig_params: true\n"
    assert [path for path, _, m in _problems(text, "0.19.0")] == ["fsdp_config.fsdp_sharding_strategy"]
    assert not any("FSDP1-only" in m for _, _, m in _problems(text, "0.19.0"))
    assert [(path, severity) for path, severity, _ in _problems(text, "0.21.0")] == [
        ("fsdp_config.fsdp_sharding_strategy", "error"),
        ("fsdp_config.use_orig_params", "warning"),
    ]
    refused, dropped = (m for _, _, m in _problems(text, "0.21.0"))
    assert "sharding_strategy is an FSDP1-only option" in refused and "reshard_after_forward" in refused
    assert "use_orig_params is an FSDP1-only option and is ignored under FSDP2" in dropped
    assert _messages(HEAD + "fsdp_version: 1\nfsdp_config:\n  offload_params: true\n", "0.21.0") == [
        "Axolotl refuses it: fsdp_version: 1 is no longer supported, FSDP1 has been removed from Axolotl. "
        "Use fsdp_version: 2 and see docs/multi-gpu.qmd#sec-migrate-fsdp1-fsdp2 for the migration guide."
    ]


def test_qlora_with_cpu_ram_efficient_loading_is_refused_by_0_19_and_loaded_cpu_staged_by_0_21() -> None:
    text = HEAD + (
        "adapter: qlora\nload_in_4bit: true\nfsdp_version: 2\nfsdp_config:\n  cpu_ram_efficient_loading: true\n"
    )
    assert _messages(text, "0.19.0") == [
        "Axolotl refuses this: FSDP2 cannot use cpu_ram_efficient_loading with load_in_4bit"
    ]
    assert _messages(text, "0.21.0") == []
    assert _messages(text + "qlora_sharded_model_loading: false\n", "0.21.0") == [
        "Axolotl refuses this: FSDP2 cannot use cpu_ram_efficient_loading with load_in_4bit"
    ]
    assert _messages(text + "lora_modules_to_save: [lm_head]\n", "0.21.0") == [
        "Axolotl refuses this: CPU-staged NF4 currently requires LoRA without DoRA or modules_to_save"
    ]


def test_release_specific_cross_field_rules_follow_the_release() -> None:
    falcon = HEAD.replace("org/m", "tiiuae/falcon-7b")
    fsdp2 = "fsdp_version: 2\nfsdp_config:\n  offload_params: false\n"
    assert _messages(falcon + fsdp2, "0.19.0") == []  # 0.19 checks the top-level `fsdp` list
    assert _messages(falcon + fsdp2, "0.21.0") == ["Axolotl refuses this: FSDP is not supported for falcon models"]
    assert "Axolotl refuses this: FSDP is not supported for falcon models" in _messages(
        falcon + "fsdp: [full_shard]\n", "0.19.0"
    )
    ep = HEAD + "expert_parallel_size: 4\n"
    assert _messages(ep, "0.21.0") == [
        "Axolotl refuses this: expert_parallel_size > 1 needs FSDP2 (an fsdp_config block)"
    ]
    assert _messages(ep + fsdp2 + "  state_dict_type: SHARDED_STATE_DICT\n", "0.21.0") == [
        "Axolotl refuses this: expert_parallel_size > 1 needs state_dict_type: FULL_STATE_DICT (not SHARDED_STATE_DICT)"
    ]
    assert not any("expert_parallel_size > 1" in m for m in _messages(ep, "0.19.0"))


def test_a_plugin_that_rewrites_keys_first_makes_the_rules_over_them_unsure() -> None:
    """0.21's diffusion plugin turns `warmup_steps: 0.1` into warmup_ratio and gives
    `save_strategy: best` a metric when it registers: there the static errors are warnings."""
    text = HEAD + "warmup_steps: 0.1\nsave_strategy: best\n"
    diffusion = text + "plugins: [axolotl.integrations.diffusion.DiffusionPlugin]\n"
    assert len(_messages(text, "0.21.0")) == 2
    assert _messages(diffusion, "0.21.0") == []
    unsure = [(path, m) for path, severity, m in _problems(diffusion, "0.21.0") if "unsure" in m]
    assert sorted(path for path, _ in unsure) == ["save_strategy", "warmup_steps"]
    assert all("the plugin DiffusionPlugin rewrites" in m for _, m in unsure)
    assert len(_messages(diffusion, "0.19.0")) >= 2  # 0.19's diffusion plugin rewrites nothing


def test_0_21_counts_its_built_in_plugins_fields_without_plugins() -> None:
    text = HEAD + "context_parallel: {}\n"
    assert _messages(text, "0.21.0") == []
    assert _messages(text, "0.19.0") == [
        "'context_parallel' was added after Axolotl 0.19.0 (Axolotl 0.21.0 has it) (Axolotl would silently ignore it)"
    ]


def test_validate_json_names_the_release_and_render_records_it(workdir: Path) -> None:
    res = run_cli("validate", "--json", "--axolotl", "0.21.0", "examples/sql.yaml")
    assert res.code == 0, res.out
    report = json.loads(res.out)
    assert report["axolotl"] == {"version": "0.21.0", "chosen_by": "--axolotl"}
    assert report["files"][0]["axolotl"] == "0.21.0"
    res = run_cli("render", "--axolotl", "0.21.0", "examples/sql.yaml")
    assert res.code == 0, res.err
    assert res.out.splitlines()[1] == "# Generated by axowrap 0.1.0 for Axolotl 0.21.0 from examples/sql.yaml"


def test_a_spec_pin_without_files_is_a_spec_error(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(releases, "installed", lambda: None)
    write(workdir / "s.yaml", Path("examples/sql.yaml").read_text() + "compute: {target: cpu, axolotl: 0.20.0}\n")
    res = run_cli("validate", "s.yaml")
    assert res.code == 1
    assert "compute.axolotl: no tables for Axolotl 0.20.0 (compute.axolotl); this axowrap supports" in res.out


def test_every_preset_renders_to_a_config_each_release_accepts(workdir: Path) -> None:
    """Statically, for every shipped release (tests/test_presets.py runs the installed one's validator)."""
    for version in releases.shipped():
        for spec in sorted(Path("examples").glob("*.yaml")):
            res = run_cli("validate", "--axolotl", version, str(spec))
            assert res.code == 0, (version, res.out)


def test_deep_without_axolotl_is_a_problem_of_each_file_not_a_crash(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(releases, "installed", lambda: None)  # the light install
    res = run_cli("validate", "--deep", "examples/sql.yaml", "examples/mistakes/hand-written.axolotl.yaml")
    assert res.code == 1
    assert res.out.count("--deep needs Axolotl installed (it runs Axolotl's own validator)") == 2
    assert "lora_rr: unknown Axolotl key 'lora_rr'" in res.out  # the static checks still report
    assert "Traceback" not in res.out + res.err


def test_the_installed_version_is_what_package_metadata_says() -> None:
    """releases.installed() reads the dist-info folder's name (importlib.metadata costs ~20 ms of
    each start); for every package installed here it must say what importlib.metadata says, or
    defer to it."""
    from importlib import metadata

    from axowrap import releases

    names = {d.metadata["Name"] for d in metadata.distributions()}
    assert len(names) > 50
    for name in sorted(names):
        fast = releases._dist_info_version(name.lower().replace("-", "_"))
        if fast is not None:  # None: unsure, importlib.metadata answers
            assert fast == metadata.version(name), name
    assert releases._dist_info_version("no_such_package_here") == ""
    assert releases.installed() == metadata.version("axolotl")
