#!/usr/bin/env bash
# The shortened fidelity check ctest runs (fidelity.check): `mqlab broker` calibrated here with
# its usual probes (one node, AMQP only: ~40 s), then scenario (a) predicted with that profile and
# measured over loopback at 30% and 45% of the lower of the two maxima, both found with a
# coarse search (scripts/fidelity.py --check: wider targets, see there). About 2
# minutes; scripts/fidelity.sh is the full comparison.
# Usage: scripts/fidelity-check.sh [MQLAB_BINARY]   (default: build/bin/mqlab)
set -euo pipefail
cd "$(dirname "$0")/.."
export MQLAB=${1:-${MQLAB:-build/bin/mqlab}}
work=$(mktemp -d)
source scripts/bench-common.sh
port=$(free_port)
start_mqlab "$work/broker.log" --amqp-port "$port" --log-level warn
trap 'stop_mqlab; rm -rf "$work"' EXIT
wait_port "$port"
"$MQLAB" calibrate --amqp "127.0.0.1:$port" --broker-pid "$mqlab_pid" --out "$work/now.yaml" --cores 1 \
  --write-coalescing-us 100 --quiet
stop_mqlab
MQLAB_FIDELITY_PROFILE="$work/now.yaml" /usr/bin/python3 scripts/fidelity.py --check
