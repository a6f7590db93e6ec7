#!/usr/bin/env bash
# Installs the Debian 12 packages mqlab needs to build and test; does nothing when they are present.
# Usage: scripts/install-deps.sh [--bench] [--fuzz]   (--bench adds the peers the benchmark scripts compare
# against; --fuzz adds clang 16 and its libFuzzer runtime for `make fuzz`)
set -euo pipefail
packages=(cmake ninja-build g++ make pkg-config ccache
  libboost-dev libcli11-dev libyaml-cpp-dev nlohmann-json3-dev libfmt-dev
  libgtest-dev libgmock-dev libbenchmark-dev zlib1g-dev libsnappy-dev liblz4-dev libzstd-dev
  python3-pika amqp-tools librabbitmq-dev kcat librdkafka-dev python3-kafka python3-confluent-kafka python3-stomp
  qt6-base-dev qt6-charts-dev libqt6opengl6-dev libgl1-mesa-dev fonts-dejavu-core fonts-wqy-microhei
  libopenmpi-dev)
for option in "$@"; do
  case "$option" in
    --bench) packages+=(libns3-dev python3-simpy hyperfine bc rabbitmq-server activemq) ;;
    --fuzz) packages+=(clang-16 libclang-rt-16-dev) ;;
    *) echo "install-deps: unknown option $option" >&2; exit 2 ;;
  esac
done
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [[ ${#missing[@]} -eq 0 ]]; then
  exit 0
fi
echo "install-deps: installing ${missing[*]}"
sudo_cmd=()
[[ $(id -u) -eq 0 ]] || sudo_cmd=(sudo)
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
