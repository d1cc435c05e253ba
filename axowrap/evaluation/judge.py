"""LLM-as-judge: ask any OpenAI-compatible endpoint to score answers against a rubric.

`eval.judge: {endpoint, model, rubric, scale}`; the judge is asked for a score from 1 to
`scale` (default 10) and its reply is parsed robustly ("Score: 7/10", `{"score": 7}`,
"**7**", "7 out of 10"...). Every raw reply is saved (eval/judge-<label>.jsonl) next to the
parsed score, so a judgement can be checked by hand. Standard library only.
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from axowrap.errors import AxowrapError
from axowrap.yamlio import atomic_write

MAX_TOKENS = 256  # "Score: N" and one sentence; a judge that keeps talking is cut, not waited for
DEFAULT_RUBRIC = "Is the answer correct, complete and helpful for the question, compared with the reference answer?"
PROMPT = """You are grading an answer.
Rubric: {rubric}

Question / prompt:
{prompt}

Reference answer:
{reference}

Answer to grade:
{answer}

Reply with a score from 1 (worst) to {scale} (best) as `Score: N`, then one sentence of reason."""

_PATTERNS = (
    re.compile(r'"score"\s*:\s*"?(-?\d+(?:\.\d+)?)'),
    re.compile(r"\bscore\b\s*(?:is|of|=|:)?\s*\**\s*(-?\d+(?:\.\d+)?)", re.I),
    re.compile(r"(-?\d+(?:\.\d+)?)\s*(?:/|out of)\s*(\d+)", re.I),
    re.compile(r"\*\*\s*(-?\d+(?:\.\d+)?)\s*\*\*"),
    re.compile(r"\[\[\s*(-?\d+(?:\.\d+)?)\s*\]\]"),
)


def parse_score(text: str, scale: float = 10) -> float | None:
    """The judge's score scaled to 0..1, or None when the reply holds no usable score."""
    for pattern in _PATTERNS:
        match = pattern.search(text)
        if not match:
            continue
        value = float(match.group(1))
        top = float(match.group(2)) if match.lastindex and match.lastindex >= 2 else scale
        if top > 0 and 0 <= value <= top:
            return value / top
    bare = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*\.?\s*", text)
    if bare and 0 <= float(bare.group(1)) <= scale:
        return float(bare.group(1)) / scale
    return None


LOOPBACK = ("localhost", "127.0.0.1", "::1")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect would carry the Authorization header to wherever it points: not followed."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def is_loopback(host: str) -> bool:
    import ipaddress

    if host in LOOPBACK or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_endpoint(url: str, api_key: str | None) -> None:
    """The judge is reached over http(s) only, and its API key goes only over https or to this
    machine: a spec naming `http://elsewhere` must not receive AXOWRAP_JUDGE_API_KEY in clear."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise AxowrapError(f"eval.judge.endpoint {url!r}: not an http(s) URL", hint="e.g. https://judge.example/v1")
    if api_key and parts.scheme != "https" and not is_loopback(parts.hostname):
        raise AxowrapError(
            f"eval.judge.endpoint {url!r}: refusing to send AXOWRAP_JUDGE_API_KEY over plain http to {parts.hostname}",
            hint="use an https:// endpoint (or a judge on this machine: localhost / 127.0.0.1)",
        )


def chat(endpoint: str, model: str, prompt: str, *, timeout: float = 120.0, api_key: str | None = None) -> str:
    """One /v1/chat/completions call; returns the reply text."""
    url = endpoint.rstrip("/")
    check_endpoint(url, api_key)
    if not url.endswith("/chat/completions"):
        url += "/chat/completions" if url.endswith("/v1") else "/v1/chat/completions"
    body = json.dumps(
        {"model": model, "messages": [{"role": "user", "content": prompt}], "temperature": 0, "max_tokens": MAX_TOKENS}
    ).encode()
    headers = {"Content-Type": "application/json"}
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.build_opener(_NoRedirect).open(request, timeout=timeout) as response:
            data = json.loads(response.read().decode("utf-8"))
        return str(data["choices"][0]["message"]["content"])
    except (urllib.error.URLError, OSError, ValueError, KeyError, IndexError, TypeError) as exc:
        raise AxowrapError(
            f"eval.judge: {url} did not answer a chat completion: {exc}",
            hint="start the judge server (e.g. `axowrap serve RUN`) or fix eval.judge.endpoint",
        ) from None


def judge_samples(
    samples: list[dict[str, Any]], settings: dict[str, Any], out: Path, *, api_key: str | None = None
) -> dict[str, Any]:
    """Score every (prompt, reference, answer) sample; save raw judgements to `out` (JSONL)."""
    scale = float(settings.get("scale", 10))
    rubric = settings.get("rubric") or DEFAULT_RUBRIC
    rows, scores = [], []
    for sample in samples:
        prompt = PROMPT.format(
            rubric=rubric,
            prompt=sample["prompt"],
            reference=sample["reference"],
            answer=sample["answer"],
            scale=f"{scale:g}",
        )
        raw = chat(settings["endpoint"], settings.get("model", "judge"), prompt, api_key=api_key)
        score = parse_score(raw, scale)
        rows.append({**sample, "judge_raw": raw, "score": score})
        if score is not None:
            scores.append(score)
    atomic_write(out, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    return {
        "judge_score": sum(scores) / len(scores) if scores else None,
        "judged": len(rows),
        "unparsed": len(rows) - len(scores),
        "raw": str(out),
    }
