"""One static archive holding every object of a cc_library's own repository.

Bazel 4 has no cc_static_library. This rule walks the CcInfo linking context
of `dep`, keeps the libraries whose owner is in this repository (system
libraries are only linker flags), and archives their objects with the C++
toolchain's `ar`. It also writes the link flags of those libraries (-lzstd,
...), in link order, for tools/install.sh to put in the pkg-config file.
"""

load("@bazel_tools//tools/cpp:toolchain_utils.bzl", "find_cpp_toolchain")

def _own_repository(label):
    return label.workspace_name == "" or label.workspace_name == "cachepack"

def _static_library_impl(ctx):
    cc_toolchain = find_cpp_toolchain(ctx)
    objects = []
    seen = {}
    flags = []
    for linker_input in ctx.attr.dep[CcInfo].linking_context.linker_inputs.to_list():
        if not _own_repository(linker_input.owner):
            continue
        for flag in linker_input.user_link_flags:
            if flag not in flags:
                flags.append(flag)
        for library in linker_input.libraries:
            # Position-independent objects when the toolchain built them, so
            # the archive can go into shared objects as well as executables.
            for obj in library.pic_objects or library.objects:
                if obj.path not in seen:
                    seen[obj.path] = True
                    objects.append(obj)

    archive = ctx.actions.declare_file("lib%s.a" % ctx.attr.library_name)
    args = ctx.actions.args()

    # q, not r: objects from different packages may share a basename, and r
    # would let the later one replace the earlier. D: zero timestamps and ids.
    args.add("qcsD")
    args.add(archive)
    args.add_all(objects)
    ctx.actions.run(
        executable = cc_toolchain.ar_executable,
        arguments = [args],
        inputs = depset(objects, transitive = [cc_toolchain.all_files]),
        outputs = [archive],
        mnemonic = "StaticLibrary",
        progress_message = "Archiving %s" % archive.short_path,
    )

    linkopts = ctx.actions.declare_file("lib%s.linkopts" % ctx.attr.library_name)
    ctx.actions.write(linkopts, " ".join(flags) + "\n")
    return [DefaultInfo(
        files = depset([archive, linkopts]),
        runfiles = ctx.runfiles(files = [archive, linkopts]),
    )]

static_library = rule(
    implementation = _static_library_impl,
    doc = "lib<library_name>.a with every object of dep's libraries from this " +
          "repository, and lib<library_name>.linkopts with their link flags.",
    attrs = {
        "dep": attr.label(mandatory = True, providers = [CcInfo]),
        "library_name": attr.string(mandatory = True),
        "_cc_toolchain": attr.label(
            default = "@bazel_tools//tools/cpp:current_cc_toolchain",
        ),
    },
    toolchains = ["@bazel_tools//tools/cpp:toolchain_type"],
    fragments = ["cpp"],
    incompatible_use_toolchain_transition = True,
)
