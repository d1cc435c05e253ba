"""What must never be written down: secret-looking names and values, and how they are hidden.

One place for the rule, used by the run manifest (environment changes) and by the error log
(the command line, where `--env HF_TOKEN=hf_...` would otherwise be kept).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

REDACTED = "<redacted>"
SECRET_NAME = re.compile(r"TOKEN|SECRET|PASSWORD|PASSWD|API_?KEY|CREDENTIAL|AUTH", re.I)
# Values that are secrets whatever they are called: known token formats, and long opaque strings.
SECRET_VALUE = re.compile(
    r"hf_[A-Za-z0-9]{16,}|sk-[A-Za-z0-9_-]{16,}|gh[pousr]_[A-Za-z0-9]{20,}|xox[abprs]-[A-Za-z0-9-]{10,}"
    r"|AKIA[0-9A-Z]{16}|eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}|(?<![A-Za-z0-9/._-])[A-Za-z0-9+_-]{32,}(?![A-Za-z0-9/._-])"
)


def scrub_env(env: dict[str, str]) -> dict[str, str]:
    """Environment changes safe to write down: values of secret-looking names are replaced."""
    return {k: (REDACTED if SECRET_NAME.search(k) else v) for k, v in sorted(env.items())}


def redact_value(text: str) -> str:
    return SECRET_VALUE.sub(REDACTED, text)


def redact_argv(argv: Sequence[str]) -> list[str]:
    """A command line safe to log: `NAME=VALUE` and `--name VALUE` with a secret-looking name
    lose the value, and token-looking values are replaced wherever they are."""
    out: list[str] = []
    hide_next = False
    for arg in argv:
        if hide_next:
            out.append(REDACTED)
            hide_next = False
            continue
        name, sep, value = arg.partition("=")
        if sep and SECRET_NAME.search(name):
            out.append(f"{name}={REDACTED}")
            continue
        if arg.startswith("-") and not sep and SECRET_NAME.search(arg):
            hide_next = True
        out.append(redact_value(arg))
    return out
