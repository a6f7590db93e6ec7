"""Unmodified Kafka clients against `mqlab broker --kafka-port`: kcat, kafka-python and
confluent-kafka (librdkafka) from Debian, asserting the seed's facts over the wire: per-key
order, a partition goes to one member of a group and extra members idle, every group reads
every record, a committed offset survives a consumer restart, a group rebalances when a
member leaves; every compression codec is accepted. Runs under /usr/bin/python3, where Debian's clients live."""
import json
import socket
import struct
import subprocess
import threading
import time
import unittest

from confluent_kafka import Consumer, Producer, TopicPartition
from kafka import KafkaConsumer, KafkaProducer
from kafka.admin import KafkaAdminClient, NewTopic
from kafka.partitioner.default import murmur2

from mqlab_broker import Broker, BrokerTestCase, binary_from_argv, free_port
from recording_proxy import RecordingProxy

BINARY = binary_from_argv()
LOAD_CLIENT = BINARY.replace("/mqlab", "/mqlab-kafka-load")


def poll_until(condition, seconds=20, step=0.05):
    """Bounded wait: True once condition() holds, False after `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(step)
    return False


class KafkaClientsAgainstMqlab(BrokerTestCase):
    BINARY = BINARY
    KAFKA_BROKERS = 1
    EXTRA = ("--num-partitions", "3")

    def admin(self):
        return KafkaAdminClient(bootstrap_servers=self.broker.bootstrap(), request_timeout_ms=10000)

    def create_topic(self, name, partitions):
        admin = self.admin()
        try:
            admin.create_topics([NewTopic(name, partitions, 1)])
        finally:
            admin.close()

    def kcat(self, *args, stdin=None):
        r = subprocess.run(["kcat", "-b", self.broker.bootstrap(), *args], input=stdin, capture_output=True,
                           text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        return r.stdout

    def confluent_consumer(self, group, **extra):
        conf = {"bootstrap.servers": self.broker.bootstrap(), "group.id": group, "auto.offset.reset": "earliest",
                "session.timeout.ms": 6000, "heartbeat.interval.ms": 500, **extra}
        return Consumer(conf)

    def drain(self, consumer, expected, seconds=20):
        got = []
        deadline = time.monotonic() + seconds
        while len(got) < expected and time.monotonic() < deadline:
            m = consumer.poll(0.2)
            if m is not None and m.error() is None:
                got.append(m)
        return got

    def test_kcat_metadata_produce_with_keys_and_consume_from_an_offset(self):
        self.create_topic("kcat.orders", 1)
        listing = self.kcat("-L", "-t", "kcat.orders")
        self.assertIn(f"broker 0 at 127.0.0.1:{self.broker.port}", listing)
        self.assertIn('topic "kcat.orders" with 1 partitions', listing)
        self.kcat("-P", "-t", "kcat.orders", "-K", ":", stdin="a:one\nb:two\na:three\n")
        out = self.kcat("-C", "-t", "kcat.orders", "-o", "1", "-e", "-f", "%k=%s@%o\n")
        self.assertEqual(out.split(), ["b=two@1", "a=three@2"])

    def test_every_compression_codec_is_accepted_and_read_back_as_sent(self):
        # Kafka accepts gzip, snappy, lz4 and zstd batches; many producers compress by default.
        for codec in ("gzip", "snappy", "lz4", "zstd"):
            topic = f"kcat.{codec}"
            self.create_topic(topic, 1)
            lines = "".join(f"k{i}:{codec}-value-{i}-" + "x" * 200 + "\n" for i in range(50))
            self.kcat("-P", "-t", topic, "-K", ":", "-z", codec, stdin=lines)
            out = self.kcat("-C", "-t", topic, "-o", "beginning", "-e", "-f", "%k:%s\n")
            self.assertEqual(out, lines, codec)

    def test_kcat_group_consume_commits_so_a_second_run_reads_nothing_new(self):
        self.create_topic("kcat.group", 2)
        self.kcat("-P", "-t", "kcat.group", "-K", ":", stdin="".join(f"k{i}:v{i}\n" for i in range(10)))
        # No -o: in -G mode kcat would seek every assigned partition there, overriding the commits.
        group = ("-G", "kcat.g", "-X", "auto.offset.reset=earliest", "-e", "-f", "%s\n", "kcat.group")
        first = self.kcat(*group)
        self.assertEqual(sorted(first.split()), sorted(f"v{i}" for i in range(10)))
        self.kcat("-P", "-t", "kcat.group", "-K", ":", stdin="k1:late\n")
        second = self.kcat(*group)
        self.assertEqual(second.split(), ["late"], "the group resumes from its committed offsets")

    def test_per_key_order_and_the_java_partitioner(self):
        self.create_topic("py.keys", 3)
        producer = KafkaProducer(bootstrap_servers=self.broker.bootstrap(), acks="all")
        sent = {}
        for i in range(60):
            key = f"user-{i % 7}".encode()
            md = producer.send("py.keys", key=key, value=str(i).encode()).get(timeout=10)
            sent.setdefault(key, []).append(i)
            # kafka-python's DefaultPartitioner is the Java client's murmur2 rule.
            self.assertEqual(md.partition, (murmur2(key) & 0x7fffffff) % 3)
        producer.close()
        consumer = KafkaConsumer("py.keys", bootstrap_servers=self.broker.bootstrap(), group_id="py.order",
                                 auto_offset_reset="earliest", consumer_timeout_ms=3000)
        seen = {}
        for m in consumer:
            seen.setdefault(m.key, []).append(int(m.value))
        consumer.close()
        self.assertEqual(seen, sent, "each key's records arrive in the order they were sent")

    def test_librdkafka_murmur2_random_puts_keys_where_the_java_client_would(self):
        self.create_topic("rdk.keys", 6)
        producer = Producer({"bootstrap.servers": self.broker.bootstrap(), "partitioner": "murmur2_random",
                             "acks": "all"})
        placed = {}
        for i in range(40):
            key = f"order-{i}".encode()
            producer.produce("rdk.keys", key=key, value=b"x",
                             on_delivery=lambda err, msg: placed.__setitem__(msg.key(), (err, msg.partition())))
        producer.flush(15)
        self.assertEqual(len(placed), 40)
        for key, (err, partition) in placed.items():
            self.assertIsNone(err)
            self.assertEqual(partition, (murmur2(key) & 0x7fffffff) % 6, key)

    def load(self, *args):
        r = subprocess.run([LOAD_CLIENT, self.broker.bootstrap(), *args], capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)
        return json.loads(r.stdout)

    def test_librdkafka_c_client_with_every_acks_setting_and_a_manually_committing_group(self):
        self.create_topic("c.load", 4)
        expected = [0] * 4
        for i in range(600):
            expected[(murmur2(f"key-{i % 50}".encode()) & 0x7fffffff) % 4] += 1
        for acks in ("0", "1", "all"):
            out = self.load("produce", "c.load", "600", "100", acks, "50")
            self.assertEqual(out["failed"], 0, acks)
            if acks != "0":  # acks=0 gets no response, so no delivery report tells the partition
                self.assertEqual(out["per_partition"], expected, f"acks={acks}: keys where the Java client puts them")
        out = self.load("consume", "c.load", "1800", "c.group")
        self.assertEqual((out["received"], out["commit"]), (1800, "NO_ERROR"))
        consumer = Consumer({"bootstrap.servers": self.broker.bootstrap(), "group.id": "c.group"})
        committed = consumer.committed([TopicPartition("c.load", p) for p in range(4)], timeout=10)
        self.assertEqual([tp.offset for tp in committed], [3 * n for n in expected])
        consumer.close()

    def test_two_groups_both_receive_everything(self):
        self.create_topic("py.fanout", 3)
        producer = KafkaProducer(bootstrap_servers=self.broker.bootstrap())
        for i in range(30):
            producer.send("py.fanout", key=str(i).encode(), value=str(i).encode())
        producer.flush()
        producer.close()
        for group in ("billing", "audit"):
            consumer = KafkaConsumer("py.fanout", bootstrap_servers=self.broker.bootstrap(), group_id=group,
                                     auto_offset_reset="earliest", consumer_timeout_ms=3000)
            self.assertEqual(sorted(int(m.value) for m in consumer), list(range(30)), group)
            consumer.close()

    def test_a_committed_offset_survives_a_consumer_restart_and_seek_rewinds(self):
        self.create_topic("py.commit", 1)
        producer = KafkaProducer(bootstrap_servers=self.broker.bootstrap())
        for i in range(10):
            producer.send("py.commit", value=str(i).encode())
        producer.flush()
        producer.close()
        first = KafkaConsumer("py.commit", bootstrap_servers=self.broker.bootstrap(), group_id="py.restart",
                              auto_offset_reset="earliest", enable_auto_commit=False, consumer_timeout_ms=3000,
                              max_poll_records=4)
        got = []
        while len(got) < 4:
            for records in first.poll(timeout_ms=500).values():
                got.extend(int(r.value) for r in records)
        first.commit()  # everything polled so far: the next record is got[-1] + 1
        first.close()
        second = KafkaConsumer("py.commit", bootstrap_servers=self.broker.bootstrap(), group_id="py.restart",
                               auto_offset_reset="earliest", enable_auto_commit=False, consumer_timeout_ms=3000)
        rest = [int(m.value) for m in second]
        self.assertEqual(rest, list(range(got[-1] + 1, 10)))
        tp = list(second.assignment())[0]
        second.seek(tp, 2)
        again = [int(m.value) for m in second]
        self.assertEqual(again, list(range(2, 10)))
        second.close()

    def test_a_group_of_two_splits_the_partitions_and_rebalances_when_one_leaves(self):
        self.create_topic("rdk.group", 4)
        a = self.confluent_consumer("rdk.pair")
        b = self.confluent_consumer("rdk.pair")
        a.subscribe(["rdk.group"])
        b.subscribe(["rdk.group"])

        def balanced():
            a.poll(0.05)
            b.poll(0.05)
            return len(a.assignment()) == 2 and len(b.assignment()) == 2
        self.assertTrue(poll_until(balanced), f"a={a.assignment()} b={b.assignment()}")
        owned = {(tp.topic, tp.partition) for tp in a.assignment()} | {(tp.topic, tp.partition) for tp in b.assignment()}
        self.assertEqual(owned, {("rdk.group", p) for p in range(4)}, "each partition to exactly one member")
        b.close()  # LeaveGroup: a gets everything

        def all_to_a():
            a.poll(0.05)
            return len(a.assignment()) == 4
        self.assertTrue(poll_until(all_to_a), a.assignment())
        a.close()

    def test_more_consumers_than_partitions_leaves_the_extra_one_idle(self):
        self.create_topic("rdk.idle", 2)
        consumers = [self.confluent_consumer("rdk.idle.g") for _ in range(3)]
        for c in consumers:
            c.subscribe(["rdk.idle"])

        def settled():
            for c in consumers:
                c.poll(0.05)
            sizes = sorted(len(c.assignment()) for c in consumers)
            return sizes == [0, 1, 1]
        self.assertTrue(poll_until(settled), [c.assignment() for c in consumers])
        for c in consumers:
            c.close()

    def test_confluent_produce_and_group_consume_with_manual_commit(self):
        self.create_topic("rdk.manual", 2)
        producer = Producer({"bootstrap.servers": self.broker.bootstrap(), "acks": "all", "linger.ms": 5})
        for i in range(100):
            producer.produce("rdk.manual", key=str(i % 5).encode(), value=str(i).encode())
        self.assertEqual(producer.flush(15), 0)
        consumer = self.confluent_consumer("rdk.manual.g", **{"enable.auto.commit": False})
        consumer.subscribe(["rdk.manual"])
        got = self.drain(consumer, 100)
        self.assertEqual(sorted(int(m.value()) for m in got), list(range(100)))
        consumer.commit(asynchronous=False)
        committed = consumer.committed([TopicPartition("rdk.manual", 0), TopicPartition("rdk.manual", 1)], timeout=10)
        ends = [consumer.get_watermark_offsets(tp, timeout=10)[1] for tp in committed]
        self.assertEqual([tp.offset for tp in committed], ends)
        self.assertEqual(sum(ends), 100)
        consumer.close()


class IdleConnections(BrokerTestCase):
    """Kafka's connections.max.idle.ms, shortened: a client that stops half-way through a
    request is closed; one that keeps talking is not."""
    BINARY = BINARY
    KAFKA_BROKERS = 1
    EXTRA = ("--connections-max-idle-ms", "1000")

    def test_a_request_stalled_half_way_is_closed_after_the_idle_limit(self):
        stalled = socket.create_connection(("127.0.0.1", self.broker.port), timeout=10)
        self.addCleanup(stalled.close)
        stalled.sendall(b"\x00\x00\x00\x20\x00\x03\x00")  # 7 of a 36-byte request
        started = time.monotonic()
        self.assertEqual(stalled.recv(1), b"", "the broker should close the stalled connection")
        self.assertGreaterEqual(time.monotonic() - started, 0.9)
        # The broker logs the reason as it closes; the line may land just after the socket is gone.
        reason = "with 7 bytes of a request (connections.max.idle.ms 1000)"
        self.assertTrue(poll_until(lambda: reason in self.broker.output(), 5), self.broker.output())
        # A client that sends a request every 0.4 s stays connected well past the limit.
        talking = socket.create_connection(("127.0.0.1", self.broker.port), timeout=10)
        self.addCleanup(talking.close)
        for correlation in range(6):
            talking.sendall(struct.pack(">ihhih", 10, 18, 0, correlation, 0))  # ApiVersions v0
            size = struct.unpack(">i", recv_exactly(talking, 4))[0]
            self.assertEqual(struct.unpack(">i", recv_exactly(talking, size)[:4])[0], correlation)
            time.sleep(0.4)
        self.assertEqual(self.broker.output().count("idle for"), 1)


class QueuedRequestBytes(BrokerTestCase):
    """queued.max.request.bytes: a request under way reserves its declared size; a connection
    whose request does not fit is not read from until one finishes, while small ones still fit.
    The waiting request is larger than one read (256 KiB), so it is always under way for a while."""
    BINARY = BINARY
    KAFKA_BROKERS = 1
    EXTRA = ("--queued-max-request-bytes", "1048576", "--no-auto-create-topics")

    def test_a_request_that_does_not_fit_waits_until_another_finishes(self):
        holder = socket.create_connection(("127.0.0.1", self.broker.port), timeout=10)
        holder.sendall(struct.pack(">i", 600_000) + b"\x00" * 10)  # 600 KB declared, 10 bytes sent
        time.sleep(0.3)
        small = socket.create_connection(("127.0.0.1", self.broker.port), timeout=10)
        self.addCleanup(small.close)
        small.sendall(struct.pack(">ihhih", 10, 18, 0, 1, 0))  # ApiVersions v0: fits beside the holder
        self.assertEqual(struct.unpack(">i", recv_exactly(small, 8)[4:])[0], 1)
        names = [f"t{i:04d}".ljust(249, "x").encode() for i in range(2400)]
        metadata = struct.pack(">hhih", 3, 0, 7, -1) + struct.pack(">i", len(names)) + \
            b"".join(struct.pack(">h", len(n)) + n for n in names)  # Metadata v0, about 600 KB
        big = socket.create_connection(("127.0.0.1", self.broker.port), timeout=1)
        self.addCleanup(big.close)
        threading.Thread(target=big.sendall, args=(struct.pack(">i", len(metadata)) + metadata,), daemon=True).start()
        with self.assertRaises(socket.timeout):
            big.recv(4)  # muted: 600 KB more do not fit beside the holder's 600 KB in 1 MiB
        holder.close()  # its reservation goes
        big.settimeout(10)
        size = struct.unpack(">i", recv_exactly(big, 4))[0]
        self.assertEqual(struct.unpack(">i", recv_exactly(big, size)[:4])[0], 7)


class AdvertisedListeners(unittest.TestCase):
    """advertised.listeners: behind a proxy, Metadata sends clients to the proxy, so every
    request of a produce-and-consume session passes through it (without the option only the
    bootstrap connection would)."""

    def test_clients_follow_the_advertised_address_through_a_proxy(self):
        port = free_port()
        proxy = RecordingProxy(port)
        self.addCleanup(proxy.stop)
        broker = Broker(BINARY, "--kafka-advertised-listeners", f"127.0.0.1:{proxy.port}", kafka_brokers=1, port=port)
        self.addCleanup(broker.stop)
        bootstrap = f"127.0.0.1:{proxy.port}"
        producer = Producer({"bootstrap.servers": bootstrap, "acks": "all"})
        for i in range(10):
            producer.produce("via.proxy", value=f"m{i}".encode())
        self.assertEqual(producer.flush(15), 0)
        consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "via.proxy.g", "auto.offset.reset": "earliest"})
        consumer.subscribe(["via.proxy"])
        got = []
        deadline = time.monotonic() + 20
        while len(got) < 10 and time.monotonic() < deadline:
            m = consumer.poll(0.2)
            if m is not None and m.error() is None:
                got.append(m.value())
        consumer.close()
        self.assertEqual(sorted(got), sorted(f"m{i}".encode() for i in range(10)))
        api_keys = set()
        for session in proxy.recorded():
            at = 0
            while at + 6 <= len(session):
                size, key = struct.unpack(">ih", session[at:at + 6])
                api_keys.add(key)
                at += 4 + size
        self.assertTrue({0, 1, 3, 11}.issubset(api_keys), f"Produce, Fetch, Metadata, JoinGroup via the proxy: {api_keys}")
        self.assertIn(f"advertised as 127.0.0.1:{proxy.port}", broker.output())
        self.assertEqual(broker.stop(), 0)
        bad = subprocess.run([BINARY, "broker", "--kafka-port", "0", "--kafka-advertised-listeners", "localhost"],
                             capture_output=True, text=True, timeout=10)
        self.assertEqual(bad.returncode, 2)
        self.assertIn("'localhost' is not HOST:PORT", bad.stderr)


def recv_exactly(sock, n):
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise AssertionError(f"connection closed after {len(data)} of {n} bytes")
        data += chunk
    return data


if __name__ == "__main__":
    unittest.main(verbosity=2)
