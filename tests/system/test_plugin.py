"""The pytest plugin as an application meets it: installed with the package, found by
pytest through its entry point, with no conftest and no import of ours."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from verify_service.testing import RunningService, extract_code

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _pytest_in(project: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=180,
    )


def test_an_application_project_uses_the_fixture_without_conftest(tmp_path: Path) -> None:
    for name in ("login_app.py", "test_login_app.py"):
        shutil.copy(EXAMPLES / name, tmp_path / name)
    (tmp_path / "test_own_config.py").write_text(
        "import pytest\n"
        "from verify_service.client import VerifyClient\n\n"
        "@pytest.fixture\n"
        "def verify_service_config():\n"
        '    return {"service": {"template": "Code: %TOKEN%. Do not share it.",'
        ' "token_type": "alphanumeric"}}\n\n'
        "def test_own_config(verify_service):\n"
        "    with VerifyClient() as client:\n"
        '        client.start("+41791234567")\n'
        '        code = verify_service.last_code("+41791234567")\n'
        '        assert verify_service.last_message("+41791234567") == '
        'f"Code: {code}. Do not share it."\n'
        '        assert client.check(code.lower(), to="+41791234567").approved\n'
    )
    assert not (tmp_path / "conftest.py").exists()

    run = _pytest_in(tmp_path)

    assert run.returncode == 0, run.stdout + run.stderr
    assert "5 passed" in run.stdout
    assert "verify_service" not in run.stdout.split("warnings summary")[-1]  # none of ours


def test_each_test_starts_empty_first(verify_service: RunningService) -> None:
    with verify_service.client() as client:
        client.start("+41791234567")
    assert len(verify_service.messages("+41791234567")) == 1


def test_each_test_starts_empty_second(verify_service: RunningService) -> None:
    # Same number, same session server: no leftover message, no resend cooldown.
    assert verify_service.messages("+41791234567") == []
    with verify_service.client() as client:
        client.start("+41791234567")


def test_last_code_without_a_message_says_so(verify_service: RunningService) -> None:
    with pytest.raises(AssertionError, match="no message was sent to"):
        verify_service.last_code("+41791234567")


@pytest.mark.parametrize(
    ("text", "templates", "code"),
    [
        ("Your code is 123456", ["Your code is %TOKEN%"], "123456"),
        ("ABC123 is your code, ABC123!", ["%TOKEN% is your code, %TOKEN%!"], "ABC123"),
        ("Hi 2024! Code K7P9Q2\n@example.com #K7P9Q2", [], "K7P9Q2"),
        ("Pay 99.50 with 8812\n@shop.example #8812 @bank.example", [], "8812"),
        ("Code 4321 for 2 minutes", [], "4321"),
    ],
)
def test_extract_code(text: str, templates: list[str], code: str) -> None:
    assert extract_code(text, templates) == code
