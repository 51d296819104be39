#!/usr/bin/env bash
# Builds a Python trailwarden plugin into a WebAssembly component with componentize-py.
#
#   plugins/python/build.sh DIR OUT.wasm
#
# DIR holds app.py (module `app`, class `WitWorld` with describe() and handle(events), and
# class `Rules` with rules(), the rule catalog, for a 0.3.0 world), optionally world.wit (a
# world named in it, over trailwarden:plugin@0.3.0 or @0.2.0; default: the world `detector`
# of wit/0.3.0), fixtures/*.json (app.py reads them when it is imported:
# componentize-py imports the app at build time and snapshots it, so they are inside the
# component) and requirements.txt (pure-Python packages, installed into a scratch folder).
#
# By default WASI imports are replaced by trapping stubs (componentize-py --stub-wasi): the
# component then imports only our WIT. Python code that reaches for the clock, randomness,
# files or stdout traps; build with TRAILWARDEN_PY_WASI=full to import the whole WASI set
# instead (the host must then link wasmtime-wasi). COMPONENTIZE_PY=path overrides the tool.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
version=0.25.1

if [ $# -ne 2 ]; then
  echo "usage: $0 PLUGIN_DIR OUT.wasm" >&2
  exit 2
fi
dir="$(cd "$1" && pwd)"
out="$2"
case "$out" in /*) ;; *) out="$PWD/$out" ;; esac

tool="${COMPONENTIZE_PY:-}"
if [ -z "$tool" ]; then
  if [ -x "$root/.venv/bin/componentize-py" ]; then
    tool="$root/.venv/bin/componentize-py"
  else
    tool="$(command -v componentize-py || true)"
  fi
fi
if [ -z "$tool" ] || [ ! -x "$tool" ]; then
  echo "error: componentize-py is missing." >&2
  echo "  install it into the repository's venv with:" >&2
  echo "    python3 -m venv $root/.venv && $root/.venv/bin/pip install componentize-py==$version" >&2
  exit 127
fi
have="$("$tool" --version 2>/dev/null | awk '{print $2}')"
if [ "$have" != "$version" ]; then
  echo "warning: componentize-py $have, the plugins are tested with $version" >&2
fi
if [ ! -f "$dir/app.py" ]; then
  echo "error: $dir/app.py is missing: not a Python plugin" >&2
  exit 2
fi

scratch="$(mktemp -d "${TMPDIR:-/tmp}/trailwarden-py.XXXXXX")"
trap 'rm -rf "$scratch"' EXIT
# An empty "venv": componentize-py adds $VIRTUAL_ENV's site-packages (or else the running
# Python's) to the path; nothing from the machine should end up in the component.
mkdir -p "$scratch/venv/lib/python3/site-packages"
paths=(-p "$dir")
if [ -f "$dir/requirements.txt" ]; then
  python3 -m pip install --quiet --disable-pip-version-check --no-compile \
    --target "$scratch/site" -r "$dir/requirements.txt"
  paths+=(-p "$scratch/site")
fi

if [ -f "$dir/world.wit" ]; then
  # The folder's own world, over any published contract version (both are in deps/).
  wit="$scratch/wit"
  mkdir -p "$wit/deps/trailwarden-plugin-0.2.0" "$wit/deps/trailwarden-plugin-0.3.0"
  cp "$dir/world.wit" "$wit/world.wit"
  cp "$root/wit/0.2.0/plugin.wit" "$wit/deps/trailwarden-plugin-0.2.0/plugin.wit"
  cp "$root/wit/0.3.0/plugin.wit" "$wit/deps/trailwarden-plugin-0.3.0/plugin.wit"
  world="$(sed -n 's/^[[:space:]]*world[[:space:]]\{1,\}\([A-Za-z0-9-]\{1,\}\)[[:space:]]*{.*/\1/p' "$dir/world.wit" | head -n1)"
else
  wit="$root/wit/0.3.0"
  world=detector
fi

stub=(--stub-wasi)
wasi=stubbed
if [ "${TRAILWARDEN_PY_WASI:-}" = full ]; then
  stub=()
  wasi=full
fi

mkdir -p "$(dirname "$out")"
echo "componentize-py $(basename "$dir") (world $world, WASI $wasi) -> $out"
# PYTHONDONTWRITEBYTECODE: no __pycache__ left in the plugin's folder.
(cd "$dir" && PYTHONDONTWRITEBYTECODE=1 VIRTUAL_ENV="$scratch/venv" \
  "$tool" -q -d "$wit" -w "$world" componentize app "${paths[@]}" "${stub[@]}" -o "$out.tmp") ||
  { rm -f "$out.tmp"; exit 1; }
mv "$out.tmp" "$out"
