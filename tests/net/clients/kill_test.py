"""Kill tests: `mqlab broker --data-dir` under an unmodified client, SIGKILLed at a random moment
while the client writes, restarted on the same directory and port, and read back. Nothing the
broker acknowledged may be missing (Kafka: a delivery report without error for acks=all;
AMQP: a publisher confirm for a persistent message to a durable queue). Duplicates are what
the protocols allow (a non-idempotent producer's retry, a publisher's resend); they are
counted, not failed. MQLAB_KILLS sets the number of kills per protocol (ctest: a few;
scripts/kill-test.sh: 20 or more), MQLAB_KILL_SEED the random moments.

Run under /usr/bin/python3, where Debian's confluent-kafka and pika live."""
import os
import random
import shutil
import tempfile
import threading
import time
import unittest

import confluent_kafka
import confluent_kafka.admin
import pika

from mqlab_broker import Broker, binary_from_argv

BINARY = None
KILLS = int(os.environ.get("MQLAB_KILLS", "3"))
rng = random.Random(int(os.environ.get("MQLAB_KILL_SEED", "1")))


class KillTestCase(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="mqlab-kill-")
        self.broker = None

    def tearDown(self):
        if self.broker is not None:
            self.broker.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def start(self, *listen, port=None, **kind):
        self.broker = Broker(BINARY, "--data-dir", self.dir, *listen, port=port, **kind)
        return self.broker

    def restart(self, extra=(), **kind):
        """SIGKILL now, then a new process on the same directory and port."""
        port = self.broker.port
        self.broker.kill()
        self.start(*extra, port=port, **kind)


class KafkaKills(KillTestCase):
    TOPIC = "payments"

    def produce_until_killed(self, first):
        """Produces from `first` with acks=all until the broker is killed at a random moment;
        returns the values whose delivery reports came back without error."""
        acked = []
        producer = confluent_kafka.Producer({
            "bootstrap.servers": self.broker.bootstrap(), "acks": "all", "linger.ms": 1,
            "message.timeout.ms": 3000, "enable.idempotence": False})

        def report(err, msg):
            if err is None:
                acked.append(int(msg.value()))

        deadline = time.monotonic() + rng.uniform(0.3, 1.2)
        value = first
        while time.monotonic() < deadline:
            for _ in range(100):
                producer.produce(self.TOPIC, str(value).encode(), key=str(value % 7).encode(), on_delivery=report)
                value += 1
            producer.poll(0.005)  # about 20 000 records a second: a stream, not a flood to read back
        port = self.broker.port
        self.broker.kill()  # in the middle of the stream: some batches are in flight
        producer.flush(10)  # what was in flight fails (or was acknowledged before the kill)
        self.start(port=port, kafka_brokers=1)
        return acked, value

    def read_all(self, group):
        consumer = confluent_kafka.Consumer({
            "bootstrap.servers": self.broker.bootstrap(), "group.id": group, "auto.offset.reset": "earliest",
            "enable.auto.commit": False})
        consumer.subscribe([self.TOPIC])
        values, idle = [], 0
        while idle < 6:  # 3 s without a record: everything is read
            msgs = consumer.consume(10000, timeout=0.5)
            idle = idle + 1 if not msgs else 0
            values += [int(m.value()) for m in msgs if m.error() is None]
        consumer.commit(asynchronous=False)
        committed = consumer.committed([confluent_kafka.TopicPartition(self.TOPIC, 0)], timeout=10)
        consumer.close()
        return values, committed[0].offset

    def test_no_acknowledged_record_is_lost_across_kills(self):
        self.start(kafka_brokers=1)
        admin = confluent_kafka.admin.AdminClient({"bootstrap.servers": self.broker.bootstrap()})
        admin.create_topics([confluent_kafka.admin.NewTopic(self.TOPIC, 1, 1)])["payments"].result(10)
        acked, next_value = [], 0
        for _ in range(KILLS):
            more, next_value = self.produce_until_killed(next_value)
            acked += more
        self.assertGreater(len(acked), 1000, "the producer got going before the kills")
        values, committed = self.read_all("audit")
        missing = set(acked) - set(values)
        self.assertEqual(missing, set(), f"{len(missing)} acknowledged records lost of {len(acked)}")
        duplicates = len(values) - len(set(values))
        print(f"\nKafka: {KILLS} kills, {len(acked)} acknowledged, {len(values)} read, {duplicates} duplicates")
        # The group's committed offset survives a kill too.
        self.restart(kafka_brokers=1)
        consumer = confluent_kafka.Consumer({"bootstrap.servers": self.broker.bootstrap(), "group.id": "audit"})
        again = consumer.committed([confluent_kafka.TopicPartition(self.TOPIC, 0)], timeout=10)
        consumer.close()
        self.assertEqual(again[0].offset, committed)
        self.assertEqual(committed, len(values))


class AmqpKills(KillTestCase):
    QUEUE = "ledger"

    def channel(self):
        connection = pika.BlockingConnection(pika.URLParameters(self.broker.url()))
        channel = connection.channel()
        channel.queue_declare(self.QUEUE, durable=True)
        return connection, channel

    def publish_until_killed(self, first):
        """Publishes persistent messages with confirms from a thread until the broker is killed at
        a random moment; returns the confirmed ones and those a consumer acknowledged meanwhile."""
        confirmed, taken = [], []

        def publisher():
            try:
                connection, channel = self.channel()
                channel.confirm_delivery()
                value = first
                while True:
                    channel.basic_publish("", self.QUEUE, str(value).encode(),
                                          pika.BasicProperties(delivery_mode=2))
                    confirmed.append(value)  # basic_publish returned: the broker confirmed it
                    value += 1
            except Exception:  # the broker died under it
                pass

        thread = threading.Thread(target=publisher)
        thread.start()
        time.sleep(rng.uniform(0.1, 0.4))
        connection, channel = self.channel()
        for _ in range(50):  # a consumer takes some for good
            method, _, body = channel.basic_get(self.QUEUE)
            if method is None:
                break
            channel.basic_ack(method.delivery_tag)
            taken.append(int(body))
        time.sleep(rng.uniform(0.1, 0.6))
        self.restart()
        thread.join(10)
        return confirmed, taken

    def test_no_confirmed_persistent_message_is_lost_across_kills(self):
        self.start()
        confirmed, taken, value = [], [], 0
        for _ in range(KILLS):
            more, gone = self.publish_until_killed(value)
            confirmed += more
            taken += gone
            value = (max(confirmed) + 1 if confirmed else value) + 100_000  # never reuse a value
        self.assertGreater(len(confirmed), 100, "the publisher got going before the kills")
        connection, channel = self.channel()
        left = []
        while True:
            method, _, body = channel.basic_get(self.QUEUE, auto_ack=True)
            if method is None:
                break
            left.append(int(body))
        connection.close()
        missing = set(confirmed) - set(left) - set(taken)
        self.assertEqual(missing, set(), f"{len(missing)} confirmed messages lost of {len(confirmed)}")
        again = len(set(left) & set(taken))  # acknowledged just before a kill: RabbitMQ may redeliver these
        print(f"\nAMQP: {KILLS} kills, {len(confirmed)} confirmed, {len(taken)} acknowledged by a consumer, "
              f"{len(left)} left, {again} delivered again")
        self.assertEqual(len(left), len(set(left)), "a message is in the queue twice")


class AmqpClusterKill(KillTestCase):
    """A three-node cluster with mirrored queues: each node keeps its own directory, and the
    mirrors their copies, so after the process is killed the queue's owner has every confirmed
    message, and so does the mirror promoted when the owner then dies."""

    def test_a_killed_cluster_comes_back_from_each_nodes_disk(self):
        self.start("--ha-mode", "all", "--console", amqp_nodes=3)
        owner = pika.BlockingConnection(pika.URLParameters(self.broker.url(node=1)))
        owner.channel().queue_declare("orders", durable=True)  # lives on node 1
        owner.close()
        connection = pika.BlockingConnection(pika.URLParameters(self.broker.url(node=0)))
        channel = connection.channel()
        channel.confirm_delivery()
        for i in range(300):  # through node 0: forwarded to the owner, copied to the mirrors
            channel.basic_publish("", "orders", str(i).encode(), pika.BasicProperties(delivery_mode=2))
        connection.close()
        self.restart(amqp_nodes=3, extra=("--ha-mode", "all", "--console"))
        self.broker.console("kill-node 1", "node 1 killed")  # the owner dies: a mirror takes over
        connection = pika.BlockingConnection(pika.URLParameters(self.broker.url(node=2)))
        channel = connection.channel()
        left = []
        while True:
            method, _, body = channel.basic_get("orders", auto_ack=True)
            if method is None:
                break
            left.append(int(body))
        connection.close()
        self.assertEqual(sorted(left), list(range(300)))
        for node in (0, 1, 2):  # the owner and both mirrors, each from its own directory
            self.assertIn(f"AMQP node {node} recovered 1 queues and 300 messages", self.broker.output())


if __name__ == "__main__":
    BINARY = binary_from_argv()
    unittest.main(verbosity=2)
