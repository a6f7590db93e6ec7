#!/usr/bin/env bash
# Calibrates `mqlab broker` into a profile: starts it on loopback ports chosen here, AMQP and
# Kafka (with a data directory, so persistent messages are fsynced and Kafka logs written as by
# default), runs `mqlab calibrate` against both with the broker's PID (its CPU time is read per
# probe: one librdkafka producer cannot saturate it on two cores), stops it by that PID.
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
kafka_port=$(free_port)
start_mqlab "$work/broker.log" --amqp-port "$port" --kafka-port "$kafka_port" --data-dir "$work/data" --log-level warn
trap 'stop_mqlab; rm -rf "$work"' EXIT
wait_port "$port"
wait_port "$kafka_port"
# One event-loop thread serves a node: the fit gives its work one core.
build/bin/mqlab calibrate --amqp "127.0.0.1:$port" --kafka "127.0.0.1:$kafka_port" --broker-pid "$mqlab_pid" \
  --out "$out" --cores 1 --name mqlab-loopback \
  --title "mqlab broker on loopback (one event-loop thread), calibrated by scripts/calibrate-mqlab.sh" "$@"
