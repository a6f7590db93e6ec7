# Sourced by the bench scripts that run brokers side by side: loopback ports, waiting for a
# listener, Debian's RabbitMQ and `mqlab broker` started on ports chosen here and stopped again.
free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() {
  for _ in $(seq 600); do (echo > "/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done
  echo "$(basename "$0"): nothing listens on port $1 after 60 s" >&2
  return 1
}
# start_rabbitmq LOG: rabbitmq-server on 127.0.0.1, its port in rabbit_port, its pid in rabbit_pid.
start_rabbitmq() {
  rabbit_port=$(free_port)
  export RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 ERL_EPMD_ADDRESS=127.0.0.1 RABBITMQ_NODE_PORT=$rabbit_port \
    RABBITMQ_DIST_PORT=$(free_port)
  HOME=/var/lib/rabbitmq rabbitmq-server > "$1" 2>&1 &
  rabbit_pid=$!
}
# rabbit_vm_pid: the pid of the Erlang VM (beam.smp) start_rabbitmq's server runs in, found
# among its descendants (rabbitmq-server starts it through su and sh): what uses the CPU.
rabbit_vm_pid() {
  local vm p
  for vm in $(pgrep -x beam.smp); do
    p=$vm
    while [[ $p -gt 1 ]]; do
      [[ $p == "$rabbit_pid" ]] && { echo "$vm"; return 0; }
      p=$(awk '{print $4}' "/proc/$p/stat" 2>/dev/null) || break
    done
  done
  echo "$(basename "$0"): no Erlang VM under rabbitmq-server (pid $rabbit_pid)" >&2
  return 1
}
stop_rabbitmq() {
  HOME=/var/lib/rabbitmq timeout 60 rabbitmqctl stop > /dev/null 2>&1 || kill "$rabbit_pid" 2>/dev/null || true
}
# start_mqlab LOG ARGS...: `mqlab broker ARGS` in the background (the binary in $MQLAB, default
# build/bin/mqlab), its pid in mqlab_pid.
start_mqlab() {
  local log=$1
  shift
  "${MQLAB:-build/bin/mqlab}" broker "$@" > "$log" 2>&1 &
  mqlab_pid=$!
}
stop_mqlab() {
  kill "$mqlab_pid" 2>/dev/null || true
  wait "$mqlab_pid" 2>/dev/null || true
}
