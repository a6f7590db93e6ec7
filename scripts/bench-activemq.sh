#!/usr/bin/env bash
# Side by side: Debian's activemq 5.17 (STOMP connector) and `mqlab broker --stomp-port`, both on
# loopback ports chosen here, loaded by the same client binary (bench/stomp_load.cc) with N
# messages of 100 bytes, non-persistent and persistent:
#   send     N sends pipelined to a fresh queue, the last with a receipt (msgs/s)
#   consume  N queued first, then one subscriber (ack auto, prefetch 1000) drains them (msgs/s)
#   e2e      a subscriber takes while a producer sends at 10 000 msgs/s: send-to-delivery p50/p99
# Each runs REPEAT times per broker; the median run (by msgs/s) is reported, with mqlab/ActiveMQ
# ratios. ActiveMQ persists to KahaDB; mqlab's JMS core keeps persistent messages in memory.
# Usage: scripts/bench-activemq.sh [MESSAGES] [REPEAT]     (defaults 100000 and 3)
set -euo pipefail
cd "$(dirname "$0")/.."
messages=${1:-100000}
repeat=${2:-3}
bash scripts/install-deps.sh --bench
[[ -x build/bin/mqlab-stomp-load && -x build/bin/mqlab ]] || make build >/dev/null
source scripts/bench-common.sh

amq_port=$(free_port)
# Nagle off on both sides, as mqlab's sockets have it (ActiveMQ's default leaves it on, which alone
# puts tens of milliseconds into its e2e latency).
/usr/bin/python3 tests/net/clients/activemq_peer.py "$amq_port" transport.tcpNoDelay=true > /dev/null 2>&1 &
amq_pid=$!
mqlab_port=$(free_port)
build/bin/mqlab broker --stomp-port "$mqlab_port" --data-dir none --log-level warn > /dev/null 2>&1 &
mqlab_pid=$!
trap 'kill "$amq_pid" "$mqlab_pid" 2>/dev/null || true; wait "$amq_pid" "$mqlab_pid" 2>/dev/null || true' EXIT
wait_port "$amq_port"
wait_port "$mqlab_port"
# A JVM's first messages are slow (its JIT warms up) and its STOMP connector may not serve the
# very first connection: warm both brokers up, untimed.
for port in "$amq_port" "$mqlab_port"; do
  for _ in 1 2 3; do timeout 60 build/bin/mqlab-stomp-load "$port" consume 20000 > /dev/null && break; done
done

# The median of REPEAT runs, as "msgs_per_s p50_us p99_us".
measure() {
  local port=$1 mode=$2 kind=$3 count=$messages
  [[ $mode == e2e ]] && count=$((messages < 30000 ? messages : 30000))  # 3 s at 10 000 msgs/s
  for _ in $(seq "$repeat"); do
    timeout 300 build/bin/mqlab-stomp-load "$port" "$mode" "$count" "$kind"
  done | /usr/bin/python3 -c '
import json, sys
runs = sorted((json.loads(l) for l in sys.stdin), key=lambda r: r["msgs_per_s"])
r = runs[len(runs) // 2]
print(int(r["msgs_per_s"]), r["p50_us"], r["p99_us"])'
}

echo "== $messages messages of 100 bytes per run, median of $repeat runs; e2e at 10 000 msgs/s =="
printf "%-30s | %14s %10s | %14s %10s | %8s\n" "" "activemq" "p99 us" "mqlab" "p99 us" "ratio"
for kind in non-persistent persistent; do
  for mode in send consume e2e; do
    read -r a_rate a_p50 a_p99 < <(measure "$amq_port" "$mode" "$kind")
    read -r m_rate m_p50 m_p99 < <(measure "$mqlab_port" "$mode" "$kind")
    if [[ $mode == e2e ]]; then
      printf "%-30s | %14s %10s | %14s %10s | %7.2fx\n" "$kind $mode p50/p99 us" "$a_p50" "$a_p99" "$m_p50" "$m_p99" \
        "$(echo "$m_p99 / $a_p99" | bc -l)"
    else
      printf "%-30s | %14s %10s | %14s %10s | %7.1fx\n" "$kind $mode msgs/s" "$a_rate" "" "$m_rate" "" \
        "$(echo "$m_rate / $a_rate" | bc -l)"
    fi
  done
done
echo "(rates: mqlab/ActiveMQ, higher is better; e2e: mqlab p99/ActiveMQ p99, lower is better)"
