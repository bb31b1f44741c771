#!/usr/bin/env bash
# credkit's credential helpers beside gcloud's, in one run, against a fake token endpoint on
# 127.0.0.1, in three states:
#
#   warm      a fresh token in each tool's cache: wall time (hyperfine);
#   refresh   each tool's cached token removed before every run, so each run refreshes: wall time;
#   burst     8 invocations at once with no fresh token: how many token requests they made.
#
#   bash examples/bench/helpers.sh          (needs hyperfine, gcloud with gke-gcloud-auth-plugin)
#
# kubectl's exec plugin (credkit exec-credential) is set beside gke-gcloud-auth-plugin, git's
# credential helper (credkit git-credential) beside gcloud's git-credential-gcloud.sh, docker's
# (credkit docker-credential) beside docker-credential-gcloud. Both sides use the same
# authorized_user credentials and the same endpoint: gcloud through a configuration folder of its
# own (CLOUDSDK_CONFIG, with auth/token_host pointed at the fake, and the refresh token given with
# `gcloud auth activate-refresh-token`), credkit with --token-uri.
#
# Everything runs in a network namespace whose only interface is loopback (the script re-runs
# itself under `unshare -n`; as another user than root, `unshare -rn`), so gcloud's first-use
# probe of the metadata server, like anything else off loopback, fails at once. Nothing leaves
# the machine. RUNS (default 30) sets the runs per timed command.
set -euo pipefail
cd "$(dirname "$0")/../.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"

if [ -z "${CREDKIT_BENCH_ISOLATED:-}" ]; then
  cargo build --locked --release -p credkit-examples --bin credkit --example fake_token_server
  for tool in hyperfine gcloud gke-gcloud-auth-plugin; do
    command -v "$tool" >/dev/null || { echo "$tool is not installed" >&2; exit 2; }
  done
  if [ "$(id -u)" -eq 0 ]; then isolate=(unshare -n); else isolate=(unshare -rn); fi
  exec "${isolate[@]}" env CREDKIT_BENCH_ISOLATED=1 bash -c 'ip link set lo up && exec bash "$0"' "$0"
fi

bin="$CARGO_TARGET_DIR/release/credkit"
runs="${RUNS:-30}"
work="$(mktemp -d)"
coproc SERVER { "$CARGO_TARGET_DIR/release/examples/fake_token_server" "$work"; }
trap 'exec {SERVER[1]}>&-; wait "$SERVER_PID" || true; rm -rf "$work"' EXIT
read -r url <&"${SERVER[0]}"
requests() { echo count >&"${SERVER[1]}"; read -r n <&"${SERVER[0]}"; echo "$n"; }

# A home of the benchmark's own: no real credentials, caches or kubeconfig are read or written.
export HOME="$work/home" && mkdir -p "$HOME"
export GCE_METADATA_HOST=127.0.0.1:9 GCE_METADATA_IP=127.0.0.1:9 GCE_METADATA_ROOT=127.0.0.1:9
export CLOUDSDK_CONFIG="$work/gcloud" CLOUDSDK_AUTH_TOKEN_HOST="$url"
export CLOUDSDK_CORE_DISABLE_PROMPTS=1 CLOUDSDK_CORE_CHECK_GCE_METADATA=false
export CLOUDSDK_COMPONENT_MANAGER_DISABLE_UPDATE_CHECK=1 CLOUDSDK_CORE_DISABLE_USAGE_REPORTING=true
# gcloud takes a user's refresh token this way (its own OAuth client; the fake accepts any).
gcloud auth activate-refresh-token bench@credkit.example fake-refresh-token --quiet >/dev/null 2>&1

creds=(--credentials "$work/authorized_user.json" --token-uri "$url" --cache "$work/cache")
exec_info='{"apiVersion":"client.authentication.k8s.io/v1beta1","kind":"ExecCredential","spec":{"interactive":false}}'
export KUBERNETES_EXEC_INFO="$exec_info"
# gke-gcloud-auth-plugin keys its cache by the kubeconfig's current context, and keeps it beside
# the kubeconfig.
export KUBECONFIG="$work/kubeconfig"
cat >"$KUBECONFIG" <<KUBE
apiVersion: v1
kind: Config
clusters: [{name: bench, cluster: {server: "https://127.0.0.1:6443"}}]
users: [{name: bench, user: {}}]
contexts: [{name: bench, context: {cluster: bench, user: bench}}]
current-context: bench
KUBE
printf 'protocol=https\nhost=source.developers.google.com\n\n' >"$work/git.in"
printf 'https://us-docker.pkg.dev' >"$work/docker.in"
printf '{"uri":"https://storage.googleapis.com/bucket/object"}' >"$work/bazel.in"
sdk="$(dirname "$(readlink -f "$(command -v gcloud)")")"

# name | command | what removes its cached token
pairs=(
  "kubectl: credkit exec-credential|$bin exec-credential ${creds[*]}|rm -rf $work/cache"
  "kubectl: gke-gcloud-auth-plugin|gke-gcloud-auth-plugin|rm -f $work/gke_gcloud_auth_plugin_cache $CLOUDSDK_CONFIG/access_tokens.db"
  "git: credkit git-credential|$bin git-credential ${creds[*]} get <$work/git.in|rm -rf $work/cache"
  "git: git-credential-gcloud.sh|$sdk/git-credential-gcloud.sh get <$work/git.in|rm -f $CLOUDSDK_CONFIG/access_tokens.db"
  "docker: credkit docker-credential|$bin docker-credential ${creds[*]} get <$work/docker.in|rm -rf $work/cache"
  "docker: docker-credential-gcloud|$sdk/docker-credential-gcloud get <$work/docker.in|rm -f $CLOUDSDK_CONFIG/access_tokens.db"
  "bazel: credkit credential-helper|$bin credential-helper ${creds[*]} get <$work/bazel.in|rm -rf $work/cache"
)

# Every command works before anything is timed (and warms the caches).
for pair in "${pairs[@]}"; do
  IFS='|' read -r name command _ <<<"$pair"
  bash -c "$command" >/dev/null 2>"$work/err" || { echo "$name failed: $(cat "$work/err")" >&2; exit 1; }
done

echo "== warm: a fresh token in each tool's cache"
args=()
for pair in "${pairs[@]}"; do
  IFS='|' read -r name command _ <<<"$pair"
  args+=(--command-name "$name" "$command")
done
hyperfine --style basic --warmup 3 --runs "$runs" --export-markdown "$work/warm.md" "${args[@]}" >/dev/null
cat "$work/warm.md"

echo
echo "== refresh: each run finds no fresh token and refreshes (one HTTP request each)"
args=()
for pair in "${pairs[@]}"; do
  IFS='|' read -r name command prepare <<<"$pair"
  args+=(--prepare "$prepare" --command-name "$name" "$command")
done
hyperfine --style basic --runs "$runs" --export-markdown "$work/refresh.md" "${args[@]}" >/dev/null
cat "$work/refresh.md"

echo
echo "== burst: 8 invocations at once with no fresh token; token requests made"
echo "| Command | token requests |"
echo "|:---|---:|"
for pair in "${pairs[@]}"; do
  IFS='|' read -r name command prepare <<<"$pair"
  bash -c "$prepare"
  before=$(requests)
  pids=()
  for _ in 1 2 3 4 5 6 7 8; do
    bash -c "$command" >/dev/null 2>&1 &
    pids+=("$!")
  done
  wait "${pids[@]}"
  echo "| \`$name\` | $(( $(requests) - before )) |"
done
