#!/usr/bin/env bash
# What keeping messages on disk costs `mqlab broker --data-dir`, with the clients of the other
# benchmarks (bench/amqp_load.c on librabbitmq, bench/kafka_load.c on librdkafka):
#   recovery  MESSAGES persistent 100-byte messages published with confirms into a durable
#             queue, the broker SIGKILLed, restarted on its directory: the time its log reports
#             for recovering them, and the disk they take (bytes on disk / payload bytes)
#   kafka     RECORDS 100-byte records produced with acks=1 to 6 partitions kept on disk (fsync
#             policy: Kafka's default, never), the disk they take, and the time recovering
#             them (segments and their indexes) takes after a SIGKILL
# Persistent publishing with confirms against RabbitMQ is in scripts/bench-rabbitmq.sh (mode
# persistent). Usage: scripts/bench-storage.sh [MESSAGES] [RECORDS]   (defaults 1000000 and 1000000)
set -euo pipefail
cd "$(dirname "$0")/.."
messages=${1:-1000000}
records=${2:-1000000}
bash scripts/install-deps.sh --bench
[[ -x build/bin/mqlab-amqp-load && -x build/bin/mqlab-kafka-load && -x build/bin/mqlab ]] || make build >/dev/null
work=$(mktemp -d)
pid=
cleanup() {
  [[ -n "$pid" ]] && kill "$pid" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
source scripts/bench-common.sh
start() {  # start LOG ARGS...: a broker on the data directory, in the background
  local log=$1
  shift
  build/bin/mqlab broker --data-dir "$work/data" "$@" > "$log" 2>&1 &
  pid=$!
}
disk_ratio() {  # bytes under DIR / payload bytes
  /usr/bin/python3 -c 'import sys; print(f"{int(sys.argv[1]) / int(sys.argv[2]):.2f}")' "$(du -sb "$1" | cut -f1)" "$2"
}

port=$(free_port)
start "$work/fill.log" --amqp-port "$port"
wait_port "$port"
fill=$(build/bin/mqlab-amqp-load 127.0.0.1 "$port" fill "$messages")
kill -9 "$pid"
wait "$pid" 2>/dev/null || true
start "$work/recover.log" --amqp-port "$port"
wait_port "$port"
recovered=$(grep -o 'AMQP store .* recovered in .*' "$work/recover.log")
echo "== recovery: $messages persistent 100-byte messages, SIGKILL, restart =="
echo "filled with confirms: $fill"
echo "$recovered"
echo "disk per payload byte: $(disk_ratio "$work/data/amqp" $((messages * 100)))   (target: recovery under 2 s)"
kill "$pid"
wait "$pid" 2>/dev/null || true
rm -rf "$work/data"

port=$(free_port)
start "$work/kafka.log" --kafka-port "$port" --num-partitions 6 --log-level warn
wait_port "$port"
produced=$(build/bin/mqlab-kafka-load "127.0.0.1:$port" produce bench "$records" 100 1)
echo "== kafka: $records records of 100 bytes, 6 partitions on disk, acks=1 =="
echo "$produced"
echo "disk per payload byte: $(disk_ratio "$work/data/kafka" $((records * 100)))   (target: 1,000,000 records/s)"
kill -9 "$pid"
wait "$pid" 2>/dev/null || true
start "$work/kafka-recover.log" --kafka-port "$port" --num-partitions 6
wait_port "$port"
echo "after SIGKILL: $(grep -o 'Kafka logs recovered in .*' "$work/kafka-recover.log")"
