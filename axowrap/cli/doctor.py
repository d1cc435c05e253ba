"""`axowrap doctor`: versions, devices, disk, the Hub, the pins, and what each step is missing."""

from __future__ import annotations

from pathlib import Path

import click

from axowrap.cli.options import json_option, runs_dir_option


@click.command("doctor")
@runs_dir_option
@click.option("--no-hub", is_flag=True, help="Do not contact the Hub.")
@json_option
def command(runs_dir: Path, no_hub: bool, as_json: bool) -> None:
    """Check this installation: versions of Python, torch, Axolotl and the tools each step runs,
    the GPUs (CUDA, ROCm, MPS) and their memory, free disk for runs and caches, whether the Hub
    answers and a token is set (never shown), and for each step (train, merge, gguf, eval,
    push) what is missing or off the pinned versions, with the command that installs it.
    Exit code 1 when a step cannot run or a package is off its pin.

    \b
      axowrap doctor
      axowrap doctor --json | jq '.steps.gguf'
    """
    from axowrap.doctor import diagnose
    from axowrap.errors import AxowrapError

    report = diagnose(runs_dir, check_hub=not no_hub)
    if as_json:
        from axowrap.cli.envelope import print_json

        print_json(report.ok, **report.to_json())
    else:
        _print(report)
    if not report.ok:
        raise AxowrapError("some steps cannot run here", hint="install what is listed above")


def _print(report: object) -> None:
    from axowrap.cli.style import console, table

    data = report.to_json()  # type: ignore[attr-defined]
    con = console()
    versions = table(con, "package", "version", "pin", title="versions")
    pins = {p["name"].lower().replace("_", "-"): p for p in data["pins"]}
    for name, version in data["versions"].items():
        pin = pins.get(name)
        mark = (
            ""
            if pin is None
            else f"{pin['spec']} ({pin['extra'] or 'core'})" + ("" if pin["ok"] is not False else " OFF PIN")
        )
        versions.add_row(name, version or "not installed", mark)
    con.print(versions)
    dev = data["devices"]
    gpus = ", ".join(
        f"{g['name']} ({g.get('memory_gib') or g.get('memory') or '?'} GiB)".replace(" GiB GiB", " GiB")
        for g in dev["gpus"]
    )
    con.print(f"devices: {dev['backend']}" + (f": {gpus}" if gpus else " (no GPU)"))
    for d in data["disk"]:
        con.print(f"disk: {d['what']} {d['path']}: {d['free_gib']} GiB free of {d['total_gib']} GiB")
    hub = data["hub"]
    reach = {True: "reachable", False: "NOT reachable", None: "not checked"}[hub.get("reachable")]
    con.print(f"hub: {hub.get('endpoint')}: {reach} ({hub.get('detail')}); token: {hub.get('token') or 'none'}")
    steps = table(con, "step", "ready", "missing / off pin", "install", title="steps")
    for name, s in data["steps"].items():
        steps.add_row(name, "yes" if s["ready"] else "NO", ", ".join(s["missing"] + s["off_pin"]), s["install"] or "")
    con.print(steps)
