#!/usr/bin/env bash
# Issue 22's runs on the 16-core benchmark machine, in one call: this checkout at 4 and 8
# workers (every phase: steady-state flows, 70 % of peak, memory, checks, soak), the
# issue's baseline at 4 and 8 workers in the same minutes (flows only), and this checkout
# at 12 workers (worker balance). Needs .devkit/ (bash bench/devkit.sh, carried along);
# installs nothing outside a temporary venv. Results (each run's report and its
# bench/results.json) go to $OUT, or ./device-out.
#
#   (device)  bash bench/device_run.sh            # ~8 minutes on 16 cores
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
kit="$root/.devkit"
out=${OUT:-$root/device-out}
python=${PYTHON:-python3}
[ -d "$kit/wheels" ] || { echo "no .devkit: run bash bench/devkit.sh first" >&2; exit 2; }
mkdir -p "$out"

# A venv, not --target: bench/run.py starts the service with its own PYTHONPATH.
venv="$(mktemp -d)/venv"
"$python" -m venv --system-site-packages "$venv"
"$venv/bin/python" -m pip install --quiet --no-index --no-deps "$kit"/wheels/*.whl
export PATH="$venv/bin:$kit/bin:$PATH"
cd "$root"

{
  echo "cores: $(nproc)"
  python --version
  redis-server --version
  git log -1 --format='checkout: %h %s' 2>/dev/null || true
} | tee "$out/machine.txt"

# One bench run: its report and results, whatever becomes of the next one.
bench() {
  local name=$1
  shift
  echo "=== $name: bench/run.py $*"
  if python bench/run.py "$@" > "$out/$name.txt" 2>&1; then
    cp bench/results.json "$out/$name.json"
    grep -E "flows/s|worker CPU|Redis CPU|p99|argon2|RSS" "$out/$name.txt" | head -40 || true
  else
    echo "$name failed:"
    tail -20 "$out/$name.txt"
  fi
}

# STEADY: the phases' lengths (a quick check of the kit elsewhere: STEADY="--warmup 1
# --duration 2 --rounds 1"); WORKERS: the counts compared.
read -r -a steady <<< "${STEADY:---warmup 4 --duration 8 --rounds 2}"
workers=${WORKERS:-4,8}
bench main --workers "$workers" "${steady[@]}"
bench baseline --service-root "$kit/issue-baseline" --issue-baseline --workers "$workers" \
  "${steady[@]}" --skip bare,open,memory,checks,soak
bench main-12 --workers "${BALANCE_WORKERS:-12}" "${steady[@]}" --skip bare,open,memory,checks,soak
