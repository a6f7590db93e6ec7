"""One operation sequence run with pika against an AMQP broker, each step's observable result
recorded (return values, reply codes and texts, message order and flags), and compared with
RabbitMQ's. RabbitMQ's observations are saved in rabbitmq_transcript.json, so ctest needs no
RabbitMQ; `--record` regenerates them from Debian's rabbitmq-server, `--live` compares both now.

  differential.py MQLAB_BINARY            compare mqlab with the saved transcript (ctest)
  differential.py MQLAB_BINARY --live     start rabbitmq-server too and compare both live
  differential.py MQLAB_BINARY --record   run against rabbitmq-server and save its transcript
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pika
import pika.exceptions

from mqlab_broker import Broker, free_port
from transcript import observe_mqlab, reference

HERE = os.path.dirname(os.path.abspath(__file__))
TRANSCRIPT = os.path.join(HERE, "rabbitmq_transcript.json")
NAMES = ["diff.q1", "diff.prio", "diff.len", "diff.rej", "diff.del", "diff.ttl", "diff.dead", "diff.tx", "diff.cancel",
         "diff.headers", "diff.qos"]


def close_code(e):
    if isinstance(e, (pika.exceptions.ChannelClosedByBroker, pika.exceptions.ConnectionClosedByBroker)):
        return {"code": e.reply_code, "text": e.reply_text}
    return {"error": type(e).__name__}


class Session:
    def __init__(self, port):
        self.port = port
        self.conn = self.connect()
        self.ch = self.conn.channel()

    def connect(self):
        return pika.BlockingConnection(pika.ConnectionParameters("127.0.0.1", self.port, socket_timeout=5))

    def fresh(self):
        """A new channel (and connection if the last step closed it)."""
        if not self.conn.is_open:
            self.conn = self.connect()
        self.ch = self.conn.channel()
        return self.ch

    def attempt(self, fn):
        try:
            return {"ok": fn()}
        except Exception as e:  # noqa: BLE001 - every failure is an observation here
            result = close_code(e)
            self.fresh()
            return result

    def bodies(self, queue, ack=True):
        out = []
        for _ in range(100):
            m, props, body = self.ch.basic_get(queue, auto_ack=ack)
            if m is None:
                return out
            out.append({"body": body.decode(), "redelivered": m.redelivered, "left": m.message_count})
        return out


def steps(s):
    """Yields (name, observation)."""
    ch = s.ch
    for q in NAMES:
        ch.queue_delete(q)
    ch.exchange_delete("diff.hx")

    yield "declare", s.attempt(lambda: list(vars(s.ch.queue_declare("diff.q1", durable=True).method).items()))
    yield "redeclare with other durability", s.attempt(lambda: s.ch.queue_declare("diff.q1", durable=False) and None)
    yield "passive declare of a missing queue", s.attempt(lambda: s.ch.queue_declare("diff.missing", passive=True) and None)
    yield "unknown exchange type", s.attempt(lambda: s.ch.exchange_declare("diff.x", "nonsense") and None)
    yield "reserved exchange name", s.attempt(lambda: s.ch.exchange_declare("amq.custom", "direct") and None)
    yield "bind to a missing exchange", s.attempt(lambda: s.ch.queue_bind("diff.q1", "diff.nowhere", "k") and None)
    yield "publish to a missing exchange", s.attempt(
        lambda: (s.ch.basic_publish("diff.nowhere", "k", b"x"), s.ch.queue_declare("diff.q1", passive=True))[1] and None)

    ch = s.fresh()
    for i in range(3):
        ch.basic_publish("", "diff.q1", f"m{i}".encode())
    first = ch.basic_get("diff.q1", auto_ack=False)[0]
    ch.basic_nack(first.delivery_tag, requeue=True)
    yield "nack requeue puts the message back marked redelivered", s.bodies("diff.q1")
    yield "get from an empty queue", s.attempt(lambda: s.ch.basic_get("diff.q1")[0])
    yield "ack of an unknown delivery tag", s.attempt(lambda: (s.ch.basic_ack(99), s.ch.queue_declare("diff.q1", passive=True))[1] and None)

    ch = s.fresh()
    ch.queue_declare("diff.prio", arguments={"x-max-priority": 5})
    for p in (1, 9, 3, 0, 5):
        ch.basic_publish("", "diff.prio", str(p).encode(), pika.BasicProperties(priority=p))
    yield "priorities above x-max-priority count as the maximum", s.bodies("diff.prio")

    ch.queue_declare("diff.len", arguments={"x-max-length": 2})
    for i in range(4):
        ch.basic_publish("", "diff.len", f"l{i}".encode())
    yield "x-max-length drops from the head", s.bodies("diff.len")

    ch.confirm_delivery()
    ch.queue_declare("diff.rej", arguments={"x-max-length": 1, "x-overflow": "reject-publish"})
    results = []
    for i in range(2):
        try:
            ch.basic_publish("", "diff.rej", f"r{i}".encode())
            results.append("ack")
        except pika.exceptions.NackError:
            results.append("nack")
    yield "reject-publish nacks the publish that does not fit", results
    try:
        ch.basic_publish("", "diff.unroutable", b"u", mandatory=True)
        yield "mandatory unroutable", "ack"
    except pika.exceptions.UnroutableError as e:
        yield "mandatory unroutable", [(m.method.reply_code, m.method.reply_text) for m in e.messages]

    ch = s.fresh()
    ch.queue_declare("diff.del")
    ch.basic_publish("", "diff.del", b"keep")
    yield "delete if-empty of a non-empty queue", s.attempt(lambda: s.ch.queue_delete("diff.del", if_empty=True) and None)
    yield "purge returns the count", s.attempt(lambda: s.ch.queue_purge("diff.del").method.message_count)

    other = Session(s.port)
    excl = other.ch.queue_declare("", exclusive=True).method.queue
    yield "exclusive queue from another connection", {
        k: (v.replace(excl, "<generated>") if isinstance(v, str) else v)
        for k, v in s.attempt(lambda: s.ch.queue_declare(excl, passive=True) and None).items()}
    other.conn.close()

    ch = s.fresh()
    ch.queue_declare("diff.dead")
    ch.queue_declare("diff.ttl", arguments={"x-message-ttl": 50, "x-dead-letter-exchange": "",
                                            "x-dead-letter-routing-key": "diff.dead"})
    ch.basic_publish("", "diff.ttl", b"expires", pika.BasicProperties(headers={"app": "lab"}))
    time.sleep(0.3)
    m, props, body = ch.basic_get("diff.dead", auto_ack=True)
    death = props.headers["x-death"][0] if m else {}
    yield "TTL expiry dead-letters with x-death", {
        "body": body.decode() if m else None, "routing_key": m.routing_key if m else None,
        "exchange": m.exchange if m else None, "app": props.headers.get("app") if m else None,
        "x-death": {k: (v if not isinstance(v, bytes) else v.decode()) for k, v in death.items() if k != "time"}}

    ch.exchange_declare("diff.hx", "headers")
    ch.queue_declare("diff.headers")
    ch.queue_bind("diff.headers", "diff.hx", arguments={"x-match": "any", "a": 1, "b": "two"})
    for headers in ({"a": 1}, {"b": "two", "c": 3}, {"a": 2}, {}):
        ch.basic_publish("diff.hx", "", json.dumps(headers).encode(), pika.BasicProperties(headers=headers))
    yield "headers exchange x-match any", [b["body"] for b in s.bodies("diff.headers")]

    ch.queue_declare("diff.tx")
    ch.tx_select()
    ch.basic_publish("", "diff.tx", b"t1")
    ch.tx_rollback()
    ch.basic_publish("", "diff.tx", b"t2")
    before = ch.queue_declare("diff.tx", passive=True).method.message_count
    ch.tx_commit()
    yield "tx publishes appear at commit only", [before, ch.queue_declare("diff.tx", passive=True).method.message_count]

    ch = s.fresh()
    ch.queue_declare("diff.qos")
    for i in range(10):
        ch.basic_publish("", "diff.qos", str(i).encode())
    ch.basic_qos(prefetch_count=4)
    got = []
    ch.basic_consume("diff.qos", lambda c, m, p, b: got.append((m.delivery_tag, b.decode())))
    s.conn.process_data_events(time_limit=0.3)
    yield "prefetch 4 delivers four unacked", list(got)

    ch = s.fresh()
    ch.queue_declare("diff.cancel")
    cancelled = []
    ch.basic_consume("diff.cancel", lambda *a: None, consumer_tag="diff-ctag")
    ch.add_on_cancel_callback(lambda frame: cancelled.append(frame.method.consumer_tag))
    s.fresh().queue_delete("diff.cancel")
    s.conn.process_data_events(time_limit=0.3)
    yield "consumer cancel notification when its queue is deleted", cancelled


def observe(port):
    s = Session(port)
    out = [{"step": name, "observed": json.loads(json.dumps(obs, default=str))} for name, obs in steps(s)]
    if s.conn.is_open:
        s.conn.close()
    return out


class RabbitMQ:
    """Debian's rabbitmq-server on a loopback port chosen here; stopped by rabbitmqctl, then its PID."""

    def __init__(self):
        self.port = free_port()
        env = dict(os.environ, RABBITMQ_NODE_IP_ADDRESS="127.0.0.1", ERL_EPMD_ADDRESS="127.0.0.1",
                   HOME="/var/lib/rabbitmq", RABBITMQ_NODE_PORT=str(self.port),
                   RABBITMQ_DIST_PORT=str(free_port()))
        self.env = env
        self.proc = subprocess.Popen(["rabbitmq-server"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(600):  # at most 60 s: RabbitMQ boots slowly
            try:
                pika.BlockingConnection(pika.ConnectionParameters("127.0.0.1", self.port)).close()
                return
            except pika.exceptions.AMQPConnectionError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError("rabbitmq-server did not start within 60 s")

    def stop(self):
        subprocess.run(["rabbitmqctl", "stop"], env=self.env, capture_output=True, timeout=60)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.kill(self.proc.pid, signal.SIGKILL)


def compare(reference, ours, label):
    failures = 0
    for ref, got in zip(reference, ours):
        if ref != got:
            failures += 1
            print(f"DIFFERENT  {ref['step']}\n  {label}: {json.dumps(ref['observed'])}\n  mqlab:    {json.dumps(got['observed'])}")
        else:
            print(f"same       {ref['step']}")
    if len(reference) != len(ours):
        failures += 1
        print(f"DIFFERENT  number of steps: {label} {len(reference)}, mqlab {len(ours)}")
    return failures


def main():
    binary, flags = sys.argv[1], sys.argv[2:]
    ref = reference(flags, TRANSCRIPT, lambda: shutil.which("rabbitmq-server") is not None, RabbitMQ, observe,
                    "rabbitmq", "scripts/install-deps.sh --bench installs it")
    if ref is None:
        return 0
    expected, label = ref
    ours = observe_mqlab(Broker(binary), observe)
    failures = compare(expected, ours, label)
    print(f"{len(expected) - failures} of {len(expected)} steps observed the same as RabbitMQ")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
