#!/usr/bin/env bash
# The Kafka server under a real client: `mqlab broker --kafka-port` on a loopback port chosen
# here, loaded by bench/kafka_load.c (librdkafka): a producer of RECORDS 100-byte records to a
# topic of 6 partitions on one broker (acks=1, linger 5 ms), then a consumer group member
# reading them all back. Prints records/s and MB/s for both and the produce latency p50/p99
# (send to delivery report). Each side runs REPEAT times on a fresh topic; the median run by
# records/s is reported.
# Usage: scripts/bench-kafka.sh [RECORDS] [REPEAT]     (defaults 1000000 and 5)
set -euo pipefail
cd "$(dirname "$0")/.."
records=${1:-1000000}
repeat=${2:-5}
bash scripts/install-deps.sh
[[ -x build/bin/mqlab-kafka-load && -x build/bin/mqlab ]] || make build >/dev/null
work=$(mktemp -d)
source scripts/bench-common.sh
port=$(free_port)
start_mqlab "$work/mqlab.log" --data-dir none --kafka-port "$port" --num-partitions 6 --log-level warn
trap 'stop_mqlab; rm -rf "$work"' EXIT
wait_port "$port"

for run in $(seq "$repeat"); do
  build/bin/mqlab-kafka-load "127.0.0.1:$port" produce "bench-$run" "$records" 100 1 >> "$work/produce.jsonl"
  build/bin/mqlab-kafka-load "127.0.0.1:$port" consume "bench-$run" "$records" "bench-group-$run" >> "$work/consume.jsonl"
done

/usr/bin/python3 - "$work" "$records" "$repeat" <<'EOF'
import json, sys
work, records, repeat = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
def median(name):
    runs = sorted((json.loads(l) for l in open(f"{work}/{name}.jsonl")), key=lambda r: r["records_per_s"])
    return runs[len(runs) // 2], [int(r["records_per_s"]) for r in runs]
p, p_all = median("produce")
c, c_all = median("consume")
print(f"== {records} records of 100 bytes, 6 partitions, acks=1, linger 5 ms; median of {repeat} runs ==")
print(f"produce  {p['records_per_s']:>10,.0f} records/s  {p['mb_per_s']:7.1f} MB/s  "
      f"latency p50 {p['p50_us'] / 1000:.1f} ms  p99 {p['p99_us'] / 1000:.1f} ms   (all runs: {p_all})")
print(f"consume  {c['records_per_s']:>10,.0f} records/s  {c['mb_per_s']:7.1f} MB/s   (all runs: {c_all})")
print("targets: produce >= 1,000,000 records/s, consume >= 2,000,000 records/s "
      "(Kafka's published single-producer figure: 821,557 records/s)")
EOF
