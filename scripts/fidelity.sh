#!/usr/bin/env bash
# Fidelity, measured: each scenario of bench/fidelity/ runs in the simulation with its calibrated
# profile and over loopback against the real server, at 30%, 60% and 90% of the simulation's
# maximum sustainable rate and at the maximum itself; the table sets predicted against measured
# (maximum rate, throughput, e2e p50/p99, publish response p50/p99) and marks each target:
# maximum rate within 15%, p50 within 20% and p99 within 30% at every load below 90%.
# Usage: scripts/fidelity.sh [--quick] [SCENARIO.yaml ...]   (default: every bench/fidelity/*.yaml)
# Exit code 0 when every target holds, 1 when one is missed.
set -euo pipefail
cd "$(dirname "$0")/.."
[[ -x build/bin/mqlab ]] || make build >/dev/null
exec /usr/bin/python3 scripts/fidelity.py "$@"
