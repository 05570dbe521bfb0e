#!/usr/bin/env bash
# Installs everything grpc-cpp-polaris needs on Debian bookworm, offline from the
# Debian archive only, and idempotently: a second run takes well under a second.
#
#   1. Debian packages: Bazel 4.2.3, gRPC 1.51.1, protobuf, abseil, gtest/gmock,
#      Google Benchmark, rules_proto/rules_java/skylib, python3-protobuf.
#   2. gRPC's internal src/core headers (not shipped by any -dev package), taken
#      from Debian's `grpc` *source* package of exactly the installed version and
#      extracted to $GRPC_CPP_POLARIS_HOME (default /usr/local/share/grpc-cpp-polaris).
#
# When not root and something is missing, prints the command to run and exits 1.
set -euo pipefail

PACKAGES=(
  bazel-bootstrap bazel-rules-proto bazel-rules-java bazel-skylib
  g++ libre2-dev libgrpc++-dev libgrpc-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libabsl-dev libgtest-dev libgmock-dev libbenchmark-dev libcivetweb-dev
  python3 python3-protobuf ca-certificates
)
HOME_DIR=${GRPC_CPP_POLARIS_HOME:-/usr/local/share/grpc-cpp-polaris}
SELF="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")"

missing_packages() {
  local p status
  for p in "${PACKAGES[@]}"; do
    status=$(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null || true)
    [[ "$status" == ii* ]] || echo "$p"
  done
}

grpc_source_version() { dpkg-query -W -f='${source:Version}' libgrpc-dev; }
grpc_upstream_version() { grpc_source_version | sed -e 's/^[0-9]*://' -e 's/-[^-]*$//'; }
headers_dir() { echo "$HOME_DIR/grpc-$(grpc_upstream_version)"; }

headers_ready() {
  dpkg-query -W libgrpc-dev >/dev/null 2>&1 || return 1
  [[ -f "$(headers_dir)/.complete" ]]
}

need_root() {
  if [[ $(id -u) != 0 ]]; then
    echo "grpc-cpp-polaris: set-up is incomplete ($1)." >&2
    echo "Run this once as root, then try again:" >&2
    echo "  sudo $SELF" >&2
    exit 1
  fi
}

install_packages() {
  local missing
  mapfile -t missing < <(missing_packages)
  [[ ${#missing[@]} == 0 ]] && return 0
  need_root "missing packages: ${missing[*]}"
  echo "setup: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  if ! apt-get install -y -q --no-install-recommends "${missing[@]}" >/tmp/grpc-cpp-polaris-apt.log 2>&1; then
    apt-get update -q >>/tmp/grpc-cpp-polaris-apt.log 2>&1 || true
    apt-get install -y -q --no-install-recommends "${missing[@]}" >>/tmp/grpc-cpp-polaris-apt.log 2>&1 || {
      tail -n 20 /tmp/grpc-cpp-polaris-apt.log >&2
      echo "setup: apt-get install failed (log: /tmp/grpc-cpp-polaris-apt.log)" >&2
      exit 1
    }
  fi
}

# Debian images list only binary archives; `apt-get source` needs the deb-src twin.
enable_deb_src() {
  local src=/etc/apt/sources.list.d/debian.sources
  local out=/etc/apt/sources.list.d/grpc-cpp-polaris-src.sources
  [[ -f "$out" ]] && return 0
  if [[ -f "$src" ]]; then
    sed -e 's/^Types:.*/Types: deb-src/' "$src" >"$out"
  elif [[ -f /etc/apt/sources.list ]]; then
    grep -E '^deb ' /etc/apt/sources.list | sed -e 's/^deb /deb-src /' \
      >/etc/apt/sources.list.d/grpc-cpp-polaris-src.list
    touch "$out"
  else
    echo "setup: no Debian apt sources found to derive deb-src from" >&2
    exit 1
  fi
  apt-get update -q >/tmp/grpc-cpp-polaris-apt.log 2>&1 || true
}

install_grpc_headers() {
  headers_ready && return 0
  need_root "gRPC internal headers missing in $(headers_dir)"
  enable_deb_src
  local version upstream work dest tarball
  version=$(grpc_source_version)
  upstream=$(grpc_upstream_version)
  dest=$(headers_dir)
  work=$(mktemp -d)
  echo "setup: fetching Debian source package grpc=$version for gRPC's src/core headers" >&2
  (cd "$work" && apt-get source -q --download-only "grpc=$version" >"$work/log" 2>&1) || {
    apt-get update -q >/dev/null 2>&1 || true
    (cd "$work" && apt-get source -q --download-only "grpc=$version" >"$work/log" 2>&1) || {
      cat "$work/log" >&2; echo "setup: apt-get source grpc=$version failed" >&2; exit 1; }
  }
  tarball=$(ls "$work"/grpc_"$upstream".orig.tar.* | head -n 1)
  rm -rf "$dest" && mkdir -p "$dest"
  tar -xf "$tarball" -C "$dest" --strip-components=1 --wildcards \
    "grpc-$upstream/src/core/*.h" "grpc-$upstream/LICENSE"
  # The headers must match the installed library exactly.
  if ! grep -q "\"$upstream\"" /usr/include/grpcpp/version_info.h 2>/dev/null; then
    echo "setup: installed gRPC is not $upstream (see /usr/include/grpcpp/version_info.h)" >&2
    exit 1
  fi
  touch "$dest/.complete"
  ln -sfn "$dest" "$HOME_DIR/grpc-current"
  rm -rf "$work"
}

install_packages
install_grpc_headers
