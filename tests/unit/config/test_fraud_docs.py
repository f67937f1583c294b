"""The fraud guard's config examples (docs/fraud.md, README "Pumping guard") load as
printed, with their `env:NAME` values set."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from verify_service.abuse.fraud import guard_args
from verify_service.config import settings_from_mapping

ROOT = Path(__file__).resolve().parents[3]


def _blocks() -> list[tuple[str, str]]:
    fraud = (ROOT / "docs" / "fraud.md").read_text()
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("### Pumping guard") :]
    section = section[: section.index("\n## ")]
    found = [("docs/fraud.md", b) for b in re.findall(r"```toml\n(.*?)```", fraud, flags=re.S)]
    found += [("README.md", b) for b in re.findall(r"```toml\n(.*?)```", section, flags=re.S)]
    return found


@pytest.mark.parametrize(("where", "block"), _blocks())
def test_each_example_loads(where: str, block: str) -> None:
    env = {name: f"doc-{name.lower()}-0123456789" for name in re.findall(r'"env:(\w+)"', block)}
    settings = settings_from_mapping(tomllib.loads(block), env)
    for service in settings.services:
        guard_args(service.fraud_guard)  # every knob resolves


def test_there_are_examples() -> None:
    assert {where for where, _ in _blocks()} == {"docs/fraud.md", "README.md"}
