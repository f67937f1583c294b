"""Refresh the Swagger UI files that /docs serves (`make docs-assets`).

The version and its npm integrity hash are pinned in package-lock.json beside this file;
`npm ci` refuses a tarball that does not match it, and --ignore-scripts keeps the
package's telemetry install script (@scarf/scarf) from running. The files are copied
into the Python package, so serving needs no Node, no CDN and no network, and
SHA256SUMS records what was copied (tests/system/test_docs_page.py checks it).

To move to another version: edit package.json, `npm install --package-lock-only
--ignore-scripts`, then run this script and commit all three places."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
TARGET = HERE.parents[1] / "verify_service" / "api" / "docs_assets"
FILES = [
    "swagger-ui-bundle.js",
    "swagger-ui-standalone-preset.js",
    "swagger-ui.css",
    "favicon-32x32.png",
    "LICENSE",
    "NOTICE",
]


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        for name in ("package.json", "package-lock.json"):
            shutil.copy(HERE / name, tmp)
        subprocess.run(
            ["npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund"], cwd=tmp, check=True
        )
        source = Path(tmp) / "node_modules" / "swagger-ui-dist"
        TARGET.mkdir(exist_ok=True)
        sums = []
        for name in FILES:
            shutil.copy(source / name, TARGET / name)
            sums.append(f"{hashlib.sha256((TARGET / name).read_bytes()).hexdigest()}  {name}\n")
        (TARGET / "SHA256SUMS").write_text("".join(sums))
    print(f"vendored {len(FILES)} files of swagger-ui-dist into {TARGET}")


if __name__ == "__main__":
    main()
