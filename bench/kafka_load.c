/* mqlab-kafka-load: one librdkafka client binary for the Kafka benchmark and the client tests.
 *
 *   mqlab-kafka-load BOOTSTRAP produce TOPIC RECORDS [SIZE] [ACKS] [KEYS]
 *       RECORDS records of SIZE bytes (default 100) with acks ACKS (0, 1 or all; default 1),
 *       linger 5 ms, the murmur2_random partitioner (keyed records land where the Java client
 *       puts them); KEYS > 0 gives record i the key "key-<i mod KEYS>". Latency is send to
 *       delivery report. Prints records/s, MB/s, p50/p99 and how many records each partition got.
 *   mqlab-kafka-load BOOTSTRAP consume TOPIC RECORDS GROUP
 *       joins GROUP, reads RECORDS records from the beginning in batches, commits them
 *       synchronously (manual commit), prints records/s and MB/s.
 *
 * MQLAB_KAFKA_CONF="key=value,..." adds librdkafka properties (for tuning experiments).
 *
 * Prints one JSON line. Exits 1 if a delivery fails, a record is missing or the run exceeds
 * its time limit; 2 on bad arguments. */
#include <librdkafka/rdkafka.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>

enum { time_limit_s = 120, max_partitions = 1024, batch_size = 1000 };

static uint64_t now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
  const double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static void set(rd_kafka_conf_t *conf, const char *key, const char *value) {
  char err[256];
  if (rd_kafka_conf_set(conf, key, value, err, sizeof err) != RD_KAFKA_CONF_OK) {
    fprintf(stderr, "mqlab-kafka-load: %s=%s: %s\n", key, value, err);
    exit(2);
  }
}

/* Extra client properties from MQLAB_KAFKA_CONF="key=value,key=value", for tuning experiments. */
static void set_from_env(rd_kafka_conf_t *conf) {
  const char *env = getenv("MQLAB_KAFKA_CONF");
  if (!env || !*env) return;
  char *copy = strdup(env), *save = NULL;
  for (char *item = strtok_r(copy, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
    char *eq = strchr(item, '=');
    if (!eq) {
      fprintf(stderr, "mqlab-kafka-load: MQLAB_KAFKA_CONF item '%s' is not key=value\n", item);
      exit(2);
    }
    *eq = '\0';
    set(conf, item, eq + 1);
  }
  free(copy);
}

/* The client, with MQLAB_KAFKA_CONF applied last; exits 1 if librdkafka refuses it. */
static rd_kafka_t *new_client(rd_kafka_type_t type, rd_kafka_conf_t *conf) {
  set_from_env(conf);
  char err[256];
  rd_kafka_t *rk = rd_kafka_new(type, conf, err, sizeof err);
  if (!rk) {
    fprintf(stderr, "mqlab-kafka-load: %s\n", err);
    exit(1);
  }
  return rk;
}

struct produce_run {
  uint64_t *sent_ns;
  double *latency_us;
  long delivered, failed;
  long per_partition[max_partitions];
};

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
  (void)rk;
  struct produce_run *run = opaque;
  const long i = (long)(intptr_t)m->_private;
  if (m->err) {
    if (run->failed++ == 0) fprintf(stderr, "mqlab-kafka-load: delivery failed: %s\n", rd_kafka_err2str(m->err));
    return;
  }
  run->latency_us[run->delivered++] = (double)(now_ns() - run->sent_ns[i]) / 1000.0;
  if (m->partition >= 0 && m->partition < max_partitions) run->per_partition[m->partition]++;
}

static int produce(const char *bootstrap, const char *topic, long records, size_t size, const char *acks, long keys) {
  struct produce_run run = {0};
  run.sent_ns = calloc((size_t)records, sizeof *run.sent_ns);
  run.latency_us = calloc((size_t)records, sizeof *run.latency_us);
  rd_kafka_conf_t *conf = rd_kafka_conf_new();
  set(conf, "bootstrap.servers", bootstrap);
  set(conf, "acks", acks);
  set(conf, "linger.ms", "5");
  set(conf, "partitioner", "murmur2_random");
  set(conf, "queue.buffering.max.messages", "1000000");
  rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
  rd_kafka_conf_set_opaque(conf, &run);
  rd_kafka_t *rk = new_client(RD_KAFKA_PRODUCER, conf);
  char *payload = malloc(size);
  if (!run.sent_ns || !run.latency_us || !payload) {
    fprintf(stderr, "mqlab-kafka-load: no memory for %ld records of %zu bytes\n", records, size);
    exit(2);
  }
  memset(payload, 'x', size);
  char key[32];
  const uint64_t start = now_ns();
  for (long i = 0; i < records; ++i) {
    const int key_len = keys > 0 ? snprintf(key, sizeof key, "key-%ld", i % keys) : 0;
    const void *key_ptr = keys > 0 ? key : NULL;
    run.sent_ns[i] = now_ns();
    rd_kafka_resp_err_t e;
    while ((e = rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_VALUE(payload, size),
                                  RD_KAFKA_V_KEY(key_ptr, (size_t)key_len),
                                  RD_KAFKA_V_OPAQUE((void *)(intptr_t)i), RD_KAFKA_V_END)) ==
           RD_KAFKA_RESP_ERR__QUEUE_FULL) {
      rd_kafka_poll(rk, 1);
    }
    if (e) {
      fprintf(stderr, "mqlab-kafka-load: produce: %s\n", rd_kafka_err2str(e));
      exit(1);
    }
    if ((i & 1023) == 0) rd_kafka_poll(rk, 0);
  }
  rd_kafka_flush(rk, time_limit_s * 1000);
  const double seconds = (double)(now_ns() - start) / 1e9;
  const long acked = run.delivered;
  qsort(run.latency_us, (size_t)acked, sizeof(double), cmp_double);
  const int fire_and_forget = strcmp(acks, "0") == 0;
  printf("{\"mode\":\"produce\",\"acks\":\"%s\",\"records\":%ld,\"delivered\":%ld,\"failed\":%ld,\"seconds\":%.4f,"
         "\"records_per_s\":%.0f,\"mb_per_s\":%.2f,\"p50_us\":%.0f,\"p99_us\":%.0f,\"per_partition\":[",
         acks, records, acked, run.failed, seconds, (double)acked / seconds,
         (double)acked * (double)size / seconds / 1e6, acked ? run.latency_us[acked / 2] : 0.0,
         acked ? run.latency_us[(long)((double)acked * 0.99)] : 0.0);
  int last = 0;
  for (int p = 0; p < max_partitions; ++p) if (run.per_partition[p]) last = p;
  for (int p = 0; p <= last; ++p) printf("%s%ld", p ? "," : "", run.per_partition[p]);
  printf("]}\n");
  rd_kafka_destroy(rk);
  free(payload);
  free(run.latency_us);
  free(run.sent_ns);
  /* With acks=0 the broker never answers, so every record counts as delivered once sent. */
  return (acked == records && run.failed == 0) || (fire_and_forget && run.failed == 0) ? 0 : 1;
}

static int consume(const char *bootstrap, const char *topic, long records, const char *group) {
  rd_kafka_conf_t *conf = rd_kafka_conf_new();
  set(conf, "bootstrap.servers", bootstrap);
  set(conf, "group.id", group);
  set(conf, "auto.offset.reset", "earliest");
  set(conf, "enable.auto.commit", "false");
  set(conf, "enable.auto.offset.store", "false");
  set(conf, "queued.min.messages", "1000000");
  /* 1 MB responses instead of up to 50 MB: the broker builds a response whole before sending it,
   * so smaller ones keep broker and client busy at the same time. */
  set(conf, "fetch.max.bytes", "1048576");
  rd_kafka_t *rk = new_client(RD_KAFKA_CONSUMER, conf);
  rd_kafka_poll_set_consumer(rk);
  rd_kafka_topic_partition_list_t *topics = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(topics, topic, RD_KAFKA_PARTITION_UA);
  rd_kafka_subscribe(rk, topics);
  rd_kafka_topic_partition_list_destroy(topics);
  long got = 0;
  size_t bytes = 0;
  uint64_t start = 0;
  const uint64_t deadline = now_ns() + (uint64_t)time_limit_s * 1000000000u;
  /* Batches from the consumer queue: per-message polling costs the client more than the broker. */
  rd_kafka_queue_t *queue = rd_kafka_queue_get_consumer(rk);
  rd_kafka_message_t *batch[batch_size];
  while (got < records && now_ns() < deadline) {
    const ssize_t n = rd_kafka_consume_batch_queue(queue, 100, batch, batch_size);
    for (ssize_t i = 0; i < n; ++i) {
      rd_kafka_message_t *m = batch[i];
      if (!m->err) {
        if (got++ == 0) start = now_ns();  /* from the first record: the group join is not throughput */
        bytes += m->len;
        rd_kafka_offset_store(m->rkt, m->partition, m->offset);
      }
      rd_kafka_message_destroy(m);
    }
  }
  rd_kafka_queue_destroy(queue);
  const double seconds = got > 1 ? (double)(now_ns() - start) / 1e9 : 1.0;
  const rd_kafka_resp_err_t commit = got ? rd_kafka_commit(rk, NULL, 0) : RD_KAFKA_RESP_ERR_NO_ERROR;
  printf("{\"mode\":\"consume\",\"records\":%ld,\"received\":%ld,\"seconds\":%.4f,\"records_per_s\":%.0f,"
         "\"mb_per_s\":%.2f,\"commit\":\"%s\"}\n",
         records, got, seconds, (double)got / seconds, (double)bytes / seconds / 1e6, rd_kafka_err2name(commit));
  rd_kafka_consumer_close(rk);
  rd_kafka_destroy(rk);
  return got == records && commit == RD_KAFKA_RESP_ERR_NO_ERROR ? 0 : 1;
}

int main(int argc, char **argv) {
  const long records = argc >= 5 ? atol(argv[4]) : 0;
  if (argc >= 5 && records <= 0) {
    fprintf(stderr, "mqlab-kafka-load: RECORDS %s: expected a positive count\n", argv[4]);
    return 2;
  }
  if (argc >= 5 && strcmp(argv[2], "produce") == 0) {
    return produce(argv[1], argv[3], records, argc > 5 ? (size_t)atol(argv[5]) : 100, argc > 6 ? argv[6] : "1",
                   argc > 7 ? atol(argv[7]) : 0);
  }
  if (argc == 6 && strcmp(argv[2], "consume") == 0) return consume(argv[1], argv[3], records, argv[5]);
  fprintf(stderr,
          "usage: mqlab-kafka-load BOOTSTRAP produce TOPIC RECORDS [SIZE] [ACKS] [KEYS]\n"
          "       mqlab-kafka-load BOOTSTRAP consume TOPIC RECORDS GROUP\n");
  return 2;
}
