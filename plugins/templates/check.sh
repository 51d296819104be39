#!/usr/bin/env bash
# Instantiates each template as `trailwarden plugin new NAME --lang LANG` would (copy, then
# replace `{{name}}` and `{{crate_name}}` in every file) in a scratch folder, and checks that
# it builds as it is and passes its own tests:
#   rust:   cargo test (native fixtures), cargo build --target wasm32-wasip2, component check
#   python: python3 -m unittest, plugins/python/build.sh, component check (fixtures under Node)
#   js:     plugins/js/build.sh, component check (fixtures under Node)
#
#   plugins/templates/check.sh [rust] [python] [js]      (default: all three)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
langs=("$@")
[ ${#langs[@]} -gt 0 ] || langs=(rust python js)

scratch="$(mktemp -d "${TMPDIR:-/tmp}/trailwarden-templates.XXXXXX")"
trap 'rm -rf "$scratch"' EXIT
name=tw-template-check
crate_name=${name//-/_}

# The substitution the CLI does: plain text, {{name}} and {{crate_name}}.
instantiate() { # LANG DEST
  mkdir -p "$2"
  cp -R "$here/$1/." "$2/"
  find "$2" -type f -print0 | while IFS= read -r -d '' f; do
    sed -i -e "s/{{name}}/$name/g" -e "s/{{crate_name}}/$crate_name/g" "$f"
  done
  if grep -R -n '{{' "$2" >/dev/null; then
    echo "error: placeholders left in $2:" >&2
    grep -R -n '{{' "$2" >&2
    exit 1
  fi
}

check() { node "$root/plugins/js/tools/check-component.mjs" "$@"; }

for lang in "${langs[@]}"; do
  echo "== template $lang"
  case "$lang" in
    rust)
      # The template expects to sit at plugins/NAME beside plugins/sdk, under wit/.
      mkdir -p "$scratch/repo/plugins" "$scratch/repo/wit"
      # The SDK binds wit/0.6.0, whose deps/ links to ../../0.5.0 .. ../../0.2.0 (cp -R
      # keeps the links).
      cp -R "$root/wit/0.2.0" "$root/wit/0.3.0" "$root/wit/0.4.0" "$root/wit/0.5.0" \
        "$root/wit/0.6.0" "$scratch/repo/wit/"
      cp -R "$root/plugins/sdk" "$scratch/repo/plugins/sdk"
      # The SDK's native fixture runner uses the host's crates (fixture-spec and what it
      # uses), by path from the repository root.
      mkdir -p "$scratch/repo/crates"
      for crate in fixture-spec cloudtrail-normalize event-pattern; do
        cp -R "$root/crates/$crate" "$scratch/repo/crates/$crate"
        rm -rf "$scratch/repo/crates/$crate/target"
      done
      # ...which inherit their edition and dependency versions from the root workspace.
      python3 - "$root/Cargo.toml" "$scratch/repo/Cargo.toml" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
members = '["crates/fixture-spec", "crates/cloudtrail-normalize", "crates/event-pattern"]'
text = re.sub(r"members\s*=\s*\[[^\]]*\]", "members = " + members, text, count=1)
open(sys.argv[2], "w").write(text)
PY
      python3 - "$root/plugins/Cargo.toml" "$scratch/repo/plugins/Cargo.toml" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
text = re.sub(r"members\s*=\s*\[[^\]]*\]", 'members = ["sdk"]', text, count=1)
open(sys.argv[2], "w").write(text)
PY
      dir="$scratch/repo/plugins/$name"
      instantiate rust "$dir"
      cp "$root/plugins/Cargo.lock" "$dir/Cargo.lock"  # the versions the plugins use
      (cd "$dir" && cargo test --quiet && cargo build --quiet --release --target wasm32-wasip2)
      wasm="${CARGO_TARGET_DIR:-$dir/target}/wasm32-wasip2/release/$crate_name.wasm"
      check "$wasm" --allow-wasi
      ;;
    python)
      dir="$scratch/python/$name"
      instantiate python "$dir"
      (cd "$dir" && python3 -m unittest -q)
      "$root/plugins/python/build.sh" "$dir" "$scratch/$name-py.wasm"
      check "$scratch/$name-py.wasm"
      ;;
    js)
      dir="$scratch/js/$name"
      instantiate js "$dir"
      "$root/plugins/js/build.sh" "$dir" "$scratch/$name-js.wasm"
      check "$scratch/$name-js.wasm"
      ;;
    *) echo "unknown template $lang (rust, python, js)" >&2; exit 2 ;;
  esac
done
echo "templates ok: ${langs[*]}"
