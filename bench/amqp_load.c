/* mqlab-amqp-load: one librabbitmq client binary that loads any AMQP 0-9-1 broker the same way,
 * so mqlab and RabbitMQ are measured side by side with identical client code.
 *
 *   mqlab-amqp-load HOST PORT[,PUBLISHER_PORT,CONSUMER_PORT] MODE MESSAGES [SIZE [RATE]]
 *   MODE: publish  - no confirms; with a RATE (messages a second) the publisher keeps to a
 *                    schedule, message i due at i / RATE, and stamps each with its due time, so
 *                    a broker that falls behind shows it in the latencies (no coordinated
 *                    omission): whether a rate is sustained, not how fast a backlog drains
 *         confirm  - publisher confirms, waiting for each window of 100
 *         persistent - the same, persistent messages (delivery mode 2) into a durable queue
 *         fill     - persistent messages with confirms into a durable queue nobody reads, which
 *                    stays (a backlog for recovery measurements); prints the queue's name
 *         consume  - (messages are published first, then) a consumer with prefetch 1000 and
 *                    multiple acks drains them
 *
 * A consumer thread with prefetch 1000 and multi-ack receives every message; each body carries
 * its monotonic send time, so latency is publish-to-delivery on one clock. Prints one JSON line:
 * the latency's p50 and p99, and end_us, the median latency of the last 1% of messages (the
 * backlog left when publishing ended, in time).
 * The publisher writes its frames a 64 KiB buffer at a time (and at the end of each confirm
 * window) rather than through librabbitmq's one system call per frame; see queue_publish(). 
 * The queue is declared through PORT; with three ports (cluster nodes) the publisher and the
 * consumer connect to other nodes than the one that owns the queue.
 * Exits 1 if a message is missing or the run exceeds its time limit. */
#include <amqp.h>
#include <amqp_tcp_socket.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum { confirm_window = 100, prefetch = 1000, time_limit_s = 120 };

struct run {
  const char *host;
  int port, publisher_port, consumer_port;
  const char *mode;
  long messages;
  size_t size;
  double rate; /* messages a second the publisher keeps to; 0: as fast as it can */
  char queue[64];
  double *latency_us; /* one per received message */
  long received;
  double seconds;
  int failed;
};

static uint64_t now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static int check(amqp_rpc_reply_t r, const char *what) {
  if (r.reply_type == AMQP_RESPONSE_NORMAL) return 1;
  fprintf(stderr, "mqlab-amqp-load: %s failed (reply type %d)\n", what, (int)r.reply_type);
  return 0;
}

static amqp_connection_state_t connect_to(struct run *run, int port) {
  amqp_connection_state_t conn = amqp_new_connection();
  amqp_socket_t *socket = amqp_tcp_socket_new(conn);
  if (!socket || amqp_socket_open(socket, run->host, port) != AMQP_STATUS_OK) {
    fprintf(stderr, "mqlab-amqp-load: cannot connect to %s:%d\n", run->host, port);
    exit(1);
  }
  if (!check(amqp_login(conn, "/", 0, 131072, 0, AMQP_SASL_METHOD_PLAIN, "guest", "guest"), "login")) exit(1);
  amqp_channel_open(conn, 1);
  if (!check(amqp_get_rpc_reply(conn), "channel.open")) exit(1);
  return conn;
}

static void disconnect(amqp_connection_state_t conn) {
  amqp_channel_close(conn, 1, AMQP_REPLY_SUCCESS);
  amqp_connection_close(conn, AMQP_REPLY_SUCCESS);
  amqp_destroy_connection(conn);
}

/* Waits until the broker has confirmed every publish up to `last`. */
static int await_confirms(amqp_connection_state_t conn, uint64_t last) {
  uint64_t confirmed = 0;
  while (confirmed < last) {
    amqp_frame_t frame;
    struct timeval timeout = {time_limit_s, 0};
    if (amqp_simple_wait_frame_noblock(conn, &frame, &timeout) != AMQP_STATUS_OK) return 0;
    if (frame.frame_type != AMQP_FRAME_METHOD) continue;
    if (frame.payload.method.id == AMQP_BASIC_ACK_METHOD) {
      amqp_basic_ack_t *ack = frame.payload.method.decoded;
      confirmed = ack->delivery_tag;
    } else if (frame.payload.method.id == AMQP_BASIC_NACK_METHOD) {
      return 0;
    }
  }
  return 1;
}

/* The publisher's outgoing frames. librabbitmq sends each frame of a publish with a system call
 * of its own (three per message), which made the client, not the broker, the bottleneck; the
 * publisher instead encodes basic.publish, the content header and the body itself and writes
 * them to the connection's socket a buffer at a time, as buffered clients do. Everything else
 * (login, channel, confirm.select, confirms, consuming) stays librabbitmq's. */
struct outbox {
  int fd;
  unsigned char data[64 * 1024];
  size_t used;
};

/* librabbitmq keeps its socket non-blocking: wait (up to the time limit) until it takes more. */
static int flush_outbox(struct outbox *out) {
  size_t done = 0;
  while (done < out->used) {
    const ssize_t n = write(out->fd, out->data + done, out->used - done);
    if (n > 0) {
      done += (size_t)n;
      continue;
    }
    struct pollfd writable = {out->fd, POLLOUT, 0};
    if (n == 0 || (errno != EAGAIN && errno != EINTR) || poll(&writable, 1, time_limit_s * 1000) <= 0) return 0;
  }
  out->used = 0;
  return 1;
}

static unsigned char *put16(unsigned char *p, uint16_t v) {
  p[0] = (unsigned char)(v >> 8);
  p[1] = (unsigned char)v;
  return p + 2;
}

static unsigned char *put32(unsigned char *p, uint32_t v) { return put16(put16(p, (uint16_t)(v >> 16)), (uint16_t)v); }

static unsigned char *put64(unsigned char *p, uint64_t v) { return put32(put32(p, (uint32_t)(v >> 32)), (uint32_t)v); }

/* One frame on channel 1: type, channel, payload size, payload (written by the caller), 0xCE. */
static unsigned char *frame_start(unsigned char *p, uint8_t type, uint32_t size) {
  *p++ = type;
  return put32(put16(p, 1), size);
}

/* basic.publish to the default exchange with `queue` as routing key, then its content
 * (delivery mode 2 if `persistent`). */
static int queue_publish(struct outbox *out, const char *queue, const unsigned char *body, size_t size,
                         int persistent) {
  enum { frame_overhead = 8, max_body_frame = 131072 - frame_overhead };
  const size_t qlen = strlen(queue);
  const size_t frames = (size + max_body_frame - 1) / max_body_frame;
  const size_t need = (frame_overhead + 9 + qlen) + (frame_overhead + 15) + size + frames * frame_overhead;
  if (need > sizeof out->data) return 0;
  if (out->used + need > sizeof out->data && !flush_outbox(out)) return 0;
  unsigned char *p = out->data + out->used;
  p = frame_start(p, AMQP_FRAME_METHOD, (uint32_t)(9 + qlen));
  p = put16(put16(p, 60), 40);  /* basic.publish */
  p = put16(p, 0);              /* reserved-1 */
  *p++ = 0;                     /* exchange: "" */
  *p++ = (unsigned char)qlen;   /* routing key */
  memcpy(p, queue, qlen);
  p += qlen;
  *p++ = 0;                     /* mandatory, immediate: off */
  *p++ = AMQP_FRAME_END;
  p = frame_start(p, AMQP_FRAME_HEADER, persistent ? 15 : 14);
  p = put64(put16(put16(p, 60), 0), size);  /* class basic, weight 0, body size */
  p = put16(p, persistent ? 0x1000 : 0);    /* property flags: delivery-mode only, or none */
  if (persistent) *p++ = 2;
  *p++ = AMQP_FRAME_END;
  for (size_t at = 0; at < size; at += max_body_frame) {
    const size_t n = size - at < max_body_frame ? size - at : max_body_frame;
    p = frame_start(p, AMQP_FRAME_BODY, (uint32_t)n);
    memcpy(p, body + at, n);
    p += n;
    *p++ = AMQP_FRAME_END;
  }
  out->used = (size_t)(p - out->data);
  return 1;
}

static void *publisher(void *arg) {
  struct run *run = arg;
  amqp_connection_state_t conn = connect_to(run, run->publisher_port);
  const int persistent = strcmp(run->mode, "persistent") == 0 || strcmp(run->mode, "fill") == 0;
  const int confirms = persistent || strcmp(run->mode, "confirm") == 0;
  if (confirms) {
    amqp_confirm_select(conn, 1);
    if (!check(amqp_get_rpc_reply(conn), "confirm.select")) exit(1);
  }
  unsigned char *body = calloc(1, run->size);
  struct outbox *out = calloc(1, sizeof *out);
  out->fd = amqp_get_sockfd(conn);
  const uint64_t began = now_ns();
  for (long i = 1; i <= run->messages; ++i) {
    uint64_t t = now_ns();
    if (run->rate > 0) {
      const uint64_t due = began + (uint64_t)((double)(i - 1) * 1e9 / run->rate);
      if (due > t) {
        /* Ahead of the schedule: what is written so far goes now, then wait for the due time. */
        if (!flush_outbox(out)) {
          fprintf(stderr, "mqlab-amqp-load: publish %ld failed\n", i);
          run->failed = 1;
          break;
        }
        const struct timespec at = {(time_t)(due / 1000000000u), (long)(due % 1000000000u)};
        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &at, NULL) == EINTR) {
        }
      }
      t = due;
    }
    memcpy(body, &t, sizeof t);
    const int window_end = i == run->messages || (confirms && i % confirm_window == 0);
    if (!queue_publish(out, run->queue, body, run->size, persistent) || (window_end && !flush_outbox(out))) {
      fprintf(stderr, "mqlab-amqp-load: publish %ld failed\n", i);
      run->failed = 1;
      break;
    }
    if (confirms && window_end && !await_confirms(conn, (uint64_t)i)) {
      fprintf(stderr, "mqlab-amqp-load: confirms for publish %ld did not arrive\n", i);
      run->failed = 1;
      break;
    }
  }
  free(out);
  free(body);
  disconnect(conn);
  return NULL;
}

static void *consumer(void *arg) {
  struct run *run = arg;
  amqp_connection_state_t conn = connect_to(run, run->consumer_port);
  amqp_basic_qos(conn, 1, 0, prefetch, 0);
  amqp_basic_consume(conn, 1, amqp_cstring_bytes(run->queue), amqp_empty_bytes, 0, 0, 0, amqp_empty_table);
  if (!check(amqp_get_rpc_reply(conn), "basic.consume")) exit(1);
  const uint64_t start = now_ns();
  while (run->received < run->messages) {
    amqp_envelope_t envelope;
    struct timeval timeout = {time_limit_s, 0};
    amqp_maybe_release_buffers(conn);
    if (!check(amqp_consume_message(conn, &envelope, &timeout, 0), "consume")) {
      run->failed = 1;
      break;
    }
    uint64_t sent;
    memcpy(&sent, envelope.message.body.bytes, sizeof sent);
    run->latency_us[run->received++] = (double)(now_ns() - sent) / 1000.0;
    /* Multiple acks, half a prefetch window at a time, as throughput-minded consumers do. */
    if (run->received % (prefetch / 2) == 0 || run->received == run->messages) {
      amqp_basic_ack(conn, 1, envelope.delivery_tag, 1);
    }
    amqp_destroy_envelope(&envelope);
  }
  run->seconds = (double)(now_ns() - start) / 1e9;
  disconnect(conn);
  return NULL;
}

static int by_value(const void *a, const void *b) {
  const double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double quantile(const double *sorted, long n, double q) {
  return n == 0 ? 0 : sorted[(long)(q * (double)(n - 1))];
}

int main(int argc, char **argv) {
  if (argc < 5) {
    fprintf(stderr, "usage: %s HOST PORT[,PUBLISHER_PORT,CONSUMER_PORT] publish|confirm|persistent|fill|consume MESSAGES [SIZE [RATE]]\n",
            argv[0]);
    return 2;
  }
  struct run run = {.host = argv[1], .mode = argv[3], .messages = atol(argv[4]),
                    .size = argc > 5 ? (size_t)atol(argv[5]) : 100, .rate = argc > 6 ? atof(argv[6]) : 0};
  const int ports = sscanf(argv[2], "%d,%d,%d", &run.port, &run.publisher_port, &run.consumer_port);
  if (ports == 1) run.publisher_port = run.consumer_port = run.port;
  if ((ports != 1 && ports != 3) || run.messages <= 0 || run.size < sizeof(uint64_t) || run.rate < 0 ||
      (run.rate > 0 && strcmp(run.mode, "publish")) ||
      (strcmp(run.mode, "publish") && strcmp(run.mode, "confirm") && strcmp(run.mode, "consume") &&
       strcmp(run.mode, "persistent") && strcmp(run.mode, "fill"))) {
    fprintf(stderr, "mqlab-amqp-load: bad arguments\n");
    return 2;
  }
  snprintf(run.queue, sizeof run.queue, "mqlab-load-%d-%ld", (int)getpid(), (long)now_ns() % 100000);
  run.latency_us = calloc((size_t)run.messages, sizeof(double));
  amqp_connection_state_t admin = connect_to(&run, run.port);
  const int fill = strcmp(run.mode, "fill") == 0;
  const int durable = fill || strcmp(run.mode, "persistent") == 0;
  amqp_queue_declare(admin, 1, amqp_cstring_bytes(run.queue), 0, durable, 0, !fill, amqp_empty_table);
  if (!check(amqp_get_rpc_reply(admin), "queue.declare")) return 1;
  if (fill) {
    const uint64_t began = now_ns();
    publisher(&run);
    disconnect(admin);
    const double took = (double)(now_ns() - began) / 1e9;
    printf("{\"mode\": \"fill\", \"queue\": \"%s\", \"messages\": %ld, \"size\": %zu, \"seconds\": %.4f, "
           "\"msgs_per_s\": %.0f}\n", run.queue, run.messages, run.size, took, (double)run.messages / took);
    return run.failed;
  }

  pthread_t pub, con;
  const uint64_t start = now_ns();
  if (strcmp(run.mode, "consume") == 0) {
    /* Backlog first, then measure draining it. */
    publisher(&run);
    consumer(&run);
  } else {
    pthread_create(&con, NULL, consumer, &run);
    pthread_create(&pub, NULL, publisher, &run);
    pthread_join(pub, NULL);
    pthread_join(con, NULL);
  }
  const double wall = (double)(now_ns() - start) / 1e9;
  const double seconds = strcmp(run.mode, "consume") == 0 ? run.seconds : wall;
  disconnect(admin);

  /* The last messages' latency is the backlog left when publishing ended, in time: what a broker
   * that keeps up drains at once, and one that falls behind has let grow over the whole run. */
  const long last = run.received / 100 > 0 ? run.received / 100 : 1;
  double end_us = 0;
  if (run.received > 0) {
    qsort(run.latency_us + (run.received - last), (size_t)last, sizeof(double), by_value);
    end_us = quantile(run.latency_us + (run.received - last), last, 0.5);
  }
  qsort(run.latency_us, (size_t)run.received, sizeof(double), by_value);
  printf("{\"mode\": \"%s\", \"rate\": %.0f, \"messages\": %ld, \"received\": %ld, \"size\": %zu, \"seconds\": %.4f, "
         "\"msgs_per_s\": %.0f, \"p50_us\": %.1f, \"p99_us\": %.1f, \"end_us\": %.1f}\n",
         run.mode, run.rate, run.messages, run.received, run.size, seconds, (double)run.received / seconds,
         quantile(run.latency_us, run.received, 0.5), quantile(run.latency_us, run.received, 0.99), end_us);
  free(run.latency_us);
  return run.failed || run.received != run.messages ? 1 : 0;
}
