#!/usr/bin/env bash
# Usage: wire_compat_test.sh OURS_DESCRIPTOR_SET CHECK_SCRIPT REFERENCE_PB
# Fails when any field, enum value or method of ours differs from the real
# Polaris protocol (see ../shared/polaris-wire/README.md).
set -euo pipefail
ours=$1
checker=${2:-}
reference=${3:-}
if [[ -z "$checker" || -z "$reference" ]]; then
  echo "FAIL: ../shared/polaris-wire (check_wire_compat.py, polaris_reference.pb) was not found beside the workspace" >&2
  exit 1
fi
# Debian's python3 has python3-protobuf; another python3 on PATH may not.
/usr/bin/python3 "$checker" "$ours" "$reference"
