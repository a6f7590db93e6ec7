#!/usr/bin/env bash
# Calibrates `mqlab broker` into a profile: starts a three-node AMQP cluster (with a data
# directory, so persistent messages are fsynced) and three Kafka brokers in one process (their
# logs in memory, as net mode's in-process server keeps them), on loopback ports chosen here,
# runs `mqlab calibrate` against both with their PIDs (their CPU time and resident memory are
# read per probe: one librdkafka producer cannot saturate a broker on two cores), stops them by
# those PIDs. The AMQP probes run on node 0; the cluster's probes cross to the other nodes and
# mirror a queue to them; the Kafka probes use broker 0's listener, and one replicates to all three.
# Usage: scripts/calibrate-mqlab.sh [OUT] [more mqlab calibrate flags]
#        (OUT defaults to profiles/mqlab-loopback.yaml)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-profiles/mqlab-loopback.yaml}
shift || true
[[ -x build/bin/mqlab ]] || make build >/dev/null
work=$(mktemp -d)
source scripts/bench-common.sh

start_mqlab "$work/kafka.log" --cluster 3 --kafka-port 0 --data-dir none --log-level info
kafka_pid=$mqlab_pid
start_mqlab "$work/cluster.log" --cluster 3 --amqp-port 0 --data-dir "$work/amqp-data" --log-level info
cluster_pid=$mqlab_pid
trap 'kill $kafka_pid $cluster_pid 2>/dev/null || true; wait $kafka_pid $cluster_pid 2>/dev/null || true; rm -rf "$work"' EXIT
# The port node or broker N of a process listens on, from its log: PATTERN holds N.
port_of() {
  local log=$1 pattern=$2 port=""
  for _ in $(seq 600); do
    port=$(sed -n "s/.*$pattern listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p" "$log")
    [[ -n $port ]] && break
    sleep 0.1
  done
  [[ -n $port ]] || { echo "calibrate-mqlab.sh: $pattern did not start" >&2; exit 1; }
  echo "$port"
}
nodes=""
for node in 0 1 2; do
  nodes+="${nodes:+,}127.0.0.1:$(port_of "$work/cluster.log" "AMQP 0-9-1 node $node")"
done
kafka_port=$(port_of "$work/kafka.log" "Kafka broker 0")  # the others are in its metadata
# One event-loop thread serves a node: the fit gives its work one core. Its AMQP server holds a
# write that follows the last one to a client within 100 us (net/amqp/server.cc, coalesce_window).
build/bin/mqlab calibrate --amqp "$nodes" --kafka "127.0.0.1:$kafka_port" --broker-pid "$cluster_pid,$kafka_pid" \
  --out "$out" --cores 1 --write-coalescing-us 100 --name mqlab-loopback \
  --title "mqlab broker on loopback (one event-loop thread), calibrated by scripts/calibrate-mqlab.sh" "$@"
