"""Small helpers shared by the tests: run the CLI in-process and capture everything."""

from __future__ import annotations

from dataclasses import dataclass

from click.testing import CliRunner

from axowrap.cli.main import main


@dataclass
class Result:
    code: int
    out: str
    err: str


def run_cli(*args: str) -> Result:
    runner = CliRunner()
    holder: dict[str, int] = {}

    def entry() -> None:
        holder["code"] = main(list(args))

    import click

    cmd = click.Command("x", callback=entry)
    res = runner.invoke(cmd, [], catch_exceptions=False, color=False)
    return Result(holder.get("code", res.exit_code), res.stdout, res.stderr)
