#!/usr/bin/env python3
"""Writes proto/ files for chosen Polaris messages from the protocol facts.

The facts (../shared/polaris-wire/polaris_reference.json) list every message,
field number, type, enum value and RPC of the real Polaris API. This writes
the closure of the given root messages, each into our file named like the
upstream one, so that field numbers and types match the real protocol
exactly (//proto:wire_compat_test checks them). Hand-written files
(grpcapi.proto, response.proto, ...) are not touched: pass only roots that
live in the generated files.

  tools/polaris_proto_gen.py FACTS.json OUT_DIR FILE... --roots MSG...

FILE... are the upstream file names to write (others in the closure must
already exist in OUT_DIR as hand-written files); services whose types are all
available are written into their upstream file when it is listed.
"""
import argparse
import collections
import json
import os

WRAPPERS = "google/protobuf/wrappers.proto"
WELL_KNOWN = {
    "google.protobuf.StringValue": WRAPPERS, "google.protobuf.UInt32Value": WRAPPERS,
    "google.protobuf.UInt64Value": WRAPPERS, "google.protobuf.Int32Value": WRAPPERS,
    "google.protobuf.Int64Value": WRAPPERS, "google.protobuf.BoolValue": WRAPPERS,
    "google.protobuf.DoubleValue": WRAPPERS, "google.protobuf.FloatValue": WRAPPERS,
    "google.protobuf.Any": "google/protobuf/any.proto",
    "google.protobuf.Duration": "google/protobuf/duration.proto",
    "google.protobuf.Timestamp": "google/protobuf/timestamp.proto",
    "google.protobuf.Struct": "google/protobuf/struct.proto",
    "google.protobuf.Empty": "google/protobuf/empty.proto",
}


def load(path):
    facts = json.load(open(path))
    messages, enums, file_of, package_of, services = {}, {}, {}, {}, {}
    for f in facts["files"]:
        package_of[f["file"]] = f["package"]
        for m in f["messages"]:
            messages[m["name"]] = m
            file_of[m["name"]] = f["file"]
            for e in m.get("enums", []):
                enums[e["name"]] = e
                file_of[e["name"]] = f["file"]
        for e in f["enums"]:
            enums[e["name"]] = e
            file_of[e["name"]] = f["file"]
        for s in f.get("services", []):
            services[s["name"]] = (f["file"], s)
    return messages, enums, file_of, package_of, services


def closure(roots, messages):
    seen, stack = set(), list(roots)
    while stack:
        name = stack.pop()
        if name in seen or name.startswith("google.protobuf."):
            continue
        seen.add(name)
        # A nested type needs its parent message, which defines it.
        parent = name.rsplit(".", 1)[0]
        if parent in messages:
            stack.append(parent)
        for field in messages.get(name, {}).get("fields", []):
            if "type_name" in field:
                stack.append(field["type_name"])
    return seen


def field_type(field, messages):
    if field["type"] in ("message", "enum"):
        name = field["type_name"]
        entry = messages.get(name)
        if entry is not None and entry.get("map_entry"):
            key, value = entry["fields"]
            return "map<%s, %s>" % (field_type(key, messages)[0], field_type(value, messages)[0]), True
        return "." + name, False
    return field["type"], False


def write_enum(enum, indent, out):
    short = enum["name"].rsplit(".", 1)[1]
    out.append("%senum %s {" % (indent, short))
    values = sorted(enum["values"].items(), key=lambda kv: kv[1])
    if values and values[0][1] != 0:
        pass  # proto3 requires a zero first; the facts always have one
    aliases = len(set(v for _, v in values)) != len(values)
    if aliases:
        out.append("%s  option allow_alias = true;" % indent)
    for key, value in values:
        out.append("%s  %s = %d;" % (indent, key, value))
    out.append("%s}" % indent)


def write_message(name, wanted, messages, enums, indent, out):
    message = messages[name]
    short = name.rsplit(".", 1)[1]
    out.append("%smessage %s {" % (indent, short))
    for enum in message.get("enums", []):
        write_enum(enum, indent + "  ", out)
    for nested in sorted(n for n in wanted if n.rsplit(".", 1)[0] == name and n in messages
                         and not messages[n].get("map_entry")):
        write_message(nested, wanted, messages, enums, indent + "  ", out)
    for field in message["fields"]:
        type_text, is_map = field_type(field, messages)
        label = "repeated " if field["label"] == "repeated" and not is_map else ""
        out.append("%s  %s%s %s = %d;" % (indent, label, type_text, field["name"], field["number"]))
    out.append("%s}" % indent)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("facts")
    parser.add_argument("out_dir")
    parser.add_argument("files", nargs="+")
    parser.add_argument("--roots", nargs="+", required=True)
    parser.add_argument("--import_prefix", default="proto/v1/")
    parser.add_argument("--import_map", nargs="*", default=[],
                        help="upstream=our/import/path.proto for files outside out_dir")
    args = parser.parse_args()
    messages, enums, file_of, package_of, services = load(args.facts)
    wanted = closure(args.roots, messages)
    import_map = dict(kv.split("=", 1) for kv in args.import_map)
    by_file = collections.defaultdict(list)
    for name in wanted:
        by_file[file_of[name]].append(name)
    for upstream in args.files:
        package = package_of[upstream]
        out, imports = [], set()
        names = sorted(by_file.get(upstream, []))
        top = [n for n in names if n.rsplit(".", 1)[0] == package]
        body = []
        for name in top:
            if name in enums:
                write_enum(enums[name], "", body)
            elif not messages[name].get("map_entry"):
                write_message(name, wanted, messages, enums, "", body)
            body.append("")
        for service_name, (service_file, service) in sorted(services.items()):
            if service_file != upstream:
                continue
            methods = [m for m in service["methods"]
                       if m["input"] in wanted and m["output"] in wanted]
            if not methods:
                continue
            body.append("service %s {" % service_name.rsplit(".", 1)[1])
            for m in methods:
                body.append("  rpc %s(%s.%s) returns (%s.%s) {}" % (
                    m["name"], "stream " if m["client_streaming"] else "", m["input"],
                    "stream " if m["server_streaming"] else "", m["output"]))
            body.append("}")
            body.append("")
        for line in body:
            for token in line.replace("(", " ").replace(")", " ").replace("<", " ").replace(
                    ">", " ").replace(",", " ").split():
                token = token.lstrip(".")
                if token in WELL_KNOWN:
                    imports.add(WELL_KNOWN[token])
                elif token in file_of and file_of[token] != upstream:
                    other = file_of[token]
                    imports.add(import_map.get(other, args.import_prefix + other))
        out.append("// Generated by tools/polaris_proto_gen.py from the Polaris protocol facts")
        out.append("// (shared/polaris-wire); field numbers and types are the real protocol's.")
        out.append("// Only the messages grpc-cpp-polaris uses are here. Do not edit by hand.")
        out.append('syntax = "proto3";')
        out.append("")
        out.append("package %s;" % package)
        out.append("")
        for path in sorted(imports):
            out.append('import "%s";' % path)
        out.append("")
        out.extend(body)
        with open(os.path.join(args.out_dir, upstream), "w") as f:
            f.write("\n".join(out).rstrip() + "\n")


if __name__ == "__main__":
    main()
