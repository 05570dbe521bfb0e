"""cc_grpc_library: C++ messages and gRPC stubs for a proto_library.

Uses Debian's protoc and grpc_cpp_plugin (@com_google_protobuf) on the proto's
descriptor sets, so imports resolve exactly as proto_library resolved them.
Generated files sit next to the .proto: include "pkg/x.pb.h" / "pkg/x.grpc.pb.h".
"""

_SUFFIXES = [".pb.h", ".pb.cc", ".grpc.pb.h", ".grpc.pb.cc"]

def _import_path(src, proto_info, workspace_root):
    """The path under which protoc knows `src` (as written in imports)."""
    path = src.path
    for prefix in [proto_info.proto_source_root, workspace_root]:
        if prefix and prefix != "." and path.startswith(prefix + "/"):
            return path[len(prefix) + 1:]
    return path

def _codegen_impl(ctx):
    info = ctx.attr.proto[ProtoInfo]
    workspace_root = ctx.label.workspace_root
    package = ctx.label.package
    out_root = ctx.bin_dir.path + ("/" + workspace_root if workspace_root else "")
    imports, outputs = [], []
    for src in info.direct_sources:
        path = _import_path(src, info, workspace_root)
        if package and not path.startswith(package + "/"):
            fail("%s: %s must be in package %s" % (ctx.label, path, package))
        imports.append(path)
        base = path[len(package) + 1:] if package else path
        base = base[:-len(".proto")]
        outputs += [ctx.actions.declare_file(base + s) for s in _SUFFIXES]
    descriptors = info.transitive_descriptor_sets
    args = ctx.actions.args()
    args.add_joined(descriptors, join_with = ":", format_joined = "--descriptor_set_in=%s")
    args.add("--cpp_out=" + out_root)
    args.add("--grpc_out=" + out_root)
    args.add("--plugin=protoc-gen-grpc=" + ctx.executable._plugin.path)
    args.add_all(imports)
    ctx.actions.run(
        executable = ctx.executable._protoc,
        arguments = [args],
        inputs = descriptors,
        tools = [ctx.executable._plugin],
        outputs = outputs,
        mnemonic = "CcGrpcCodegen",
        progress_message = "Generating C++ and gRPC code for %s" % ctx.label,
    )
    return [
        DefaultInfo(files = depset(outputs)),
        OutputGroupInfo(
            hdrs = depset([f for f in outputs if f.extension == "h"]),
            srcs = depset([f for f in outputs if f.extension == "cc"]),
        ),
    ]

_codegen = rule(
    implementation = _codegen_impl,
    attrs = {
        "proto": attr.label(mandatory = True, providers = [ProtoInfo]),
        "_protoc": attr.label(
            default = "@com_google_protobuf//:protoc",
            executable = True,
            allow_single_file = True,
            cfg = "host",
        ),
        "_plugin": attr.label(
            default = "@com_google_protobuf//:grpc_cpp_plugin",
            executable = True,
            allow_single_file = True,
            cfg = "host",
        ),
    },
)

def cc_grpc_library(name, proto, deps = [], visibility = None, **kwargs):
    """A cc_library with the messages and stubs of `proto`'s own sources.

    deps: cc_grpc_library targets of the protos that `proto` imports.
    """
    codegen = name + "_codegen"
    _codegen(name = codegen, proto = proto)
    native.filegroup(name = name + "_hdrs", srcs = [codegen], output_group = "hdrs")
    native.filegroup(name = name + "_srcs", srcs = [codegen], output_group = "srcs")
    native.cc_library(
        name = name,
        srcs = [name + "_srcs"],
        hdrs = [name + "_hdrs"],
        deps = deps + ["@system_libs//:grpc++"],
        visibility = visibility,
        **kwargs
    )
