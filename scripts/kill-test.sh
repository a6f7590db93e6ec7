#!/usr/bin/env bash
# The kill test at length: `mqlab broker --data-dir` SIGKILLed at random moments under unmodified
# clients (confluent-kafka with acks=all; pika with confirms), restarted, read back; fails if
# one acknowledged message is missing. Usage: scripts/kill-test.sh [KILLS (default 20)] [SEED]
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x build/bin/mqlab ] || { echo "build first: make" >&2; exit 2; }
export MQLAB_KILLS="${1:-20}" MQLAB_KILL_SEED="${2:-$RANDOM}" PYTHONDONTWRITEBYTECODE=1
echo "kill test: $MQLAB_KILLS kills per protocol, seed $MQLAB_KILL_SEED"
cd tests/net/clients
exec /usr/bin/python3 kill_test.py "$OLDPWD/build/bin/mqlab"
