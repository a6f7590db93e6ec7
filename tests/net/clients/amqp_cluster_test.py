"""A three-node `mqlab broker --amqp-port P --cluster 3` under pika: each node listens on its own
port, a client on any node reaches a queue owned by another, and killing the owner (through the
console) closes its port and its clients' connections for real. RabbitMQ's documented outcomes
follow: a mirrored queue (ha-mode all) fails over to a mirror with every message; a normal
durable queue is unavailable ("home node ... is down") until its node returns with its
persistent messages; a normal transient queue is gone. Runs under /usr/bin/python3."""
import time
import unittest

import pika
import pika.exceptions

from mqlab_broker import BrokerTestCase, binary_from_argv, refuses

BINARY = binary_from_argv()


class ClusterCase(BrokerTestCase):
    BINARY = BINARY
    AMQP_NODES = 3

    def connect(self, node):
        c = pika.BlockingConnection(pika.URLParameters(self.broker.url(node=node)))
        self.addCleanup(self.close_quietly, c)
        return c

    @staticmethod
    def close_quietly(connection):
        try:
            if connection.is_open:
                connection.close()
        except pika.exceptions.AMQPError:
            pass  # its node was killed meanwhile

    def publish(self, node, queue, count, persistent=True):
        ch = self.connect(node).channel()
        ch.confirm_delivery()
        props = pika.BasicProperties(delivery_mode=2 if persistent else 1)
        for i in range(count):
            ch.basic_publish("", queue, str(i).encode(), props, mandatory=True)

    def drain(self, node, queue, expected, seconds=10):
        """Bodies consumed (manual ack) from `queue` through `node` until `expected` arrive."""
        ch = self.connect(node).channel()
        got = []
        deadline = time.monotonic() + seconds
        while len(got) < expected and time.monotonic() < deadline:
            method, _, body = ch.basic_get(queue)
            if method is None:
                time.sleep(0.05)
                continue
            got.append(body.decode())
            ch.basic_ack(method.delivery_tag)
        return got

    def kill(self, node):
        self.broker.console(f"kill-node {node}", f"node {node} killed")
        self.assertTrue(refuses(self.broker.port + node), "a killed node's port is closed")


class MirroredQueues(ClusterCase):
    EXTRA = ("--console", "--ha-mode", "all")

    def test_a_mirror_takes_over_with_every_message_when_the_owner_dies(self):
        owner = self.connect(0)
        owner.channel().queue_declare("orders", durable=True)
        self.publish(1, "orders", 200)
        self.kill(0)
        with self.assertRaises(pika.exceptions.AMQPConnectionError):
            owner.process_data_events(time_limit=2)  # its node is gone: the connection dropped
        self.assertEqual(sorted(self.drain(2, "orders", 200), key=int), [str(i) for i in range(200)])

    def test_a_consumer_on_one_node_gets_what_a_producer_on_another_publishes(self):
        self.connect(2).channel().queue_declare("relay")
        self.publish(1, "relay", 50, persistent=False)
        self.assertEqual(self.drain(2, "relay", 50), [str(i) for i in range(50)], "in publish order")


class ThroughAnotherNode(ClusterCase):
    """What a client can do on a queue whose owner is another node: everything, as RabbitMQ's
    cluster serves a channel wherever its client is connected."""

    def test_reject_nack_and_dead_lettering_work_through_another_node(self):
        owner = self.connect(0).channel()
        owner.exchange_declare("dlx", "fanout")
        owner.queue_declare("dead")
        owner.queue_bind("dead", "dlx")
        owner.queue_declare("work", arguments={"x-dead-letter-exchange": "dlx"})
        self.publish(1, "work", 2, persistent=False)
        ch = self.connect(2).channel()
        method, _, body = ch.basic_get("work")
        self.assertEqual((body, method.redelivered), (b"0", False))
        ch.basic_reject(method.delivery_tag, requeue=True)
        method, _, body = ch.basic_get("work")
        self.assertEqual((body, method.redelivered), (b"0", True), "requeued to its place, flagged")
        ch.basic_nack(method.delivery_tag, requeue=False)
        deadline = time.monotonic() + 5
        while ch.queue_declare("dead", passive=True).method.message_count < 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        _, props, body = ch.basic_get("dead", auto_ack=True)
        self.assertEqual(body, b"0")
        self.assertEqual(props.headers["x-death"][0]["reason"], "rejected")

    def test_an_exclusive_queue_is_locked_to_its_connection_on_every_node(self):
        name = self.connect(0).channel().queue_declare("", exclusive=True).method.queue
        self.assertTrue(name.startswith("amq.gen-"))
        with self.assertRaises(pika.exceptions.ChannelClosedByBroker) as locked:
            self.connect(1).channel().basic_get(name)
        self.assertEqual(locked.exception.reply_code, 405)

    def test_a_fanout_exchange_reaches_queues_on_every_node(self):
        publisher = self.connect(1).channel()
        publisher.exchange_declare("news", "fanout")
        for node in (0, 2):
            ch = self.connect(node).channel()
            ch.queue_declare(f"news-{node}")
            ch.queue_bind(f"news-{node}", "news")
        publisher.confirm_delivery()
        for i in range(3):
            publisher.basic_publish("news", "", str(i).encode(), mandatory=True)
        for node in (0, 2):
            self.assertEqual(self.drain(1, f"news-{node}", 3), ["0", "1", "2"], f"the queue on node {node}")

    def test_purge_and_delete_from_another_node_reach_the_owner(self):
        self.connect(0).channel().queue_declare("scratch")
        self.publish(2, "scratch", 4, persistent=False)
        ch = self.connect(1).channel()
        self.assertEqual(ch.queue_purge("scratch").method.message_count, 4)
        self.assertEqual(ch.queue_delete("scratch").method.message_count, 0)
        with self.assertRaises(pika.exceptions.ChannelClosedByBroker) as gone:
            self.connect(2).channel().queue_declare("scratch", passive=True)
        self.assertEqual(gone.exception.reply_code, 404)


class NormalQueues(ClusterCase):
    EXTRA = ("--console",)

    def test_the_owner_crash_makes_durable_unavailable_and_transient_lost(self):
        ch = self.connect(0).channel()
        ch.queue_declare("durable", durable=True)
        ch.queue_declare("transient", durable=False)
        self.publish(1, "durable", 30)
        self.publish(1, "transient", 30)
        self.kill(0)

        with self.assertRaises(pika.exceptions.ChannelClosedByBroker) as down:
            self.connect(2).channel().basic_get("durable")
        self.assertEqual(down.exception.reply_code, 404)
        self.assertIn("home node", down.exception.reply_text)
        with self.assertRaises(pika.exceptions.ChannelClosedByBroker) as gone:
            self.connect(2).channel().queue_declare("transient", passive=True)
        self.assertEqual(gone.exception.reply_code, 404)

        self.broker.console("restart-node 0", "node 0 restarted")
        self.assertFalse(refuses(self.broker.port))
        self.assertEqual(sorted(self.drain(2, "durable", 30), key=int), [str(i) for i in range(30)],
                         "persistent messages come back with their node")


if __name__ == "__main__":
    unittest.main(verbosity=2)
