"""Writes the fuzz targets' seed corpus from real client sessions: `mqlab broker` behind a
recording proxy (tests/net/clients/recording_proxy.py), pika, amqp-tools, confluent-kafka,
kafka-python and kcat talking to it, and what each client connection sent saved as one seed
(plus a last byte, which makes the target cut the stream into 260-byte reads). The record_batch
seeds are the record sets of the Produce requests among them. Run with Debian's Python:
  /usr/bin/python3 scripts/fuzz-corpus.py build/bin/mqlab
"""
import pathlib
import struct
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests/net/clients"))

import pika  # noqa: E402
from confluent_kafka import Consumer, Producer  # noqa: E402
from kafka import KafkaConsumer, KafkaProducer  # noqa: E402
from kafka.admin import KafkaAdminClient, NewTopic  # noqa: E402
from mqlab_broker import Broker, free_port  # noqa: E402
from recording_proxy import RecordingProxy  # noqa: E402

PIECE = b"\x07"


def amqp_sessions(url):
    c = pika.BlockingConnection(pika.URLParameters(url))
    ch = c.channel()
    ch.exchange_declare("orders", "topic", durable=True)
    ch.exchange_declare("by-headers", "headers")
    ch.queue_declare("dead")
    ch.queue_declare("orders.eu", durable=True, arguments={"x-message-ttl": 60000, "x-dead-letter-exchange": "",
                                                           "x-dead-letter-routing-key": "dead", "x-max-length": 100})
    ch.queue_bind("orders.eu", "orders", "order.eu.*")
    ch.queue_bind("orders.eu", "by-headers", arguments={"x-match": "any", "region": "eu"})
    ch.confirm_delivery()
    for i in range(5):
        ch.basic_publish("orders", f"order.eu.{i}", f"order {i}".encode(),
                         pika.BasicProperties(delivery_mode=2, content_type="text/plain", priority=i,
                                              headers={"region": "eu", "n": i, "tags": ["a", 1]},
                                              correlation_id=str(i), reply_to="replies", expiration="30000"))
    ch.basic_publish("by-headers", "", b"", pika.BasicProperties(headers={"region": "eu"}))
    ch.basic_get("orders.eu", auto_ack=False)
    ch.basic_qos(prefetch_count=2)
    seen = []

    def on_message(channel, method, properties, body):
        seen.append(body)
        if len(seen) % 3 == 0:
            channel.basic_nack(method.delivery_tag, requeue=False)
        elif len(seen) % 3 == 1:
            channel.basic_ack(method.delivery_tag)
        else:
            channel.basic_reject(method.delivery_tag, requeue=False)

    tag = ch.basic_consume("orders.eu", on_message)
    deadline = time.monotonic() + 5
    while len(seen) < 5 and time.monotonic() < deadline:
        c.process_data_events(time_limit=0.1)
    ch.basic_cancel(tag)
    tx = c.channel()
    tx.tx_select()
    tx.basic_publish("", "dead", b"in a transaction")
    tx.tx_rollback()
    tx.basic_publish("", "dead", b"committed")
    tx.tx_commit()
    ch.queue_purge("dead")
    ch.queue_unbind("orders.eu", "orders", "order.eu.*")
    ch.queue_delete("orders.eu")
    ch.exchange_delete("by-headers")
    c.close()


def amqp_tools(port):
    server = f"127.0.0.1:{port}"
    subprocess.run(["amqp-declare-queue", "-s", server, "-q", "tools", "-d"], check=True, capture_output=True, timeout=10)
    subprocess.run(["amqp-publish", "-s", server, "-r", "tools", "-p", "-C", "text/plain", "-H", "x-k: v", "-b", "hello"],
                   check=True, capture_output=True, timeout=10)
    subprocess.run(["amqp-get", "-s", server, "-q", "tools"], check=True, capture_output=True, timeout=10)


def kafka_sessions(bootstrap):
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10000)
    admin.create_topics([NewTopic("clicks", 2, 1)])
    admin.close()
    for codec in ("none", "gzip", "snappy", "lz4", "zstd"):
        p = Producer({"bootstrap.servers": bootstrap, "acks": "all", "compression.codec": codec, "linger.ms": 5})
        for i in range(5):
            p.produce("clicks", key=None if i == 0 else f"user-{i}".encode(), value=None if i == 1 else f"{codec} {i}".encode(),
                      headers=[("trace", f"{i}".encode()), ("empty", b"")])
        assert p.flush(15) == 0
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "clicks.g", "auto.offset.reset": "earliest",
                  "enable.auto.commit": False})
    c.subscribe(["clicks"])
    got, deadline = 0, time.monotonic() + 15
    while got < 25 and time.monotonic() < deadline:
        m = c.poll(0.2)
        got += m is not None and m.error() is None
    c.commit(asynchronous=False)
    c.close()
    kp = KafkaProducer(bootstrap_servers=bootstrap, acks=1)
    for i in range(5):
        kp.send("views", key=b"k", value=f"view {i}".encode())
    kp.flush(10)
    kp.close()
    kc = KafkaConsumer("views", bootstrap_servers=bootstrap, group_id="views.g", auto_offset_reset="earliest",
                       consumer_timeout_ms=3000)
    for _ in kc:
        pass
    kc.close()
    for args in (["-L"], ["-C", "-t", "clicks", "-o", "beginning", "-e", "-c", "3"]):
        subprocess.run(["kcat", "-b", bootstrap, *args], check=True, capture_output=True, timeout=30)
    subprocess.run(["kcat", "-b", bootstrap, "-P", "-t", "clicks", "-K:", "-z", "gzip"], input=b"a:1\nb:2\n",
                   check=True, capture_output=True, timeout=30)


def record_sets(session):
    """The record sets of the Produce requests (v3 and later) in a Kafka client's stream."""
    at = 0
    while at + 4 <= len(session):
        size = struct.unpack_from(">i", session, at)[0]
        request, at = session[at + 4:at + 4 + size], at + 4 + size
        key, version = struct.unpack_from(">hh", request, 0)
        if key != 0 or version < 3:
            continue
        pos = 8
        pos += 2 + max(0, struct.unpack_from(">h", request, pos)[0])  # client id
        pos += 2 + max(0, struct.unpack_from(">h", request, pos)[0])  # transactional id
        pos += 6  # acks, timeout
        for _ in range(struct.unpack_from(">i", request, pos)[0]):
            pos += 4
            pos += 2 + struct.unpack_from(">h", request, pos)[0]
            partitions = struct.unpack_from(">i", request, pos)[0]
            pos += 4
            for _ in range(partitions):
                length = struct.unpack_from(">i", request, pos + 4)[0]
                yield request[pos + 8:pos + 8 + length]
                pos += 8 + max(0, length)


def save(target, name, data):
    folder = ROOT / "fuzz/corpus" / target
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(data)


def main():
    binary = sys.argv[1]
    amqp_port, kafka_port = free_port(), free_port()
    amqp_proxy, kafka_proxy = RecordingProxy(amqp_port), RecordingProxy(kafka_port)
    broker = Broker(binary, "--kafka-port", str(kafka_port), "--kafka-advertised-listeners",
                    f"127.0.0.1:{kafka_proxy.port}", "--num-partitions", "2", port=amqp_port)
    try:
        amqp_sessions(f"amqp://guest:guest@127.0.0.1:{amqp_proxy.port}/%2F")
        amqp_tools(amqp_proxy.port)
        kafka_sessions(f"127.0.0.1:{kafka_proxy.port}")
        time.sleep(0.5)
    finally:
        broker.stop()
    for i, session in enumerate(s for s in amqp_proxy.recorded() if s):
        save("amqp_connection", f"session-{i:02d}", session + PIECE)
    batches = 0
    for i, session in enumerate(s for s in kafka_proxy.recorded() if s):
        save("kafka_connection", f"session-{i:02d}", session + PIECE)
        for records in record_sets(session):
            save("record_batch", f"produce-{batches:03d}", records)
            batches += 1
    print(f"{len(amqp_proxy.recorded())} AMQP and {len(kafka_proxy.recorded())} Kafka sessions, {batches} record sets")


if __name__ == "__main__":
    main()
