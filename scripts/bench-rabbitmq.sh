#!/usr/bin/env bash
# Side by side: Debian's rabbitmq-server and `mqlab broker`, both on loopback ports chosen here,
# loaded by the same client binary (bench/amqp_load.c on librabbitmq) in three modes:
#   publish  N 100-byte messages without confirms, a consumer (prefetch 1000, multi-ack) draining
#   confirm  the same with publisher confirms in windows of 100
#   persistent  the same, persistent messages into a durable queue (both brokers fsync before
#            they confirm: RabbitMQ always, mqlab with its default --fsync always)
#   consume  N messages queued first, then drained by the consumer
# Prints msgs/s and publish-to-delivery latency p50/p99 for both, and mqlab/RabbitMQ ratios.
# Each mode runs REPEAT times per broker and the median run (by msgs/s) is reported.
# Usage: scripts/bench-rabbitmq.sh [MESSAGES] [REPEAT]     (defaults 300000 and 3)
set -euo pipefail
cd "$(dirname "$0")/.."
messages=${1:-300000}
repeat=${2:-3}
bash scripts/install-deps.sh --bench
[[ -x build/bin/mqlab-amqp-load && -x build/bin/mqlab ]] || make build >/dev/null
work=$(mktemp -d)
source scripts/bench-common.sh

start_rabbitmq "$work/rabbitmq.log"
mqlab_port=$(free_port)
build/bin/mqlab broker --data-dir "$work/mqlab-data" --amqp-port "$mqlab_port" --log-level warn > "$work/mqlab.log" 2>&1 &
mqlab_pid=$!
cleanup() {
  kill "$mqlab_pid" 2>/dev/null || true
  stop_rabbitmq
  wait "$rabbit_pid" "$mqlab_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
wait_port "$rabbit_port"
wait_port "$mqlab_port"

# The median of REPEAT runs, as "msgs_per_s p50_us p99_us".
measure() {
  local port=$1 mode=$2
  for _ in $(seq "$repeat"); do
    build/bin/mqlab-amqp-load 127.0.0.1 "$port" "$mode" "$messages"
  done | /usr/bin/python3 -c '
import json, sys
runs = sorted((json.loads(l) for l in sys.stdin), key=lambda r: r["msgs_per_s"])
r = runs[len(runs) // 2]
print(int(r["msgs_per_s"]), r["p50_us"], r["p99_us"])'
}

echo "== $messages messages of 100 bytes per run, median of $repeat runs; latency = publish to delivery =="
printf "%-8s | %12s %10s %10s | %12s %10s %10s | %10s %10s\n" mode "rabbit msg/s" "p50 us" "p99 us" \
  "mqlab msg/s" "p50 us" "p99 us" throughput "p99"
for mode in publish confirm persistent consume; do
  read -r r_rate r_p50 r_p99 < <(measure "$rabbit_port" "$mode")
  read -r m_rate m_p50 m_p99 < <(measure "$mqlab_port" "$mode")
  printf "%-8s | %12s %10s %10s | %12s %10s %10s | %9.1fx %9.2fx\n" "$mode" "$r_rate" "$r_p50" "$r_p99" \
    "$m_rate" "$m_p50" "$m_p99" "$(echo "$m_rate / $r_rate" | bc -l)" "$(echo "$m_p99 / $r_p99" | bc -l)"
done
echo "(throughput = mqlab/RabbitMQ, higher is better; p99 = mqlab/RabbitMQ, lower is better)"
