#!/usr/bin/env bash
# Copies built cachepack files into an installation prefix and writes its
# pkg-config file. tools/install.sh builds the files with Bazel and calls
# this; tests/install_test.sh calls it with the files from its runfiles.
# Idempotent: files already identical are left alone.
#
#   install_files.sh PREFIX LIBCACHEPACK_A LIBCACHEPACK_LINKOPTS CLI HEADER...
set -euo pipefail
prefix=$1 archive=$2 linkopts_file=$3 cli=$4
shift 4

# Copies SOURCE to DEST with MODE unless DEST already has its bytes.
# (install -C rewrites whenever the source is a symlink, as in runfiles.)
put() {
  local mode=$1 source=$2 dest=$3
  if ! cmp -s "$source" "$dest"; then
    install -m "$mode" "$source" "$dest"
  fi
}

install -d "$prefix/bin" "$prefix/include/cachepack" "$prefix/lib/pkgconfig"
put 755 "$cli" "$prefix/bin/cachepack"
put 644 "$archive" "$prefix/lib/libcachepack.a"
for header in "$@"; do
  put 644 "$header" "$prefix/include/cachepack/$(basename "$header")"
done

# The system libraries behind libcachepack.a, in link order, as the Bazel
# rule collected them from //:cachepack's dependencies (-lzstd, -lcapnp -lkj,
# -lssl -lcrypto, ...).
linkopts=$(cat "$linkopts_file")
case " $linkopts " in
  *" -lpthread "* | *" -pthread "*) ;;
  *) linkopts="$linkopts -pthread" ;;
esac

pc=$(mktemp "$prefix/lib/pkgconfig/.cachepack.pc.XXXXXX")
trap 'rm -f "$pc"' EXIT
cat >"$pc" <<PC
prefix=$(cd "$prefix" && pwd)
exec_prefix=\${prefix}
libdir=\${exec_prefix}/lib
includedir=\${prefix}/include

Name: cachepack
Description: Package PyTorch compile-cache artifacts into signed bundles
Version: 0.1.0
# The headers are C++20 and include <tl/expected.hpp> (libexpected-dev):
# compile with -std=c++20 yourself; pkg-config does not choose a standard.
Cflags: -I\${includedir}
# libcachepack.a is a static archive: it does not record the shared
# libraries it needs, so they follow it in Libs, not in Libs.private, which
# plain \`pkg-config --libs\` (without --static) leaves out.
Libs: -L\${libdir} -lcachepack $linkopts
PC
if cmp -s "$pc" "$prefix/lib/pkgconfig/cachepack.pc"; then
  rm -f "$pc"
else
  chmod 644 "$pc"
  mv "$pc" "$prefix/lib/pkgconfig/cachepack.pc"
fi
