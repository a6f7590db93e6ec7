#!/usr/bin/env bash
# Memory per queued message: N 100-byte messages published (persistent, with confirms, by
# bench/amqp_load.c in fill mode) into a durable queue nobody reads, on Debian's RabbitMQ and
# on `mqlab broker --data-dir none` (everything in memory), both on loopback ports chosen here;
# then N 100-byte Kafka records (bench/kafka_load.c, acks=1) retained by `mqlab broker
# --kafka-port`. Prints each broker's resident memory before and after and the growth per message.
# RabbitMQ's is its Erlang VM's (beam.smp) RSS; RabbitMQ keeps small persistent messages in its
# queue index, part of it on disk, so its figure is a floor, not a like-for-like comparison.
# Usage: scripts/bench-memory.sh [MESSAGES]   (default 1000000; target: mqlab <= 200 B/message)
set -euo pipefail
cd "$(dirname "$0")/.."
messages=${1:-1000000}
bash scripts/install-deps.sh --bench
[[ -x build/bin/mqlab-amqp-load && -x build/bin/mqlab-kafka-load && -x build/bin/mqlab ]] || make build >/dev/null
work=$(mktemp -d)
source scripts/bench-common.sh
rss_kib() { awk '/VmRSS/{print $2}' "/proc/$1/status"; }

start_rabbitmq "$work/rabbitmq.log"
mqlab_port=$(free_port)
kafka_port=$(free_port)
build/bin/mqlab broker --data-dir none --amqp-port "$mqlab_port" --kafka-port "$kafka_port" --log-level warn \
  > "$work/mqlab.log" 2>&1 &
mqlab_pid=$!
cleanup() {
  kill "$mqlab_pid" 2>/dev/null || true
  stop_rabbitmq
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
wait_port "$rabbit_port"
wait_port "$mqlab_port"
beam=$(pgrep -n -f "beam.smp.*$rabbit_port" || pgrep -n beam.smp)

measure() {  # measure NAME PID COMMAND...: the RSS growth of PID while COMMAND fills it
  local name=$1 pid=$2 before after
  shift 2
  before=$(rss_kib "$pid")
  "$@" > /dev/null
  sleep 2
  after=$(rss_kib "$pid")
  printf "%-14s RSS %8d KiB before, %8d KiB with %d held: %6.0f B each\n" "$name" "$before" "$after" \
    "$messages" "$(( (after - before) * 1024 / messages ))"
}
echo "== $messages queued 100-byte messages (persistent, durable queue, nobody reading) =="
measure "mqlab amqp" "$mqlab_pid" build/bin/mqlab-amqp-load 127.0.0.1 "$mqlab_port" fill "$messages"
measure "rabbitmq" "$beam" build/bin/mqlab-amqp-load 127.0.0.1 "$rabbit_port" fill "$messages"
echo "== $messages retained 100-byte Kafka records (one partition, acks=1) =="
measure "mqlab kafka" "$mqlab_pid" build/bin/mqlab-kafka-load "127.0.0.1:$kafka_port" produce memory "$messages" 100 1
