#!/usr/bin/env bash
# Builds .devkit/: everything bench/device_run.sh needs on the 16-core benchmark machine,
# which has Python 3.12 and no network (no package index, no redis-server). Run it here,
# then carry `.devkit` to the device (the device tool's `carry`; it is git-ignored):
#
#   bash bench/devkit.sh          # ~25 MB: wheels, redis-server, the issue's baseline
#   (device)  bash bench/device_run.sh
#
# What goes in, and why each:
# - wheels/: cp312 manylinux x86-64 wheels of requirements/runtime.lock, hash-checked
#   against the lock, plus what the bench itself imports from requirements/dev.lock
#   (psutil for the CPU counters; pytest and its dependencies for tests/support, which
#   starts the throwaway redis-server);
# - redis/: Debian's redis-server with the shared libraries `ldd` lists, except the C
#   library, libm and the loader (the device has its own), and bin/redis-server, a wrapper
#   that sets LD_LIBRARY_PATH for redis alone;
# - issue-baseline/: the service issue 22 measured (`git archive`), so that the device
#   measures it in the same minutes as this checkout (`--service-root ... --issue-baseline`).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
kit="$root/.devkit"
# Any Python with pip and packaging (the project's venv has both: `make .venv/.installed`).
python=${PYTHON:-$root/.venv/bin/python}
command -v "$python" > /dev/null || python=python3
baseline=47024a2  # bench/run.py ISSUE_BASELINE

rm -rf "$kit"
mkdir -p "$kit/wheels" "$kit/redis/lib" "$kit/bin"

# The runtime lock, and from the dev lock the bench's own imports (with their hashes).
"$python" - "$root/requirements/runtime.lock" "$root/requirements/dev.lock" \
  > "$kit/requirements.txt" <<'EOF'
import re
import sys

from packaging.markers import Marker

BENCH = {"psutil", "pytest", "iniconfig", "pluggy", "packaging", "pygments"}
# The device: CPython 3.12 on x86-64 Linux. pip evaluates a lock's markers for the
# interpreter it runs on whatever --python-version says, so they are decided here.
DEVICE = {
    "python_version": "3.12", "python_full_version": "3.12.0", "os_name": "posix",
    "sys_platform": "linux", "platform_system": "Linux", "platform_machine": "x86_64",
    "platform_python_implementation": "CPython", "implementation_name": "cpython",
}  # fmt: skip


def blocks(path):
    """name -> its requirement block for the device (`name==version`, its hash lines)."""
    found, keep = {}, None
    for line in open(path, encoding="utf-8"):
        start = re.match(r"^([A-Za-z0-9_.-]+)==([^ ;\\]+)(?: ; ([^\\]+))?", line)
        if start:
            name, version, marker = start.groups()
            keep = marker is None or Marker(marker.strip()).evaluate(DEVICE)
            if keep:
                found[name.lower()] = f"{name}=={version} \\\n"
            continue
        if not line.startswith(" "):
            keep = None
        elif keep and not line.lstrip().startswith("#"):
            found[name.lower()] += line
    return found


runtime, dev = blocks(sys.argv[1]), blocks(sys.argv[2])
missing = BENCH - dev.keys()
if missing:
    sys.exit(f"not in requirements/dev.lock: {', '.join(sorted(missing))}")
for name in sorted(runtime.keys() | BENCH):
    sys.stdout.write(runtime.get(name) or dev[name])
EOF
"$python" -m pip download --quiet --only-binary=:all: --no-deps \
  --implementation cp --python-version 3.12 --abi cp312 --abi abi3 --abi none \
  --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
  --platform manylinux_2_28_x86_64 --platform any \
  -d "$kit/wheels" -r "$kit/requirements.txt"

# redis-server and the libraries it links beyond the C library's own.
server=$(command -v redis-server)
cp "$server" "$kit/redis/redis-server"
ldd "$server" | awk '/=> \// {print $3}' | while read -r lib; do
  case "$(basename "$lib")" in
    libc.so.*|libm.so.*|ld-linux*|libpthread.so.*|libdl.so.*|librt.so.*) ;;
    *) cp -L "$lib" "$kit/redis/lib/" ;;
  esac
done
cat > "$kit/bin/redis-server" <<'EOF'
#!/bin/sh
# Debian's redis-server with the libraries it was built against (bench/devkit.sh).
redis=$(cd "$(dirname "$0")/../redis" && pwd)
LD_LIBRARY_PATH="$redis/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" exec "$redis/redis-server" "$@"
EOF
chmod +x "$kit/bin/redis-server"

# The issue's baseline service, for the same-minutes comparison.
mkdir -p "$kit/issue-baseline"
git -C "$root" archive "$baseline" | tar -x -C "$kit/issue-baseline"

du -sh "$kit"
