#!/usr/bin/env bash
# Installs the Debian 12 packages ebs-flow needs to build, run and test.
# Idempotent: only missing packages are installed; apt-get update runs only when needed.
set -euo pipefail

build_packages=(
  build-essential cmake ninja-build ccache pkg-config
  libcaf-dev librdkafka-dev libcapnp-dev capnproto
  libsqlite3-dev libyaml-cpp-dev libspdlog-dev libfmt-dev doctest-dev
  liberfa-dev nlohmann-json3-dev libcli11-dev
  libavro-dev libsnappy-dev zlib1g-dev libcfitsio-dev libhealpix-cxx-dev libchealpix-dev
  libgsl-dev libxgboost-dev libcurl4-openssl-dev libcpp-httplib-dev libssl-dev
  libxml2-dev libpng-dev libpq-dev
  libjemalloc-dev  # the product's allocator (app/allocator.h)
)
# The torch-score actor (CMake option EBS_TORCH, on by default; docs/ml.md): libtorch is large,
# so EBS_TORCH=OFF in the environment leaves it out (configure with -DEBS_TORCH=OFF then).
if [[ "${EBS_TORCH:-ON}" != "OFF" ]]; then
  build_packages+=(libtorch-dev)
fi
# Independent oracles used only by tests (never in the product's path).
test_packages=(
  python3 python3-numpy python3-astropy python3-erfa python3-healpy python3-avro python3-xgboost
  python3-torch  # the TorchScript oracle and models/train_models.py (docs/ml.md)
  python3-gammapy  # GADF light-curve and HPX exports are read back by Gammapy (docs/followup.md)
  chromium nodejs
  postgresql
  openssl  # certificates for the cluster TLS test (test/cluster_run_test.cpp, docs/cluster.md)
  clang-14 libclang-rt-14-dev libomp-14-dev lld-14  # the sanitizer build and libFuzzer (tools/sanitizer-build.sh, docs/reliability.md)
)

wanted=("${build_packages[@]}")
if [[ "${1:-}" == "--with-tests" ]]; then
  wanted+=("${test_packages[@]}")
fi

missing=()
for pkg in "${wanted[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$pkg")
  fi
done

sudo_cmd=()
if [[ $(id -u) -ne 0 ]]; then sudo_cmd=(sudo); fi
export DEBIAN_FRONTEND=noninteractive
if ((${#missing[@]} > 0)); then
  echo "install-deps: installing ${missing[*]}" >&2
  "${sudo_cmd[@]}" apt-get update -qq
  "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# The dashboard's browser test drives Chromium with npm's playwright-core, pinned by
# web/test/package-lock.json (Debian's nodejs comes without npm).
if [[ "${1:-}" == "--with-tests" ]]; then
  command -v npm >/dev/null || "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends npm
  web_test="$(cd "$(dirname "$0")/.." && pwd)/web/test"
  if [[ ! -d "$web_test/node_modules/playwright-core" ]]; then
    (cd "$web_test" && npm ci --no-audit --no-fund --silent)
  fi
fi
