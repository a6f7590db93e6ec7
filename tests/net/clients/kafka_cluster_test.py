"""A three-broker `mqlab broker --kafka-port P --cluster 3` under librdkafka (confluent-kafka) and
kafka-python: Metadata names every broker, partition leaders and replicas sit on different
brokers, and killing a broker (through the console) really closes its port while the
controller moves leadership — with acks=all, every record the producer was told is written
is still there afterwards (the seed's durability promise). Runs under /usr/bin/python3."""
import threading
import time
import unittest

from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient, NewTopic

from mqlab_broker import BrokerTestCase, binary_from_argv, refuses

BINARY = binary_from_argv()


class KafkaClusterAgainstMqlab(BrokerTestCase):
    BINARY = BINARY
    KAFKA_BROKERS = 3
    EXTRA = ("--console",)

    def admin(self):
        return AdminClient({"bootstrap.servers": self.broker.bootstrap()})

    def create(self, name, partitions, replicas, **config):
        admin = self.admin()  # must outlive the future
        futures = admin.create_topics([NewTopic(name, partitions, replicas, config=config)])
        futures[name].result(timeout=10)

    def test_metadata_spreads_leaders_and_a_killed_broker_loses_no_acknowledged_record(self):
        self.create("durable", 3, 3, **{"min.insync.replicas": "2"})
        md = self.admin().list_topics(timeout=10)
        self.assertEqual(sorted(b.port for b in md.brokers.values()), [self.broker.port + i for i in range(3)])
        partitions = md.topics["durable"].partitions.values()
        self.assertEqual(sorted(p.leader for p in partitions), [0, 1, 2], "one leader per broker")
        for p in partitions:
            self.assertEqual(sorted(p.replicas), [0, 1, 2])

        acked, errors = [], []
        producer = Producer({"bootstrap.servers": self.broker.bootstrap(), "acks": "all", "linger.ms": 2,
                             "message.timeout.ms": 20000})

        def report(err, msg):
            (errors if err else acked).append(err if err else msg.value())
        for i in range(3000):
            producer.produce("durable", key=str(i % 30).encode(), value=str(i).encode(), on_delivery=report)
            if i == 1500:
                producer.flush(10)
                self.broker.console("kill-broker 1", "broker 1 killed")
            producer.poll(0)
        self.assertEqual(producer.flush(30), 0)
        self.assertTrue(refuses(self.broker.port + 1), "a killed broker's port is closed")
        md = self.admin().list_topics(timeout=10)
        self.assertNotIn(1, md.brokers)
        self.assertNotIn(1, [p.leader for p in md.topics["durable"].partitions.values()], "leadership moved")

        consumer = Consumer({"bootstrap.servers": self.broker.bootstrap(), "group.id": "durable-check",
                             "auto.offset.reset": "earliest"})
        consumer.subscribe(["durable"])
        seen = set()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not set(acked) <= seen:
            m = consumer.poll(0.2)
            if m is not None and m.error() is None:
                seen.add(m.value())
        consumer.close()
        self.assertGreater(len(acked), 2500, f"errors: {set(str(e) for e in errors[:5])}")
        self.assertEqual(set(acked) - seen, set(), "acknowledged records lost")

        self.broker.console("restart-broker 1", "broker 1 restarted")
        self.assertFalse(refuses(self.broker.port + 1))
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and 1 not in self.admin().list_topics(timeout=10).brokers:
            time.sleep(0.1)
        self.assertIn(1, self.admin().list_topics(timeout=10).brokers)

    def test_requests_for_a_partition_go_to_its_leader(self):
        # librdkafka sends each partition's records to its leader's port; a broker that is not
        # the leader would refuse them with NOT_LEADER_OR_FOLLOWER.
        self.create("routed", 6, 2)
        producer = Producer({"bootstrap.servers": self.broker.bootstrap()})
        delivered = []
        for i in range(60):
            producer.produce("routed", value=str(i).encode(), partition=i % 6,
                             on_delivery=lambda err, msg: delivered.append((err, msg.partition())))
        producer.flush(10)
        self.assertEqual(len(delivered), 60)
        self.assertTrue(all(err is None for err, _ in delivered))
        self.assertEqual(sorted({p for _, p in delivered}), list(range(6)))


if __name__ == "__main__":
    unittest.main(verbosity=2)
