#!/usr/bin/env bash
# Wall time of `credkit token` with a warm cache, beside one without a cache (a refresh against a
# fake token endpoint on 127.0.0.1), with hyperfine (`apt-get install hyperfine`).
#
#   bash examples/bench/cli-cache.sh
#
# Builds the release binary and the fake_token_server example, runs the server in the
# background, and stops it (closing its standard input) when done.
set -euo pipefail
cd "$(dirname "$0")/../.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
cargo build --locked --release -p credkit-examples --bin credkit --example fake_token_server
bin="$CARGO_TARGET_DIR/release/credkit"
work="$(mktemp -d)"
coproc SERVER { "$CARGO_TARGET_DIR/release/examples/fake_token_server" "$work"; }
trap 'exec {SERVER[1]}>&-; wait "$SERVER_PID"; rm -rf "$work"' EXIT
read -r url <&"${SERVER[0]}"
common=(token --credentials "$work/authorized_user.json" --token-uri "$url")
"$bin" "${common[@]}" --cache "$work/cache" >/dev/null   # warm the cache
hyperfine -N --warmup 20 --runs "${RUNS:-300}" \
  --command-name "cached credkit token" "$bin ${common[*]} --cache $work/cache" \
  --command-name "uncached credkit token (--no-cache, a refresh over loopback)" "$bin ${common[*]} --no-cache"
