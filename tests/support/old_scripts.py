"""Earlier versions of the attempt log's writing scripts, frozen (attempts_v4: wave 4,
attempts_v5: wave 5), run in place of the current ones: what a service wrote before an
upgrade, or writes during a rolling deploy (test_attempts_rollups.py,
test_attempts_store.py)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from verify_service.store.scripts import PRELUDE, Scripts, _package_data

WAVE4 = Path(__file__).parent / "attempts_v4"
WAVE5 = Path(__file__).parent / "attempts_v5"


class OldScripts:
    """The store's scripts, but attempts_add / attempts_convert / attempts_dlr as an
    earlier version (`folder`: WAVE4 or WAVE5) had them, with the current prelude. A
    script the version after did not change is not frozen in its folder (wave 5's
    attempts_dlr is today's): the current one runs."""

    def __init__(self, scripts: Scripts, folder: Path = WAVE4) -> None:
        self._current = scripts
        self._old = {
            path.stem: scripts.client.register_script(
                f"{_package_data(PRELUDE)}\n{path.read_text()}"
            )
            for path in folder.glob("*.lua")
        }

    async def run(self, name: str, keys_: Sequence[str], args: Sequence[Any]) -> Any:
        if name in self._old:
            return await self._old[name](keys=keys_, args=args)
        return await self._current.run(name, keys_, args)
