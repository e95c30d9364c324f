"""Bazel rules that build and check cachepack bundles.

    load("@cachepack//tools/bazel:defs.bzl", "cache_bundle", "cache_bundle_test")

cache_bundle packs PyTorch Mega-Cache blobs (or bundles) into one .cpk with
the cachepack CLI. Bundles record no creation time unless asked (the CLI's
--timestamp, never passed here) and Ed25519 signatures are deterministic, so
the same inputs give the same bytes on every build. cache_bundle_test runs
`cachepack verify`, requiring a signature by one of the trusted keys.
"""

_CLI = Label("//tools:cachepack")

def _quiet_run(ctx, inputs, outputs, arguments, mnemonic, message):
    # The CLI prints a summary on success; Bazel would show it on every build.
    ctx.actions.run_shell(
        command = "\"$@\" >/dev/null",
        arguments = [ctx.executable._cachepack.path] + arguments,
        inputs = inputs,
        outputs = outputs,
        tools = [ctx.executable._cachepack],
        mnemonic = mnemonic,
        progress_message = message,
    )

def _cache_bundle_impl(ctx):
    out = ctx.actions.declare_file(ctx.label.name + ".cpk")
    srcs = ctx.files.srcs
    source = srcs[0]
    if len(srcs) > 1:
        # convert takes one input: merge the sources into one blob first.
        source = ctx.actions.declare_file(ctx.label.name + ".merged.bin")
        _quiet_run(
            ctx,
            inputs = srcs,
            outputs = [source],
            arguments = ["pack"] + [f.path for f in srcs] + [source.path],
            mnemonic = "CacheBundleMerge",
            message = "Merging the sources of %s" % out.short_path,
        )

    flags = ["--level", str(ctx.attr.level)]
    if ctx.attr.dictionaries:
        flags += ["--dict", "--dict-kind", ctx.attr.dictionaries]
    inputs = [source]
    if ctx.file.sign_key:
        flags += ["--sign", ctx.file.sign_key.path]
        inputs.append(ctx.file.sign_key)
    for key in sorted(ctx.attr.metadata.keys()):
        flags += ["--meta", "%s=%s" % (key, ctx.attr.metadata[key])]
    _quiet_run(
        ctx,
        inputs = inputs,
        outputs = [out],
        arguments = ["convert", source.path, out.path, "--to", "cachepack"] + flags,
        mnemonic = "CacheBundle",
        message = "Packing %s" % out.short_path,
    )
    return [DefaultInfo(files = depset([out]))]

_CLI_ATTR = attr.label(
    default = _CLI,
    executable = True,
    cfg = "exec",
)

cache_bundle = rule(
    implementation = _cache_bundle_impl,
    doc = "<name>.cpk: the artifacts of srcs (Mega-Cache blobs or bundles), " +
          "reproducibly packed.",
    attrs = {
        "srcs": attr.label_list(allow_files = True, mandatory = True, allow_empty = False),
        "level": attr.int(default = 3, doc = "zstd level 1..22; 0 stores raw"),
        "dictionaries": attr.string(
            values = ["", "raw", "trained"],
            doc = "Store a zstd dictionary per artifact type: raw or trained " +
                  "(see cachepack convert --dict-kind); empty for none",
        ),
        "sign_key": attr.label(
            allow_single_file = True,
            doc = "Ed25519 private key (PEM) to sign with",
        ),
        "metadata": attr.string_dict(doc = "User metadata, KEY: VALUE"),
        "_cachepack": _CLI_ATTR,
    },
)

def _cache_bundle_test_impl(ctx):
    # Tests start in their workspace's runfiles folder, where short_path
    # finds every file, those of other repositories as ../<repo>/...
    command = ["exec", "'%s'" % ctx.executable._cachepack.short_path, "verify"]
    for key in ctx.files.trusted_keys:
        command += ["--trusted-key", "'%s'" % key.short_path]
    command.append("'%s'" % ctx.file.bundle.short_path)
    script = ctx.actions.declare_file(ctx.label.name + ".sh")
    ctx.actions.write(
        script,
        "#!/usr/bin/env bash\nset -euo pipefail\n" + " ".join(command) + "\n",
        is_executable = True,
    )
    runfiles = ctx.runfiles(files = [ctx.file.bundle] + ctx.files.trusted_keys)
    runfiles = runfiles.merge(ctx.attr._cachepack[DefaultInfo].default_runfiles)
    return [DefaultInfo(executable = script, runfiles = runfiles)]

cache_bundle_test = rule(
    implementation = _cache_bundle_test_impl,
    doc = "Passes when `cachepack verify` accepts bundle and one of " +
          "trusted_keys signed it.",
    test = True,
    attrs = {
        "bundle": attr.label(allow_single_file = [".cpk"], mandatory = True),
        "trusted_keys": attr.label_list(
            allow_files = True,
            mandatory = True,
            allow_empty = False,
            doc = "Ed25519 public keys (PEM)",
        ),
        "_cachepack": attr.label(
            default = _CLI,
            executable = True,
            cfg = "target",
        ),
    },
)
