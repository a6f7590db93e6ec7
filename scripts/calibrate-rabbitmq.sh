#!/usr/bin/env bash
# Calibrates Debian's rabbitmq-server into a profile: starts it on loopback ports chosen here,
# runs `mqlab calibrate` against it (its probes take about a minute), stops it again.
# Usage: scripts/calibrate-rabbitmq.sh [OUT] [more mqlab calibrate flags]
#        (OUT defaults to profiles/rabbitmq-3.10.yaml)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-profiles/rabbitmq-3.10.yaml}
shift || true
bash scripts/install-deps.sh --bench
[[ -x build/bin/mqlab ]] || make build >/dev/null
work=$(mktemp -d)
source scripts/bench-common.sh

start_rabbitmq "$work/rabbitmq.log"
cleanup() {
  stop_rabbitmq
  wait "$rabbit_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
wait_port "$rabbit_port"
version=$(dpkg-query -W -f '${Version}' rabbitmq-server)
# RabbitMQ's Erlang VM runs a scheduler per core: the fit spreads its work over all of them,
# with each queue and each channel a process that uses one core at a time. The VM's CPU time is
# measured (--broker-pid) rather than taken as what the prober left: where one process is the
# limit (a channel matching 1 000 header bindings) the VM keeps about one core busy, not two.
build/bin/mqlab calibrate --amqp "127.0.0.1:$rabbit_port" --out "$out" --cores "$(nproc)" --name rabbitmq-3.10 \
  --broker-pid "$(rabbit_vm_pid)" \
  --title "Debian's rabbitmq-server $version on loopback, $(nproc) cores, calibrated by scripts/calibrate-rabbitmq.sh" "$@"
