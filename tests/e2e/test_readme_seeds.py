"""The README's "Coming from the seed apps" examples, run as written against a real server.

Each `curl` command of the section's shell blocks is sent as is (method, path, headers,
body) to a fresh `PAYLEDGER_FAILURE_RATE=0 payledger serve`, and its answer is checked
against the `# <status> <json>` line under it: `<name>` stands for a value an earlier answer
gave (taken the first time, compared after), `...` for the rest of an object or a list. A
GET that does not match yet is asked again for a few seconds: lists and the summary follow
the log within moments, and a payment settles a moment after it is made.
"""

from __future__ import annotations

import json
import re
import shlex
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e import api
from tests.support.server import running_server

pytestmark = pytest.mark.e2e

README = Path(__file__).resolve().parents[2] / "README.md"
SECTION = "## Coming from the seed apps"
HOST = "localhost:8000"
EXPECTATION = re.compile(r"^# (?P<status>\d{3})(?: (?P<body>.+))?$")
PLACEHOLDER = re.compile(r"<([a-z_]+)>")
RETRY_TIMEOUT_S = 10.0
RETRY_INTERVAL_S = 0.05
MORE = "..."


@dataclass
class Example:
    """One command and what its answer must look like."""

    command: str
    status: int
    body: Any  # None: not checked


def section_text() -> str:
    text = README.read_text()
    start = text.index(SECTION)
    end = text.find("\n## ", start + len(SECTION))
    return text[start : end if end != -1 else len(text)]


def examples() -> list[Example]:
    """Every command of the section's shell blocks, in order, with its expectation."""
    found: list[Example] = []
    for block in re.findall(r"```bash\n(.*?)```", section_text(), re.DOTALL):
        command = ""
        for line in block.replace("\\\n", " ").splitlines():
            line = line.strip()
            if match := EXPECTATION.match(line):
                assert command, f"an expectation with no command before it: {line}"
                body = match["body"]
                found.append(Example(command, int(match["status"]), parse(body) if body else None))
                command = ""
            elif line:
                assert not command, f"a command with no expectation: {command}"
                command = line
        assert not command, f"a command with no expectation: {command}"
    return found


def parse(shown: str) -> Any:
    """A shown answer as JSON, with `...` (the rest) kept as a marker."""
    marked = shown.replace(", ...}", f', "{MORE}": "{MORE}"}}').replace(", ...]", f', "{MORE}"]')
    return json.loads(marked)


def request_of(command: str, names: dict[str, str]) -> tuple[str, str, dict[str, str], str]:
    """(method, path, headers, body) of a curl command, placeholders filled in."""
    words = shlex.split(command, comments=True)
    assert words[0] == "curl", command
    method, url, headers, data = "", "", {}, ""
    rest = iter(words[1:])
    for word in rest:
        if word == "-s":
            continue
        if word in ("-o", "-w"):
            next(rest)
        elif word.startswith("-X"):
            method = word[2:] or next(rest)
        elif word == "-H":
            name, _, value = next(rest).partition(":")
            headers[name.strip()] = value.strip()
        elif word == "-d":
            data = next(rest)
        else:
            url = word
    assert url.startswith(HOST), command

    def filled(text: str) -> str:
        return PLACEHOLDER.sub(lambda m: names[m.group(1)], text)

    path = filled(url[len(HOST) :])
    headers = {name: filled(value) for name, value in headers.items()}
    return method or ("POST" if data else "GET"), path, headers, filled(data)


def matches(shown: Any, actual: Any, names: dict[str, str]) -> bool:
    """Whether `actual` is what `shown` shows; placeholders seen the first time are taken."""
    if isinstance(shown, dict):
        rest = shown.get(MORE) == MORE
        keys = [key for key in shown if key != MORE]
        if not isinstance(actual, dict) or (not rest and set(keys) != set(actual)):
            return False
        return all(key in actual and matches(shown[key], actual[key], names) for key in keys)
    if isinstance(shown, list):
        rest = bool(shown) and shown[-1] == MORE
        items = shown[:-1] if rest else shown
        if not isinstance(actual, list) or len(actual) < len(items):
            return False
        if not rest and len(actual) != len(items):
            return False
        return all(matches(item, value, names) for item, value in zip(items, actual, strict=False))
    if isinstance(shown, str) and (placeholder := PLACEHOLDER.fullmatch(shown)):
        name = placeholder.group(1)
        if name not in names:
            names[name] = actual
        return bool(names[name] == actual)
    return bool(shown == actual)


def run(http: httpx.Client, example: Example, names: dict[str, str]) -> None:
    method, path, headers, data = request_of(example.command, names)
    deadline = time.monotonic() + (RETRY_TIMEOUT_S if method == "GET" else 0)
    while True:
        response = http.request(method, path, headers=headers, content=data or None)
        taken = dict(names)
        if response.status_code == example.status and (
            example.body is None or matches(example.body, response.json(), taken)
        ):
            names.update(taken)
            return
        if time.monotonic() >= deadline:
            raise AssertionError(
                f"{example.command}\nshows {example.status} {example.body}\n"
                f"answered {api.describe(response)}"
            )
        time.sleep(RETRY_INTERVAL_S)


def test_the_section_has_examples_for_every_seed() -> None:
    text = section_text()
    for seed in ("000", "001", "002", "003", "004"):
        assert f"### Seed {seed}" in text
    assert len(examples()) >= 20


def test_every_seed_example_in_the_readme_is_true() -> None:
    settings = {
        "PAYLEDGER_FAILURE_RATE": "0",
        "PAYLEDGER_ADMIN_EMAIL": "admin@schooly.com",  # as the section says to start it
        "PAYLEDGER_ADMIN_PASSWORD": "adminpassword",
    }
    with (
        running_server("sqlite", extra_settings=settings) as server,
        httpx.Client(
            base_url=server.base_url, timeout=api.REQUEST_TIMEOUT_S, follow_redirects=False
        ) as http,
    ):
        names: dict[str, str] = {}
        for example in examples():
            run(http, example, names)
        assert {"payment_id", "charge_id", "transaction_id", "registration_id"} <= set(names)
