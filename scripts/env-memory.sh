#!/usr/bin/env bash
# Peak memory (max RSS) of `iris-helper env sync` and of one `env watch` reconcile on a .env of
# just under 16 MiB (projfile.EnvLimit, issue 10 rule 4), next to a tiny .env, and the refusal of a
# 200 MB one. Figures go to docs/benchmarks.md. Needs python3, /usr/bin/time (GNU) and Linux /proc.
set -euo pipefail
cd "$(dirname "$0")/.."

work=$(mktemp -d)
watch_pid=
cleanup() {
	if [ -n "$watch_pid" ]; then kill "$watch_pid" 2>/dev/null || true; wait "$watch_pid" 2>/dev/null || true; fi
	rm -rf "$work"
}
trap cleanup EXIT
go build -o "$work/iris-helper" ./cmd/iris-helper
bin=$work/iris-helper
export IRIS_HELPER_HOME=$work/home IRIS_HELPER_SUPERSERVER_RANGE=32990-32994 IRIS_HELPER_WEB_RANGE=32995-32999

# make_env FILE WEB: the benchmark's file (workspace/dotenv/bench_test.go bigEnv) with IRIS_WEB_PORT=WEB
make_env() {
	python3 - "$1" "$2" <<'PY'
import sys
limit = 16 << 20
path, web = sys.argv[1], sys.argv[2]
tail = "IRIS_HOST=localhost\nIRIS_WEB_PORT=%s\n" % web
out, size, i = [], 0, 0
while True:
    line = 'export APP_SETTING_%07d="value %d" # note\n' % (i, i)
    if i == 100000:
        line = "IRIS_PORT=1972 # superserver\n"
    if size + len(line) + len(tail) > limit - 64:
        break
    out.append(line); size += len(line); i += 1
open(path, "w").write("".join(out) + tail)
PY
}
rss() { /usr/bin/time -f '%M' "$@" 2>&1 >/dev/null | tail -1; }

mkdir -p "$work/tiny" "$work/big" "$work/huge"
echo 'IRIS_PORT=1' > "$work/tiny/.env"
make_env "$work/big/.env" 52773
size=$(stat -c %s "$work/big/.env")
echo "16 MiB case: $size bytes"
"$bin" ports assign "$work/big" >/dev/null 2>&1
"$bin" ports assign "$work/tiny" >/dev/null 2>&1
echo "env sync, tiny .env:  max RSS $(rss "$bin" env sync "$work/tiny") KiB"
start=$(date +%s.%N)
echo "env sync, 16 MiB .env: max RSS $(rss "$bin" env sync "$work/big") KiB, $(echo "$(date +%s.%N) - $start" | bc) s"

# env watch: the first sync, then one user edit (the web port set to text) restored by a reconcile.
"$bin" env watch "$work/big" 2>"$work/watch.log" &
watch_pid=$!
until grep -q 'watching' "$work/watch.log"; do sleep 0.1; done
hwm() { awk '/VmHWM/ {print $2}' "/proc/$watch_pid/status"; }
echo "env watch after its first sync: VmHWM $(hwm) KiB"
make_env "$work/big/.env.new" text
mv "$work/big/.env.new" "$work/big/.env"
until grep -q 'restored' "$work/watch.log"; do sleep 0.1; done
until grep -q 'updated' "$work/watch.log"; do sleep 0.1; done
echo "env watch after one reconcile of the 16 MiB .env: VmHWM $(hwm) KiB"
kill "$watch_pid"; wait "$watch_pid" 2>/dev/null || true; watch_pid=

# The 200 MB .env of the issue: refused before it is read.
echo 'IRIS_PORT=1' > "$work/huge/.env"; truncate -s 200000000 "$work/huge/.env"
start=$(date +%s.%N)
set +e
out=$(/usr/bin/time -f '%M' "$bin" env sync "$work/huge" 2>&1); code=$?
set -e
echo "env sync, 200 MB .env: exit $code, max RSS $(echo "$out" | tail -1) KiB, $(echo "$(date +%s.%N) - $start" | bc) s: $(echo "$out" | head -1)"
