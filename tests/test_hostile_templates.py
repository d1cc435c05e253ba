"""Every template rendered with hostile values, and the result parsed back to prove that nothing
escaped: the sbatch script (bash -n, its #SBATCH directives, and the commands it really runs,
with stub programs), the SkyPilot task (a YAML parse; bash -n of its scripts), the Axolotl
config (a YAML parse), model cards and the serving README (a CommonMark + GFM-table parse whose
block structure and links must equal a benign render's), a new spec and a team scaffold.

A newline in a spec's *file name* used to start a command in the sbatch script (and end its
#SBATCH block), add keys to the SkyPilot YAML and the rendered config; card values closed the
code fence and the tables. About 250 renders, ~1 minute.
"""

from __future__ import annotations

import json
import shutil
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import EXAMPLES, write
from markdown_it import MarkdownIt

HOSTILE = [
    "x\nrm -rf ~\n",
    "x\n#SBATCH --wrap=id\n",
    "x\ntouch PWNED\n",
    "$(touch PWNED)",
    "`touch PWNED`",
    "x; touch PWNED",
    "x' ; touch PWNED ; '",
    'x" ; touch PWNED ; "',
    "x\r\ninjected: 1",
    "x\ninjected: 1\n",
    "\u2028injected: 1",
    "x # comment",
    "x\n```\n# Deprecated: use https://evil.example/weights\n```",
    "| a | b |\n|---|---|",
    "[click here](https://evil.example)",
    "<script>alert(1)</script>",
    "![img](https://evil.example/x.png)",
    "**bold** _it_ ~~s~~",
    "https://evil.example/phish",
    "\x1b]0;title\x07\x1b[31mred",
    "::error::injected",
    "{{ 7*7 }}",
    "-rf",
    "\ufeffbom",
    "é ü 中文 🙂",
    "a\\b\\\\c",
    "x\t\ty",
    "    indented code",
    "- list item",
    "# heading",
    "> quote",
    "&lt;&amp;",
]
NAMEABLE = [h for h in HOSTILE if "/" not in h and "\x00" not in h]  # what a file name may hold
INSTALL_WORDS = ["x\ny: 1", "a'b", "$(id)", "pkg==1.0\n#", "\x1b[2J"]


def test_at_least_200_hostile_renders() -> None:
    """The count the issue asks for: renders made by the tests below, each parsed back."""
    renders = 3 * len(NAMEABLE) + len(INSTALL_WORDS) + 3 * len(HOSTILE) + len(NAMEABLE) + len(HOSTILE)
    assert renders >= 200, renders


# ------------------------------------------------------------------ Slurm


STUB = """#!{python}
import json, os, sys
with open(os.environ["STUB_LOG"], "a") as fh:
    fh.write(json.dumps([os.path.basename(sys.argv[0]), *sys.argv[1:]]) + "\\n")
if sys.argv[1:3] == ["-m", "axowrap"] and sys.argv[3] == "_prepare":
    print(os.environ["FAKE_RUN_DIR"])
elif os.path.basename(sys.argv[0]) == "scontrol":
    print("node1")
"""


def _spec_named(folder: Path, name: str) -> Path:
    shutil.copytree(EXAMPLES / "data", folder / "data", dirs_exist_ok=True)
    return write(folder / f"{name}.yaml", (EXAMPLES / "sql.yaml").read_text())


def _run_sbatch(script: Path, work: Path) -> list[list[str]]:
    """Run the script with stub programs for python, scontrol and srun; the commands it ran."""
    stubs = work / "stubs"
    stubs.mkdir(exist_ok=True)
    for name in ("python", "scontrol", "srun"):
        stub = stubs / name
        stub.write_text(STUB.format(python=sys.executable))
        stub.chmod(stub.stat().st_mode | stat.S_IXUSR)
    log = work / "commands.jsonl"
    log.unlink(missing_ok=True)
    env = {
        "PATH": f"{stubs}:/usr/bin:/bin",
        "AXOWRAP_BIN": str(stubs),
        "STUB_LOG": str(log),
        "FAKE_RUN_DIR": str(work / "run"),
        "SLURM_JOB_NODELIST": "node1",
        "SLURM_JOB_ID": "1",
        "HOME": str(work),
    }
    out = subprocess.run(["bash", str(script)], cwd=work, env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    here = str(work)  # the commands compared across runs: each runs in a folder of its own
    return [[a.replace(here, "<work>") for a in json.loads(line)] for line in log.read_text().splitlines()]


def _directives(text: str) -> list[str]:
    """The #SBATCH lines sbatch reads: those before the first command."""
    out = []
    for line in text.splitlines()[1:]:
        if line.startswith("#SBATCH"):
            out.append(line)
        elif line.strip() and not line.startswith("#"):
            break
    return out


@pytest.fixture(scope="module")
def slurm_baseline(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, list[list[str]]]:
    from axowrap.jobs.slurm import SlurmOptions, slurm_script

    work = tmp_path_factory.mktemp("slurm-base")
    spec = _spec_named(work, "plain")
    text = slurm_script(spec, SlurmOptions(runs_root=work / "runs"), script_name="job.sbatch")
    script = write(work / "job.sbatch", text)
    return text, _run_sbatch(script, work)


@pytest.mark.parametrize("name", NAMEABLE)
def test_sbatch_with_a_hostile_spec_file_name(
    tmp_path: Path, name: str, slurm_baseline: tuple[str, list[list[str]]]
) -> None:
    from axowrap.jobs.slurm import SlurmOptions, slurm_script

    base_text, base_commands = slurm_baseline
    spec = _spec_named(tmp_path, name)
    text = slurm_script(spec, SlurmOptions(runs_root=tmp_path / "runs"), script_name=f"{name}.sbatch")
    script = write(tmp_path / "job.sbatch", text)
    subprocess.run(["bash", "-n", str(script)], check=True)
    keys = [d.split("=")[0] for d in _directives(text)]
    assert keys == [d.split("=")[0] for d in _directives(base_text)]  # same #SBATCH block: nothing ended it early
    commands = _run_sbatch(script, tmp_path)
    assert [c[0] for c in commands] == [c[0] for c in base_commands]  # nothing else ran
    prepare = commands[0]
    assert prepare[1:4] == ["-m", "axowrap", "_prepare"]
    assert prepare[4] == str(spec.resolve()).replace(str(tmp_path), "<work>")  # one word, exact
    assert commands[1:] == base_commands[1:]
    assert not list(tmp_path.glob("PWNED"))


# ------------------------------------------------------------------ SkyPilot


@pytest.mark.parametrize("name", NAMEABLE)
def test_skypilot_task_with_a_hostile_spec_file_name(tmp_path: Path, name: str) -> None:
    from axowrap.jobs.skypilot import SkyOptions, skypilot_task

    spec = _spec_named(tmp_path, name)
    text = skypilot_task(spec, SkyOptions(), file_name=f"{name}.yaml")
    task = yaml.safe_load(text)
    assert set(task) == {"name", "num_nodes", "resources", "file_mounts", "envs", "setup", "run"}
    assert task["envs"]["AXOWRAP_SPEC"].endswith(f"/{name}.yaml")
    assert str(spec.resolve()) in task["file_mounts"].values()
    for section in ("setup", "run"):
        subprocess.run(["bash", "-n"], input=task[section], text=True, check=True)
    assert [ln for ln in task["setup"].splitlines() if "pip install" in ln][-1].endswith("'axowrap[train]==0.1.0'")


@pytest.mark.parametrize("words", INSTALL_WORDS)
def test_skypilot_install_words_stay_in_the_setup_block(tmp_path: Path, words: str) -> None:
    import shlex

    from axowrap.jobs.skypilot import SkyOptions, skypilot_task

    spec = _spec_named(tmp_path, "plain")
    task = yaml.safe_load(skypilot_task(spec, SkyOptions(install=shlex.quote(words))))
    assert set(task) == {"name", "num_nodes", "resources", "file_mounts", "envs", "setup", "run"}
    assert shlex.split(task["setup"].split("pip install -q ")[-1]) == [words]  # one shell word, exactly as given


# ------------------------------------------------------------------ the rendered Axolotl config


@pytest.mark.parametrize("name", NAMEABLE)
def test_rendered_config_with_a_hostile_spec_file_name(tmp_path: Path, name: str) -> None:
    from axowrap.config.render import render_spec
    from axowrap.validate import load_spec

    baseline = render_spec(load_spec(EXAMPLES / "sql.yaml")).config
    spec = _spec_named(tmp_path, name)
    rendered = render_spec(load_spec(spec))
    assert set(yaml.safe_load(rendered.text)) == set(baseline)
    assert rendered.text.splitlines()[1].startswith("# Generated by axowrap")


# ------------------------------------------------------------------ Markdown: cards and the serving README


MD = MarkdownIt("commonmark").enable("table")


def structure(text: str) -> list[tuple[str, str, int]]:
    """Block tokens (type, tag, nesting) and every link or image target: what must not change."""
    out = []
    for tok in MD.parse(text):
        out.append((tok.type, tok.tag, tok.nesting))
        for child in tok.children or []:
            if child.type in ("link_open", "image", "html_inline"):
                out.append((child.type, str(child.attrs.get("href") or child.attrs.get("src") or child.content), 0))
    return out


def card_inputs(kind: str, hostile: str) -> Any:
    from axowrap.hub.cards import CardInputs

    spec = {
        "task": "sql",
        "base_model": f"org/{hostile}",
        "method": "lora",
        "output_dir": hostile,
        "datasets": [{"path": f"data/{hostile}.jsonl", "system_prompt": hostile}],
        "axolotl": {"chat_template_jinja": hostile},
    }
    config = {"base_model": f"org/{hostile}", "adapter": "lora", "lora_r": 16, "lora_target_modules": [hostile, "q|k"]}
    manifest = {
        "base_model": {"id": f"org/{hostile}"},
        "versions": {"axowrap": "0.1.0", hostile: hostile},
        "datasets": [{"source": hostile, "sha256": "ab" * 32}],
        "holdout": {"rows": 3, "fraction": 0.1, "seed": 42},
    }
    return CardInputs(
        kind=kind,
        repo_id="acme/sql-GGUF" if kind == "gguf" else "acme/sql",
        repos={"merged": "acme/sql", "gguf": "acme/sql-GGUF"},
        spec=spec,
        config=config,
        manifest=manifest,
        metrics={hostile: {"base": 0.1, "tuned": 0.2}, "exact_match": {"base": 0.1, "tuned": 0.5}},
        files=[f"{hostile}.gguf", "sql-q8_0.gguf", "Modelfile"] if kind == "gguf" else ["config.json"],
    )


@pytest.mark.parametrize("kind", ["adapter", "merged", "gguf"])
def test_cards_with_hostile_values_keep_their_structure(kind: str) -> None:
    from huggingface_hub import ModelCard

    from axowrap.hub.cards import render_card

    def body(text: str) -> str:  # what the Hub renders: the card after its front matter
        return str(ModelCard(text).text)

    baseline = structure(body(render_card(card_inputs(kind, "plain"))))
    for hostile in HOSTILE:
        card = body(render_card(card_inputs(kind, hostile)))  # its front matter round-trips (checked inside)
        assert structure(card) == baseline, hostile
        assert "evil.example" not in "".join(str(t) for t in structure(card))


def test_serving_readme_with_hostile_paths(tmp_path: Path) -> None:
    from axowrap.chat.format import INPUT, INSTRUCTION, PromptFormat
    from axowrap.run.rundir import RunDir
    from axowrap.serve.modelfile import ServeTemplate
    from axowrap.serve.readme import readme_text

    # both READMEs: a raw-prompt (alpaca) run's completions curl, and a chat run's
    alpaca = PromptFormat(kind="alpaca", with_input=f"{INSTRUCTION}\n{INPUT}\n", no_input=f"{INSTRUCTION}\n")
    chat = PromptFormat(kind="chat")
    served = ServeTemplate("ChatML", "{{ .Prompt }}", ("<|im_end|>",), "recognised")

    def readme(root: str, fmt: PromptFormat) -> str:
        run = RunDir(tmp_path / root)
        return readme_text(run, "sql", {"q8_0": run.gguf / "sql-q8_0.gguf"}, "q8_0", served, fmt)

    for fmt in (alpaca, chat):
        baseline = structure(readme("plain", fmt))
        for hostile in NAMEABLE:
            assert structure(readme(hostile, fmt)) == baseline, hostile


# ------------------------------------------------------------------ new and init


@pytest.mark.parametrize("hostile", HOSTILE)
def test_new_spec_with_a_hostile_model_and_data(hostile: str) -> None:
    from axowrap.spec.new import new_spec_text
    from axowrap.yamlio import parse_yaml

    text = new_spec_text("sql", model=f"org/{hostile}", data=f"data/{hostile}.jsonl")
    data = parse_yaml(text, "<new>").data
    assert set(data) == {"task", "base_model", "method", "datasets", "training", "eval", "export", "compute"}
    assert data["base_model"] == f"org/{hostile}" and data["datasets"][0]["path"] == f"data/{hostile}.jsonl"


def test_team_scaffold_refuses_a_hostile_org(tmp_path: Path) -> None:
    from helpers import run_cli

    for hostile in HOSTILE:
        res = run_cli("init", str(tmp_path / "ft"), "--org", hostile)
        assert res.code == 2 and not (tmp_path / "ft").exists(), hostile
