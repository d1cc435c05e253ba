"""The data check on what real data looks like: role order, bytes that are not UTF-8 in every
reader, plain-text files, LLaMA-Factory v1 turns, and repeated findings capped."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from conftest import write
from helpers import run_cli

from axowrap.cli.data import check_source
from axowrap.data.check import check_file
from axowrap.data.formats import check_row, layout_for
from axowrap.data.readers import Unreadable, iter_rows, read_rows
from axowrap.errors import AxowrapError

REPO = Path(__file__).resolve().parent.parent
C4 = REPO / "tests" / "data" / "c4_sample.txt"
SHAREGPT = layout_for("sharegpt", {"messages": "conversations", "role": "from", "content": "value"})


def summary(report: Any) -> dict[tuple[str, str], int]:
    return {(s, c): n for s, c, n in report.summary()}


def turns(*roles: str) -> dict[str, Any]:
    return {"conversations": [{"from": r, "value": f"turn {i} ({r})"} for i, r in enumerate(roles)]}


# --- role order -----------------------------------------------------------------------------


def test_role_order_assistant_first_and_two_user_turns() -> None:
    assert check_row(SHAREGPT, turns("human", "gpt", "human", "gpt")) == []
    assert check_row(SHAREGPT, turns("system", "human", "gpt", "human", "gpt")) == []
    assert check_row(SHAREGPT, turns("gpt", "human", "gpt")) == [
        (
            "role order",
            "conversations starts with an assistant turn ('gpt') before any user turn; "
            "put the user turn first, or drop the turns before it",
            "warning",
        )
    ]
    assert check_row(SHAREGPT, turns("system", "human", "human", "gpt")) == [
        (
            "role order",
            "conversations[1] and [2] are two user turns in a row; "
            "merge them into one turn, or add the assistant answer between them",
            "warning",
        )
    ]
    messages = layout_for("messages")
    row = {"messages": [{"role": "assistant", "content": "hi"}, {"role": "user", "content": "q"}]}
    assert [c for c, _, _ in check_row(messages, row)] == ["role order"]
    kto = layout_for("kto")
    assert [c for c, _, _ in check_row(kto, {**row, "label": True})] == ["role order"]
    preference = layout_for("preference")
    prompt = [{"role": "user", "content": "a"}, {"role": "user", "content": "b"}]
    pair = {"conversations": prompt, "chosen": "yes", "rejected": "no"}
    assert [c for c, _, _ in check_row(preference, pair)] == ["role order"]
    # a chosen answer is an assistant turn on its own: no order to check
    assert (
        check_row(preference, {"prompt": "q", "chosen": {"role": "assistant", "content": "y"}, "rejected": "n"}) == []
    )


@pytest.mark.axolotl  # reads Axolotl's bundled chat templates (no import)
def test_role_order_is_an_error_when_the_chat_template_refuses_it(workdir: Path) -> None:
    from axowrap.data.roles import judge_for

    assert judge_for("chatml", None).refuses(("assistant", "user")) is None  # type: ignore[union-attr]
    mistral = judge_for("mistral_v1", None)
    assert mistral is not None and mistral.refuses(("user", "assistant", "user", "assistant")) is None
    assert mistral.refuses(("assistant", "user")) == (
        "After the optional system message, conversation roles must alternate user/assistant/user/assistant/..."
    )
    data = workdir / "examples" / "data" / "function-calling.jsonl"
    rows = [json.loads(x) for x in data.read_text().splitlines()]
    rows[2]["conversations"] = rows[2]["conversations"][1:]  # now starts with the assistant's turn
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    spec = workdir / "examples" / "function-calling.yaml"
    report = check_source(spec, tokens=False)  # ChatML (the default) renders it: a warning
    assert summary(report)[("warning", "role order")] == 1 and report.ok
    spec.write_text(spec.read_text() + "chat_template: mistral_v1\n")
    report = check_source(spec, tokens=False)
    (found,) = [f for f in report.findings if f.category == "role order"]
    assert (found.severity, found.where) == ("error", 3)
    assert "the chat template 'mistral_v1' refuses it (After the optional system message" in found.message
    res = run_cli("validate", str(spec))
    assert res.code == 1 and "line 3: role order: conversations starts with an assistant turn" in res.out


@pytest.mark.axolotl
def test_axolotl_refuses_what_the_judge_refuses(tiny_model: Path) -> None:
    """The referee: Axolotl's own chat_template strategy fails on the row the judge refuses."""
    from axolotl.prompt_strategies.chat_template import load
    from axolotl.utils.dict import DictDefault
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(tiny_model))
    cfg = DictDefault({"chat_template": "mistral_v1", "sequence_len": 256, "train_on_inputs": False})
    ds = {
        "type": "chat_template",
        "field_messages": "conversations",
        "message_property_mappings": {"role": "from", "content": "value"},
        "roles": {"user": ["human"], "assistant": ["gpt"]},
    }
    strategy = load(tokenizer, cfg, ds)
    assert strategy.tokenize_prompt(turns("human", "gpt"))["input_ids"]
    with pytest.raises(Exception, match="conversation roles must alternate"):
        strategy.tokenize_prompt(turns("gpt", "human", "gpt"))


# --- invalid UTF-8, every reader ----------------------------------------------------------------


def test_invalid_utf8_has_line_and_byte_offset_in_every_reader(tmp_path: Path) -> None:
    rows = [{"instruction": f"question {i} é", "output": f"answer {i}"} for i in range(4)]
    # JSON lines
    lines = [json.dumps(r, ensure_ascii=False).encode() for r in rows]
    lines[2] = lines[2].replace(b"question 2", b"question\xa8 2")
    data = b"\n".join(lines) + b"\n"
    (tmp_path / "a.jsonl").write_bytes(data)
    got = list(iter_rows(tmp_path / "a.jsonl"))
    assert [w for w, _ in got] == [1, 2, 3, 4]
    bad = got[2][1]
    assert isinstance(bad, Unreadable) and bad.category == "invalid UTF-8"
    offset = data.index(b"\xa8")
    assert bad.reason == f"invalid UTF-8: byte 0xa8 at byte offset {offset} (column 26)"
    # a JSON array (read in chunks: the offset survives the sliding buffer)
    data = json.dumps(rows, indent=2, ensure_ascii=False).encode().replace(b"answer 3", b"answer\xff 3")
    (tmp_path / "a.json").write_bytes(data)
    got = list(iter_rows(tmp_path / "a.json"))
    assert [isinstance(r, Unreadable) for _, r in got] == [False, False, False, True]
    offset = data.index(b"\xff")
    assert got[3][1].reason == f"invalid UTF-8: byte 0xff at byte offset {offset} (line 16)"
    # CSV, the bad byte on the second line of a quoted value
    data = 'instruction,output\nq1,a1\nq2,"two\nlines\xe9"\nq3,a3\n'.encode("latin-1")
    (tmp_path / "a.csv").write_bytes(data)
    got = list(iter_rows(tmp_path / "a.csv"))
    assert got[0] == (2, {"instruction": "q1", "output": "a1"}) and got[2] == (5, {"instruction": "q3", "output": "a3"})
    offset = data.index(b"\xe9")
    assert got[1][0] == 4 and got[1][1].reason == f"invalid UTF-8: byte 0xe9 at byte offset {offset} (column 6)"
    # plain text
    (tmp_path / "a.txt").write_bytes(b"one\nt\xc3wo\nthree\n")
    got = list(iter_rows(tmp_path / "a.txt"))
    assert got[0] == (1, {"text": "one"}) and got[2] == (3, {"text": "three"})
    assert got[1][1].reason == "invalid UTF-8: byte 0xc3 at byte offset 5 (column 2)"
    # the held-out split and the eval read through the same reader: a clear error, not a replacement
    with pytest.raises(AxowrapError, match=r"a\.csv:4: invalid UTF-8: byte 0xe9"):
        list(read_rows(tmp_path / "a.csv"))


def test_invalid_utf8_in_the_data_check_and_validate(workdir: Path) -> None:
    data = workdir / "examples" / "data" / "sql.jsonl"
    raw = data.read_bytes().split(b"\n")
    raw[6] = raw[6].replace(b"SELECT", b"SEL\x80ECT", 1)
    data.write_bytes(b"\n".join(raw))
    report = check_source(workdir / "examples" / "sql.yaml", tokens=False)
    (found,) = [f for f in report.findings if f.category == "invalid UTF-8"]
    assert found.where == 7 and found.severity == "error" and "byte 0x80 at byte offset" in found.message
    res = run_cli("validate", "examples/sql.yaml")
    assert res.code == 1 and "sql.jsonl:7: error: datasets[0].path: line 7: invalid UTF-8: byte 0x80" in res.out


# --- plain text ---------------------------------------------------------------------------------


def test_txt_is_one_text_row_per_line(workdir: Path) -> None:
    lines = C4.read_text(encoding="utf-8").splitlines()
    shutil.copy(C4, workdir / "examples" / "data" / "c4.txt")
    spec = workdir / "examples" / "completion.yaml"
    spec.write_text(spec.read_text().replace("data/completion.jsonl", "data/c4.txt"))
    report = check_source(spec, tokens=False)
    assert report.ok and report.datasets[0].rows == len(lines) and report.datasets[0].format == "text"
    assert run_cli("validate", str(spec)).code == 0
    report = check_file(workdir / "examples" / "data" / "c4.txt", tokens=False)  # detected as text
    assert report.ok and report.datasets[0].format == "text" and not report.findings
    from axowrap.data.split import prepare_data
    from axowrap.run.rundir import RunDir
    from axowrap.validate import load_spec

    prepared = prepare_data(load_spec(spec), RunDir(workdir / "run").data)
    written = [
        json.loads(x) for p in [prepared.train_paths[0], prepared.holdout_path] for x in p.read_text().splitlines()
    ]  # type: ignore[union-attr]
    assert sorted(r["text"] for r in written) == sorted(lines)


def test_txt_for_other_formats_is_refused_in_one_line(workdir: Path) -> None:
    shutil.copy(C4, workdir / "c4.txt")
    res = run_cli("data", "check", "c4.txt", "--format", "alpaca")
    assert res.code == 2
    assert "c4.txt: a .txt file is read as text rows (one row per line), not as 'alpaca' rows" in res.err
    assert "invalid JSON" not in res.out + res.err
    spec = workdir / "examples" / "instruct.yaml"
    shutil.copy(C4, workdir / "examples" / "data" / "notes.txt")
    spec.write_text(spec.read_text().replace("data/instruct.jsonl", "data/notes.txt"))
    res = run_cli("validate", str(spec))
    assert res.code == 1
    assert (
        "datasets[0].format: data/notes.txt is a .txt file, read as text rows (one per line), but the format is 'alpaca'"
        in res.out
    )
    assert res.out.count("error:") == 1


# --- LLaMA-Factory v1 turns -----------------------------------------------------------------------


def lf_row(i: int, **weights: float) -> dict[str, Any]:
    """A row as LLaMA-Factory v1's sharegpt converter writes it (content parts, loss_weight)."""
    call = json.dumps({"name": "get_weather", "arguments": {"city": f"city {i}"}})
    return {
        "messages": [
            {"role": "user", "content": [{"type": "text", "value": f"weather in city {i}?"}], "loss_weight": 0.0},
            {
                "role": "assistant",
                "content": [{"type": "tool_call", "value": call}],
                "loss_weight": weights.get("call", 1.0),
            },
            {"role": "tool", "content": [{"type": "text", "value": '{"temp": 21}'}], "loss_weight": 0.0},
            {
                "role": "assistant",
                "content": [{"type": "text", "value": f"It is 21 degrees in city {i}."}],
                "loss_weight": 1.0,
            },
        ]
    }


def test_llamafactory_v1_rows_give_no_flood(tmp_path: Path) -> None:
    path = tmp_path / "lf.jsonl"
    path.write_text("".join(json.dumps(lf_row(i)) + "\n" for i in range(1000)))
    report = check_file(path, "messages", tokens=False)
    assert report.ok and report.datasets[0].rows == 1000 and not report.findings
    # the texts are read from the `value` parts, as Axolotl reads them
    from axowrap.data.texts import prompt_and_target

    prompt, target = prompt_and_target(layout_for("messages"), lf_row(7))
    assert "weather in city 7?" in prompt and "It is 21 degrees in city 7." in target and "get_weather" in target


def test_llamafactory_loss_weight_axolotl_does_not_read_is_reported() -> None:
    issues = check_row(layout_for("messages"), lf_row(1, call=0.0))
    assert issues == [
        (
            "loss_weight not read",
            "messages[1] (assistant) has loss_weight 0, but Axolotl does not read loss_weight: it trains every assistant turn",
            "warning",
        )
    ]


# --- repeated findings ----------------------------------------------------------------------------


def test_repeated_findings_are_capped_with_a_count(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text("".join(json.dumps(turns("gpt", "human", "gpt")) + "\n" for _ in range(1000)))
    report = check_file(path, "sharegpt", tokens=False)
    assert summary(report)[("warning", "role order")] == 1000
    listed = [f.where for f in report.findings if f.category == "role order"]
    assert listed == list(range(1, 11))
    res = run_cli("data", "check", str(path), "--format", "sharegpt", "--no-tokens")
    assert res.code == 0 and "... and 990 more" in res.out and "... and 989 more" in res.out  # + 999 duplicates
    res = run_cli("data", "check", str(path), "--format", "sharegpt", "--no-tokens", "--json")
    data = json.loads(res.out)
    assert {"severity": "warning", "category": "role order", "count": 990} in data["not_listed"]


def test_csv_rows_keep_their_lines_after_blank_lines(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        fh.write("instruction,output\n\n")
        csv.writer(fh).writerows([["q1", "a1"], ["q2", "two\nlines"], ["q3", "a3"]])
    assert [w for w, _ in iter_rows(path)] == [3, 4, 6]


@pytest.mark.slow  # imports `datasets` (~5 s)
def test_text_rows_split_as_datasets_does(tmp_path: Path) -> None:
    """Axolotl reads `.txt` with the `datasets` text loader: the same rows, empty lines included."""
    import datasets

    path = write(tmp_path / "t.txt", "first\n\n  third  \nfourth\r\nfifth\rsixth\u2028seventh\n")
    ours = [r["text"] for _, r in iter_rows(path)]
    theirs = datasets.load_dataset("text", data_files=str(path), split="train", cache_dir=str(tmp_path / "c"))["text"]
    assert ours == theirs and "" in ours


def test_arrow_files_are_read(workdir: Path) -> None:
    import pyarrow as pa

    rows = [json.loads(x) for x in (workdir / "examples" / "data" / "sql.jsonl").read_text().splitlines()]
    table = pa.Table.from_pylist(rows)
    path = workdir / "examples" / "data" / "sql.arrow"
    with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_stream(sink, table.schema) as writer:  # what `datasets` writes
        writer.write_table(table, max_chunksize=16)
    assert [r for _, r in iter_rows(path)] == rows and [w for w, _ in iter_rows(path)] == list(range(len(rows)))
    spec = workdir / "examples" / "sql.yaml"
    spec.write_text(spec.read_text().replace("data/sql.jsonl", "data/sql.arrow"))
    report = check_source(spec, tokens=False)
    assert report.ok and report.datasets[0].rows == len(rows)
    assert run_cli("validate", str(spec)).code == 0
