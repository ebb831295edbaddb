#!/usr/bin/env bash
# First measurements for BENCHMARKS.md: ingestion throughput through the real
# call-home protocol (`usagi simulate`: gzip, signed, ~100-record batches) and the
# latency of a daily generic/dateRange report on the resulting data.
#
# Usage: scripts/bench-foundation.sh [INSTALLS] [DAYS] [CONCURRENCY]
set -euo pipefail
cd "$(dirname "$0")/.."
INSTALLS=${1:-3000}
DAYS=${2:-180}
CONC=${3:-16}
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/usagi-target}"
cargo build -q -p usagi
BIN="$CARGO_TARGET_DIR/debug/usagi"
DIR=$(mktemp -d)
PORT=18080
URL="http://127.0.0.1:$PORT"
trap 'kill $SERVER 2>/dev/null || true; rm -rf "$DIR"' EXIT

CREATED=$("$BIN" --data-dir "$DIR" product create --name Bench --id 2376158762)
SECRET=$(echo "$CREATED" | sed 's/.*"secret":"\([0-9a-f]*\)".*/\1/')
echo bench-pass | "$BIN" --data-dir "$DIR" user create --email bench@example.com --password-stdin >/dev/null
TOKEN_JSON=$("$BIN" --data-dir "$DIR" token create --user bench@example.com)
"$BIN" --data-dir "$DIR" user grant --email bench@example.com --product 2376158762 --role viewer >/dev/null
TOKEN=$(echo "$TOKEN_JSON" | sed 's/.*"token":"\([^"]*\)".*/\1/')
cat > "$DIR/usagi.toml" <<TOML
[ingest]
allow_simulated_receive_time = true
TOML
USAGI_LOG=warn "$BIN" --data-dir "$DIR" serve --listen 127.0.0.1:$PORT --config "$DIR/usagi.toml" &
SERVER=$!
until curl -sf "$URL/v3/openapi.json" >/dev/null; do sleep 0.2; done

echo "== ingest: $INSTALLS installations, $DAYS days, concurrency $CONC"
"$BIN" simulate --url "$URL" --product 2376158762 --secret "$SECRET" --installs "$INSTALLS" --days "$DAYS" \
  --concurrency "$CONC" --simulated-receive-time

echo "== report: generic/dateRange, $DAYS days split by day, new+active+lost (20 runs, warm)"
BODY="{\"startDate\":\"NOW-$((DAYS-1))\",\"stopDate\":\"NOW\",\"dateSplit\":\"day\",\"clientStatus\":[\"new\",\"active\",\"lost\"]}"
for i in $(seq 1 22); do
  curl -s -o /dev/null -w '%{time_total}\n' -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
    -d "$BODY" "$URL/v3/reporting/generic/dateRange/2376158762"
done | tail -n 20 | sort -n | awk '{a[NR]=$1} END {printf "p50 %.1f ms, p95 %.1f ms, min %.1f ms, max %.1f ms\n", a[int(NR*0.5)]*1000, a[int(NR*0.95)]*1000, a[1]*1000, a[NR]*1000}'
du -sh "$DIR"/warehouse.duckdb "$DIR"/ingest | sed 's/^/size /'
