#!/usr/bin/env bash
# Builds one trailwarden plugin folder into a WebAssembly component, whatever its language:
#
#   plugins/build-plugin.sh DIR OUT.wasm
#
#   DIR/Cargo.toml              Rust: cargo build --release --target wasm32-wasip2
#   DIR/app.py or pyproject.toml Python: plugins/python/build.sh (componentize-py)
#   DIR/package.json            JavaScript: plugins/js/build.sh (jco, QuickJS)
#
# Each prints which tool is missing and how to install it.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
if [ $# -ne 2 ]; then
  echo "usage: $0 PLUGIN_DIR OUT.wasm" >&2
  exit 2
fi
dir="$1"
out="$2"

if [ -f "$dir/Cargo.toml" ]; then
  command -v cargo >/dev/null || { echo "error: cargo is missing (install Rust with rustup)" >&2; exit 127; }
  if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-wasip2; then
    echo "error: the wasm32-wasip2 target is missing: rustup target add wasm32-wasip2" >&2
    exit 127
  fi
  cargo build --release --target wasm32-wasip2 --manifest-path "$dir/Cargo.toml"
  # The artifact: <target dir>/wasm32-wasip2/release/<package name with - as _>.wasm
  read -r target_dir crate < <(cargo metadata --no-deps --format-version 1 --manifest-path "$dir/Cargo.toml" |
    python3 -c '
import json, os, sys
m = json.load(sys.stdin)
manifest = os.path.realpath(sys.argv[1])
pkg = next(p for p in m["packages"] if os.path.realpath(p["manifest_path"]) == manifest)
print(m["target_directory"], pkg["name"].replace("-", "_"))' "$dir/Cargo.toml")
  mkdir -p "$(dirname "$out")"
  cp "$target_dir/wasm32-wasip2/release/$crate.wasm" "$out"
  echo "$out"
elif [ -f "$dir/app.py" ] || [ -f "$dir/pyproject.toml" ]; then
  exec "$here/python/build.sh" "$dir" "$out"
elif [ -f "$dir/package.json" ]; then
  exec "$here/js/build.sh" "$dir" "$out"
else
  echo "error: $dir has no Cargo.toml, app.py, pyproject.toml or package.json: which language is it?" >&2
  exit 2
fi
