"""Offline external repositories for grpc-cpp-polaris, all from Debian packages.

Call grpc_cpp_polaris_dependencies() from a WORKSPACE. Repositories the caller
already defined are left alone. tools/setup.sh installs the packages and the
gRPC internal headers these repositories point at.
"""

_DEFAULT_HOME = "/usr/local/share/grpc-cpp-polaris"

def _rules_cc_shim_impl(ctx):
    # Bazel 4.2.3's built-in C++ rules behind the @rules_cc//cc:defs.bzl names.
    ctx.file("WORKSPACE", 'workspace(name = "rules_cc")\n')
    ctx.file("BUILD.bazel", "")
    ctx.file("cc/BUILD.bazel", 'exports_files(["defs.bzl"])\n')
    ctx.file("cc/defs.bzl", "\n".join([
        "cc_binary = native.cc_binary",
        "cc_library = native.cc_library",
        "cc_test = native.cc_test",
        "cc_import = native.cc_import",
        "cc_proto_library = native.cc_proto_library",
        "cc_toolchain = native.cc_toolchain",
        "cc_toolchain_suite = native.cc_toolchain_suite",
        "fdo_prefetch_hints = native.fdo_prefetch_hints",
        "fdo_profile = native.fdo_profile",
        "objc_import = native.objc_import",
        "objc_library = native.objc_library",
        "",
    ]))

_rules_cc_shim = repository_rule(implementation = _rules_cc_shim_impl)

def _protobuf_impl(ctx):
    # Stand-in for @com_google_protobuf: Debian's protoc, grpc_cpp_plugin and
    # the well-known .proto files (their C++ code is in libprotobuf).
    for tool in ["protoc", "grpc_cpp_plugin"]:
        path = ctx.which(tool)
        if path == None:
            fail("%s not found: run tools/setup.sh" % tool)
        ctx.symlink(path, tool)
    ctx.symlink("/usr/include/google/protobuf", "google/protobuf")
    wkt = ["any", "duration", "empty", "struct", "timestamp", "wrappers"]
    build = [
        'package(default_visibility = ["//visibility:public"])',
        'exports_files(["protoc", "grpc_cpp_plugin"])',
    ]
    for name in wkt:
        build.append('proto_library(name = "%s_proto", srcs = ["google/protobuf/%s.proto"])' %
                     (name, name))
    ctx.file("BUILD.bazel", "\n".join(build) + "\n")

_protobuf = repository_rule(implementation = _protobuf_impl)

def _system_libs_impl(ctx):
    # Link options only: the headers are in /usr/include.
    ctx.file("BUILD.bazel", """
package(default_visibility = ["//visibility:public"])

cc_library(
    name = "absl",
    linkopts = [
        "-labsl_raw_hash_set", "-labsl_hashtablez_sampler", "-labsl_hash", "-labsl_city",
        "-labsl_low_level_hash", "-labsl_bad_variant_access", "-labsl_bad_optional_access",
        "-labsl_synchronization", "-labsl_time", "-labsl_time_zone",
        "-labsl_statusor", "-labsl_status", "-labsl_cord", "-labsl_str_format_internal",
        "-labsl_strings", "-labsl_strings_internal", "-labsl_int128", "-labsl_throw_delegate",
        "-labsl_raw_logging_internal", "-labsl_base", "-labsl_spinlock_wait", "-pthread",
    ],
)

cc_library(name = "protobuf", linkopts = ["-lprotobuf", "-pthread"])

cc_library(name = "re2", linkopts = ["-lre2"])

cc_library(name = "civetweb", linkopts = ["-lcivetweb"])

cc_library(
    name = "grpc++",
    linkopts = ["-lgrpc++", "-lgrpc", "-lgpr"],
    deps = [":protobuf", ":absl"],
)

cc_library(name = "gtest", linkopts = ["-lgtest", "-pthread"])
cc_library(name = "gtest_main", linkopts = ["-lgmock_main", "-lgmock", "-lgtest", "-pthread"])
cc_library(name = "benchmark", linkopts = ["-lbenchmark", "-pthread"])
cc_library(name = "benchmark_main", linkopts = ["-lbenchmark_main", "-lbenchmark", "-pthread"])
""")

_system_libs = repository_rule(implementation = _system_libs_impl)

def _grpc_core_headers_impl(ctx):
    # gRPC's internal src/core headers, extracted by tools/setup.sh from Debian's
    # `grpc` source package of exactly the installed version.
    home = ctx.os.environ.get("GRPC_CPP_POLARIS_HOME", _DEFAULT_HOME)
    root = ctx.path(home + "/grpc-current")
    if not root.get_child(".complete").exists:
        fail("gRPC internal headers not found in %s: run tools/setup.sh (as root)" % root)
    ctx.symlink(root.get_child("src"), "src")
    ctx.symlink(root.get_child("LICENSE"), "LICENSE")
    ctx.file("BUILD.bazel", """
# Only the client's channel plugins may use these: they are not a public API.
package(default_visibility = ["//visibility:public"])

licenses(["notice"])

cc_library(
    name = "grpc_core_headers",
    hdrs = glob(["src/core/**/*.h"]),
    includes = ["."],
)
""")

_grpc_core_headers = repository_rule(
    implementation = _grpc_core_headers_impl,
    environ = ["GRPC_CPP_POLARIS_HOME"],
    local = True,
)

def _coverage_tools_stub_impl(ctx):
    # `bazel test` depends on @remote_coverage_tools, which it would download.
    ctx.file("stub.sh", "#!/bin/sh\necho 'coverage is not available offline' >&2\nexit 1\n")
    ctx.file("BUILD.bazel", """
package(default_visibility = ["//visibility:public"])
sh_binary(name = "coverage_report_generator", srcs = ["stub.sh"])
sh_binary(name = "lcov_merger", srcs = ["stub.sh"])
""")

_coverage_tools_stub = repository_rule(implementation = _coverage_tools_stub_impl)

def _polaris_wire_impl(ctx):
    # The real Polaris protocol as data (shared/polaris-wire beside this
    # workspace), used by the wire-compatibility test only. When it is not
    # there, the test says so instead of the build failing.
    workspace = ctx.path(Label("//:WORKSPACE")).dirname
    candidates = [ctx.os.environ.get("POLARIS_WIRE_DIR", ""),
                  str(workspace) + "/../shared/polaris-wire", "/shared/polaris-wire"]
    ctx.file("WORKSPACE", "")
    found = None
    for candidate in candidates:
        if candidate and ctx.path(candidate + "/check_wire_compat.py").exists:
            found = ctx.path(candidate)
            break
    if found:
        ctx.symlink(found.get_child("check_wire_compat.py"), "check_wire_compat.py")
        ctx.symlink(found.get_child("polaris_reference.pb"), "polaris_reference.pb")
    else:
        ctx.file("check_wire_compat.py", "")
        ctx.file("polaris_reference.pb", "")
        ctx.file("NOT_FOUND", "searched: %s\n" % ", ".join([c for c in candidates if c]))
    ctx.file("BUILD.bazel", """
package(default_visibility = ["//visibility:public"])
filegroup(name = "reference", srcs = glob(["check_wire_compat.py", "polaris_reference.pb", "NOT_FOUND"]))
""")

_polaris_wire = repository_rule(
    implementation = _polaris_wire_impl,
    environ = ["POLARIS_WIRE_DIR"],
    local = True,
)

def _maybe(rule, name, **kwargs):
    if not native.existing_rule(name):
        rule(name = name, **kwargs)

def grpc_cpp_polaris_dependencies():
    """Defines every external repository grpc-cpp-polaris needs (offline)."""
    _maybe(_rules_cc_shim, "rules_cc")
    _maybe(native.local_repository, "rules_java", path = "/usr/share/bazel/rules/java")
    _maybe(native.local_repository, "platforms", path = "/usr/share/bazel/platforms")
    _maybe(native.local_repository, "rules_proto", path = "/usr/share/bazel/rules/proto")
    _maybe(native.local_repository, "bazel_skylib", path = "/usr/share/bazel/tools/skylib")
    _maybe(_protobuf, "com_google_protobuf")
    _maybe(_system_libs, "system_libs")
    _maybe(_grpc_core_headers, "grpc_core_headers")
    _maybe(_coverage_tools_stub, "remote_coverage_tools")
    _maybe(_polaris_wire, "polaris_wire")
