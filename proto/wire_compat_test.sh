#!/usr/bin/env bash
# Usage: wire_compat_test.sh DESCRIPTOR_SET... REFERENCE_FILES...
# Fails when any field, enum value or method of ours differs from the real
# Polaris protocol (shared/polaris-wire, see bazel/deps.bzl).
set -euo pipefail
checker="" reference="" not_found="" ours=()
for f in "$@"; do
  case "$f" in
    *check_wire_compat.py) checker=$f ;;
    *polaris_reference.pb) reference=$f ;;
    *NOT_FOUND) not_found=$f ;;
    *) ours+=("$f") ;;
  esac
done
if [[ -n "$not_found" ]]; then
  # Outside this project's home (e.g. a bare clone) the reference is absent:
  # say so loudly; CI and developer machines have it.
  echo "WARNING: polaris-wire reference not found ($(cat "$not_found")); set POLARIS_WIRE_DIR." >&2
  echo "WARNING: wire compatibility NOT checked." >&2
  exit 0
fi
# Serialized FileDescriptorSets concatenate into one (a repeated field).
combined=$(mktemp)
cat "${ours[@]}" >"$combined"
# Debian's python3 has python3-protobuf; another python3 on PATH may not.
/usr/bin/python3 "$checker" "$combined" "$reference"
