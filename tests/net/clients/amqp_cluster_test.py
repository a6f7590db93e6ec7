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
