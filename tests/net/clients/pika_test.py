"""Unmodified pika (Debian's python3-pika) against `mqlab broker`: the RabbitMQ tutorial and
documentation behaviours, checked over a real loopback socket."""
import os
import subprocess
import sys
import time
import unittest

import pika
import pika.exceptions

from mqlab_broker import BrokerTestCase, binary_from_argv

BINARY = binary_from_argv()

WORKER = """
import os, pika
ch = pika.BlockingConnection(pika.ConnectionParameters("127.0.0.1", {port})).channel()
method, _, body = ch.basic_get("jobs-redelivery", auto_ack=False)
print("took", body.decode(), "redelivered=" + str(method.redelivered), flush=True)
os._exit(0)
"""


class PikaAgainstMqlab(BrokerTestCase):
    BINARY = BINARY

    def connect(self):
        conn = pika.BlockingConnection(pika.ConnectionParameters(
            "127.0.0.1", self.broker.port, blocked_connection_timeout=5, socket_timeout=5))
        self.addCleanup(lambda: conn.is_open and conn.close())
        return conn

    def drain(self, ch, queue, ack=True, limit=1000):
        """Every message ready in `queue`, in delivery order, by basic.get."""
        out = []
        for _ in range(limit):
            method, props, body = ch.basic_get(queue, auto_ack=ack)
            if method is None:
                break
            out.append((method, props, body))
        return out

    def test_every_exchange_type_routes_as_rabbitmq_documents(self):
        ch = self.connect().channel()
        for kind in ("direct", "fanout", "topic", "headers"):
            ch.exchange_declare(f"ex.{kind}", kind)
        queues = {}
        for name in ("d", "f1", "f2", "t_star", "t_hash", "h_all", "h_any"):
            queues[name] = ch.queue_declare("", exclusive=True).method.queue
        ch.queue_bind(queues["d"], "ex.direct", "pdf")
        ch.queue_bind(queues["f1"], "ex.fanout")
        ch.queue_bind(queues["f2"], "ex.fanout")
        ch.queue_bind(queues["t_star"], "ex.topic", "*.orange.*")
        ch.queue_bind(queues["t_hash"], "ex.topic", "lazy.#")
        ch.queue_bind(queues["h_all"], "ex.headers", arguments={"x-match": "all", "format": "pdf", "type": "report"})
        ch.queue_bind(queues["h_any"], "ex.headers", arguments={"x-match": "any", "format": "pdf", "type": "report"})
        ch.basic_publish("ex.direct", "pdf", b"1")
        ch.basic_publish("ex.direct", "png", b"2")
        ch.basic_publish("ex.fanout", "ignored", b"3")
        for key in ("quick.orange.rabbit", "lazy.orange.elephant", "lazy", "quick.orange.fox.jumps", "orange"):
            ch.basic_publish("ex.topic", key, key.encode())
        ch.basic_publish("ex.headers", "", b"both", pika.BasicProperties(headers={"format": "pdf", "type": "report"}))
        ch.basic_publish("ex.headers", "", b"one", pika.BasicProperties(headers={"format": "pdf", "type": "log"}))
        got = {name: [b for _, _, b in self.drain(ch, q)] for name, q in queues.items()}
        self.assertEqual(got["d"], [b"1"])
        self.assertEqual(got["f1"], [b"3"])
        self.assertEqual(got["f2"], [b"3"])
        self.assertEqual(got["t_star"], [b"quick.orange.rabbit", b"lazy.orange.elephant"])
        self.assertEqual(got["t_hash"], [b"lazy.orange.elephant", b"lazy"])
        self.assertEqual(got["h_all"], [b"both"])
        self.assertEqual(got["h_any"], [b"both", b"one"])

    def test_confirms_ack_routable_and_return_unroutable_mandatory(self):
        ch = self.connect().channel()
        ch.confirm_delivery()
        ch.queue_declare("confirmed", auto_delete=True)
        ch.basic_publish("", "confirmed", b"ok", mandatory=True)  # raises if nacked or returned
        with self.assertRaises(pika.exceptions.UnroutableError):
            ch.basic_publish("", "no-such-queue", b"lost", mandatory=True)
        self.assertEqual(ch.queue_declare("confirmed", passive=True).method.message_count, 1)

    def test_manual_ack_nack_and_reject(self):
        ch = self.connect().channel()
        q = ch.queue_declare("", exclusive=True).method.queue
        for body in (b"a", b"b", b"c"):
            ch.basic_publish("", q, body)
        (m1, _, _), (m2, _, _), (m3, _, _) = self.drain(ch, q, ack=False)
        ch.basic_ack(m1.delivery_tag)
        ch.basic_reject(m2.delivery_tag, requeue=False)  # dropped: no dead-letter exchange
        ch.basic_nack(m3.delivery_tag, requeue=True)      # back in the queue, marked redelivered
        again = self.drain(ch, q)
        self.assertEqual([b for _, _, b in again], [b"c"])
        self.assertTrue(again[0][0].redelivered)

    def test_prefetch_limits_unacked_deliveries(self):
        conn = self.connect()
        ch = conn.channel()
        q = ch.queue_declare("", exclusive=True).method.queue
        for i in range(10):
            ch.basic_publish("", q, str(i).encode())
        ch.basic_qos(prefetch_count=3)
        got = []
        ch.basic_consume(q, lambda c, m, p, b: got.append(m.delivery_tag))
        conn.process_data_events(time_limit=0.5)
        self.assertEqual(len(got), 3)
        ch.basic_ack(got[-1], multiple=True)
        conn.process_data_events(time_limit=0.5)
        self.assertEqual(len(got), 6)

    def test_single_active_consumer_serves_the_oldest_consumer_until_it_cancels(self):
        conn = self.connect()
        first, second = conn.channel(), conn.channel()
        first.queue_declare("sac", arguments={"x-single-active-consumer": True})
        got = []
        first_tag = first.basic_consume("sac", lambda c, m, p, b: got.append(("first", b)), auto_ack=True)
        second.basic_consume("sac", lambda c, m, p, b: got.append(("second", b)), auto_ack=True)
        def wait_for(n):
            for _ in range(50):
                if len(got) >= n:
                    return
                conn.process_data_events(time_limit=0.1)
        for i in range(5):
            first.basic_publish("", "sac", str(i).encode())
        wait_for(5)
        self.assertEqual(got, [("first", str(i).encode()) for i in range(5)])  # in order, to one consumer
        first.basic_cancel(first_tag)
        first.basic_publish("", "sac", b"after")
        wait_for(6)
        self.assertEqual(got[-1], ("second", b"after"))  # the next in line took over
        first.queue_delete("sac")

    def test_priority_queue_serves_higher_priority_first(self):
        ch = self.connect().channel()
        q = ch.queue_declare("", exclusive=True, arguments={"x-max-priority": 10}).method.queue
        for p in (1, 9, 5, 0):
            ch.basic_publish("", q, str(p).encode(), pika.BasicProperties(priority=p))
        self.assertEqual([b for _, _, b in self.drain(ch, q)], [b"9", b"5", b"1", b"0"])

    def test_ttl_expiry_dead_letters_with_x_death(self):
        ch = self.connect().channel()
        ch.exchange_declare("dlx", "fanout")
        dead = ch.queue_declare("", exclusive=True).method.queue
        ch.queue_bind(dead, "dlx")
        q = ch.queue_declare("", exclusive=True, arguments={"x-message-ttl": 100, "x-dead-letter-exchange": "dlx"}).method.queue
        ch.basic_publish("", q, b"too late")
        ch.basic_publish("", q, b"per-message", pika.BasicProperties(expiration="50"))
        time.sleep(0.4)
        self.assertEqual(ch.queue_declare(q, passive=True).method.message_count, 0)
        got = self.drain(ch, dead)
        self.assertEqual([b for _, _, b in got], [b"too late", b"per-message"])
        death = got[0][1].headers["x-death"][0]
        self.assertEqual(death["reason"], "expired")
        self.assertEqual(death["queue"], q)

    def test_max_length_drops_head_or_rejects_publish(self):
        ch = self.connect().channel()
        ch.confirm_delivery()
        head = ch.queue_declare("", exclusive=True, arguments={"x-max-length": 2}).method.queue
        for body in (b"1", b"2", b"3"):
            ch.basic_publish("", head, body)
        self.assertEqual([b for _, _, b in self.drain(ch, head)], [b"2", b"3"])
        rej = ch.queue_declare("", exclusive=True, arguments={"x-max-length": 1, "x-overflow": "reject-publish"}).method.queue
        ch.basic_publish("", rej, b"fits")
        with self.assertRaises(pika.exceptions.NackError):
            ch.basic_publish("", rej, b"refused")

    def test_channel_error_closes_the_channel_not_the_connection(self):
        conn = self.connect()
        ch = conn.channel()
        with self.assertRaises(pika.exceptions.ChannelClosedByBroker) as ctx:
            ch.queue_declare("does-not-exist", passive=True)
        self.assertEqual(ctx.exception.reply_code, 404)
        self.assertEqual(ctx.exception.reply_text, "NOT_FOUND - no queue 'does-not-exist' in vhost '/'")
        self.assertTrue(conn.is_open)
        conn.channel().queue_declare("", exclusive=True)

    def test_consumer_dying_mid_work_gets_its_message_redelivered(self):
        ch = self.connect().channel()
        ch.queue_declare("jobs-redelivery")
        ch.basic_publish("", "jobs-redelivery", b"job-1")
        # A worker process takes the job without acking it and dies: the kernel closes its
        # socket, no connection.close is ever sent.
        worker = subprocess.run([sys.executable, "-c", WORKER.format(port=self.broker.port)], timeout=20,
                                capture_output=True, text=True)
        self.assertEqual(worker.stdout.strip(), "took job-1 redelivered=False")
        for _ in range(50):
            method, _, body = ch.basic_get("jobs-redelivery", auto_ack=True)
            if method:
                break
            time.sleep(0.05)
        self.assertEqual(body, b"job-1")
        self.assertTrue(method.redelivered)

    def test_transactions_commit_and_roll_back(self):
        ch = self.connect().channel()
        q = ch.queue_declare("", exclusive=True).method.queue
        ch.tx_select()
        ch.basic_publish("", q, b"rolled back")
        ch.tx_rollback()
        ch.basic_publish("", q, b"committed")
        self.assertEqual(ch.queue_declare(q, passive=True).method.message_count, 0)
        ch.tx_commit()
        self.assertEqual([b for _, _, b in self.drain(ch, q)], [b"committed"])

    def test_large_messages_cross_many_frames(self):
        ch = self.connect().channel()
        q = ch.queue_declare("", exclusive=True).method.queue
        body = bytes(range(256)) * 4096  # 1 MiB, eight frames at frame_max 131072
        ch.basic_publish("", q, body)
        self.assertEqual(self.drain(ch, q)[0][2], body)

    def test_wrong_password_is_refused(self):
        creds = pika.PlainCredentials("guest", "wrong")
        with self.assertRaises(pika.exceptions.ProbableAuthenticationError):
            pika.BlockingConnection(pika.ConnectionParameters("127.0.0.1", self.broker.port, credentials=creds))
        # The client only hears "see the broker logfile"; the log says who and why.
        deadline = time.monotonic() + 5
        while "user 'guest' - invalid credentials" not in self.broker.output() and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertIn("PLAIN login refused: user 'guest' - invalid credentials", self.broker.output())


class PikaWithPermissions(BrokerTestCase):
    """rabbitmqctl set_permissions -p / clerk '^$' '^orders$' '^work$': the clerk may publish to
    the orders exchange and read the work queue, and configure nothing."""
    BINARY = BINARY
    EXTRA = ("--user", "guest:guest", "--user", "clerk:pw",
             "--permissions", "guest:/:.*:.*:.*", "--permissions", "clerk:/:^$:^orders$:^work$")

    def connect(self, user, password):
        conn = pika.BlockingConnection(pika.ConnectionParameters(
            "127.0.0.1", self.broker.port, credentials=pika.PlainCredentials(user, password)))
        self.addCleanup(lambda: conn.is_open and conn.close())
        return conn

    def test_a_user_does_what_its_permissions_allow_and_gets_403_for_the_rest(self):
        admin = self.connect("guest", "guest").channel()
        admin.exchange_declare("orders", "fanout")
        admin.queue_declare("work")
        admin.queue_bind("work", "orders")
        clerk_conn = self.connect("clerk", "pw")
        clerk = clerk_conn.channel()
        clerk.basic_publish("orders", "", b"order 1")
        deadline = time.monotonic() + 5
        got = None
        while got is None and time.monotonic() < deadline:
            got = clerk.basic_get("work", auto_ack=True)[2]
        self.assertEqual(got, b"order 1")
        with self.assertRaises(pika.exceptions.ChannelClosedByBroker) as refused:
            clerk.queue_declare("mine")
        self.assertEqual(refused.exception.reply_code, 403)
        self.assertEqual(refused.exception.reply_text,
                         "ACCESS_REFUSED - access to queue 'mine' in vhost '/' refused for user 'clerk'")
        self.assertTrue(clerk_conn.is_open, "403 closes the channel, not the connection")


class PikaWithDefinitions(BrokerTestCase):
    """A RabbitMQ definitions file (data/definitions.json, in the format rabbitmqctl
    export_definitions writes) loaded at start: its users replace guest, its topology exists
    before any client declares it, and its permissions hold."""
    BINARY = BINARY
    EXTRA = ("--definitions", os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "definitions.json"))

    def connect(self, user, password):
        conn = pika.BlockingConnection(pika.ConnectionParameters(
            "127.0.0.1", self.broker.port, virtual_host="/shop", credentials=pika.PlainCredentials(user, password)))
        self.addCleanup(lambda: conn.is_open and conn.close())
        return conn

    def test_the_files_topology_users_and_permissions_are_there_at_start(self):
        clerk = self.connect("clerk", "pw").channel()
        clerk.confirm_delivery()
        for n in (1, 2):
            clerk.basic_publish("orders", "order.new", f"order {n}".encode())
        with self.assertRaises(pika.exceptions.NackError):  # x-max-length 2, reject-publish: from the file
            clerk.basic_publish("orders", "order.new", b"order 3")
        self.assertEqual(clerk.basic_get("billing", auto_ack=True)[2], b"order 1")
        with self.assertRaises(pika.exceptions.ChannelClosedByBroker) as refused:
            clerk.queue_declare("mine")
        self.assertEqual(refused.exception.reply_code, 403)
        shop = self.connect("shop", "s3cret").channel()
        self.assertEqual(shop.queue_declare("billing", passive=True).method.message_count, 1)
        with self.assertRaises(pika.exceptions.ProbableAuthenticationError):
            pika.BlockingConnection(pika.URLParameters(self.broker.url()))  # guest is not among the file's users


if __name__ == "__main__":
    unittest.main(verbosity=2)
