#!/usr/bin/env bash
# Calibrates `mqlab broker` into a profile: starts it on a loopback port chosen here (with a
# data directory, so persistent messages are fsynced as by default), runs `mqlab calibrate`
# against it, stops it by its PID.
# Usage: scripts/calibrate-mqlab.sh [OUT] [more mqlab calibrate flags]
#        (OUT defaults to profiles/mqlab-loopback.yaml)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-profiles/mqlab-loopback.yaml}
shift || true
[[ -x build/bin/mqlab ]] || make build >/dev/null
work=$(mktemp -d)
source scripts/bench-common.sh

port=$(free_port)
start_mqlab "$work/broker.log" --amqp-port "$port" --data-dir "$work/data" --log-level warn
trap 'stop_mqlab; rm -rf "$work"' EXIT
wait_port "$port"
# One event-loop thread serves a node: the fit gives its work one core.
build/bin/mqlab calibrate --amqp "127.0.0.1:$port" --out "$out" --cores 1 --name mqlab-loopback \
  --title "mqlab broker on loopback (one event-loop thread), calibrated by scripts/calibrate-mqlab.sh" "$@"
