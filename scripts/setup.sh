#!/usr/bin/env bash
# Installs the Debian packages tollgate needs, only those missing.
# Idempotent and silent when everything is already there; uses sudo when not root.
set -euo pipefail

packages=(
  build-essential cmake pkg-config git python3
  libuv1-dev libhiredis-dev libxxhash-dev libyaml-cpp-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libcctz-dev tzdata libcli11-dev libspdlog-dev libfmt-dev
  redis-server redis-tools
  libgrpc++-dev libprotobuf-dev protobuf-compiler protobuf-compiler-grpc   # the Envoy gRPC front
  libhttp-parser-dev nlohmann-json3-dev   # the HTTP check and metrics front (parser, POST /v1/check JSON)
  libsystemd-dev                          # sd_notify for Type=notify
  nginx wrk prometheus                    # nginx auth_request tests, HTTP bench, promtool
  python3-redis                           # redis-py client tests
  libzstd-dev                             # call log segments (zstd)
  libcurl4-openssl-dev                    # monitor webhooks (libcurl multi on the control loop)
  clang-16 libfuzzer-16-dev libclang-rt-16-dev   # the fuzz build (make test-fuzz / make fuzz)
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "setup: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
  sudo="sudo"
fi
echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq >/dev/null
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
