"""Every ```toml block in the docs passes `verify-service check-config` as printed.

The rule is the reviewers' checker (/work/shared/tools/readme_toml.py): each block is a
whole config file on its own; every `"env:NAME"` it names is set to a dummy value of 40+
characters; nothing else may be filled in. A block that only works after the reader
replaces a placeholder fails here."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = [
    ROOT / "README.md",
    *sorted((ROOT / "docs").glob("*.md")),
    *sorted(ROOT.glob("examples/*.md")),
]
BLOCK = re.compile(r"```toml\n(.*?)```", re.S)
ENV_NAME = re.compile(r'"env:([A-Za-z_][A-Za-z0-9_]*)"')


def blocks() -> list[tuple[str, str]]:
    found = []
    for doc in DOCS:
        text = doc.read_text()
        for match in BLOCK.finditer(text):
            line = text.count("\n", 0, match.start()) + 1
            found.append((f"{doc.relative_to(ROOT)}:{line}", match.group(1)))
    return found


def dummy(name: str) -> str:
    return "readme-check-" + name.lower().replace("_", "-") + "-0123456789abcdef"


def test_the_docs_have_config_blocks() -> None:
    # A changed fence style (```TOML, ~~~) would make the parametrized test below vacuous.
    where = [where for where, _ in blocks()]
    assert sum(w.startswith("README.md") for w in where) >= 6, where
    assert any(w.startswith("docs/") for w in where), where


@pytest.mark.parametrize(("where", "block"), blocks(), ids=[w for w, _ in blocks()])
def test_block_passes_check_config(where: str, block: str, tmp_path: Path) -> None:
    # The runner's own VERIFY_* settings (a real Redis URL, a pepper) must not help a block.
    env = {k: v for k, v in os.environ.items() if not k.startswith("VERIFY_")}
    env.update({name: dummy(name) for name in ENV_NAME.findall(block)})
    config = tmp_path / "block.toml"
    config.write_text(block)
    out = subprocess.run(
        [sys.executable, "-m", "verify_service", "check-config", "--config", str(config)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert out.returncode == 0, f"{where}:\n{out.stderr}"
    assert out.stdout.startswith("config OK"), out.stdout
