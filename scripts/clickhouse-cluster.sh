#!/usr/bin/env bash
# Starts or stops a throwaway ClickHouse cluster on loopback: N `clickhouse-server` processes
# (Debian's package), each a shard of the cluster `usagi`, every one with the same
# `remote_servers` so a `Distributed` table on any of them reaches all shards.
#
#   scripts/clickhouse-cluster.sh start DIR [SHARDS=2] [BASE_PORT=18123]
#       prints `export USAGI_TEST_CLICKHOUSE=http://127.0.0.1:P1,http://127.0.0.1:P2`
#   scripts/clickhouse-cluster.sh stop DIR
#
# Shard i (1-based) listens on HTTP BASE_PORT+10(i-1), native TCP +1, interserver +2. Data, logs
# and configs live in DIR/shard-i; `stop` kills the servers and removes DIR.
set -euo pipefail
cmd=${1:?start|stop}; dir=${2:?directory}
case "$cmd" in
start)
  shards=${3:-2}; base=${4:-18123}
  server=$(command -v clickhouse-server || true)
  if [ -z "$server" ]; then
    echo "== installing ClickHouse (Debian's clickhouse-server)" >&2
    apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq clickhouse-server >/dev/null
    server=$(command -v clickhouse-server)
  fi
  mkdir -p "$dir"
  remote="<usagi>"
  for i in $(seq 1 "$shards"); do
    remote+="<shard><replica><host>127.0.0.1</host><port>$((base + 10 * (i - 1) + 1))</port></replica></shard>"
  done
  remote+="</usagi>"
  urls=()
  for i in $(seq 1 "$shards"); do
    s="$dir/shard-$i"; http=$((base + 10 * (i - 1)))
    for p in "$http" $((http + 1)) $((http + 2)); do
      if (echo >"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "port $p is taken" >&2; exit 1; fi
    done
    mkdir -p "$s/data" "$s/tmp" "$s/user_files"
    cat >"$s/users.xml" <<XML
<?xml version="1.0"?>
<yandex>
  <profiles><default><max_memory_usage>4000000000</max_memory_usage></default></profiles>
  <users><default><password></password><networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
    <profile>default</profile><quota>default</quota></default></users>
  <quotas><default><interval><duration>3600</duration><queries>0</queries><errors>0</errors>
    <result_rows>0</result_rows><read_rows>0</read_rows><execution_time>0</execution_time></interval></default></quotas>
</yandex>
XML
    cat >"$s/config.xml" <<XML
<?xml version="1.0"?>
<yandex>
  <logger><level>warning</level><log>$s/server.log</log><errorlog>$s/error.log</errorlog><console>0</console></logger>
  <http_port>$http</http_port>
  <tcp_port>$((http + 1))</tcp_port>
  <interserver_http_port>$((http + 2))</interserver_http_port>
  <interserver_http_host>127.0.0.1</interserver_http_host>
  <listen_host>127.0.0.1</listen_host>
  <path>$s/data/</path>
  <tmp_path>$s/tmp/</tmp_path>
  <user_files_path>$s/user_files/</user_files_path>
  <users_config>$s/users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <mark_cache_size>268435456</mark_cache_size>
  <remote_servers>$remote</remote_servers>
  <macros><shard>$i</shard></macros>
</yandex>
XML
    # 18.16 ignores --pid-file without a daemon; the shell knows the pid.
    "$server" --config-file="$s/config.xml" >"$s/stdout.log" 2>&1 &
    echo $! >"$s/server.pid"
    urls+=("http://127.0.0.1:$http")
  done
  for u in "${urls[@]}"; do
    for _ in $(seq 1 100); do
      if curl -fsS "$u/ping" >/dev/null 2>&1; then break; fi
      sleep 0.2
    done
    curl -fsS "$u/ping" >/dev/null || { echo "ClickHouse at $u did not start" >&2; cat "$dir"/shard-*/error.log >&2 || true; exit 1; }
  done
  (IFS=,; echo "export USAGI_TEST_CLICKHOUSE=${urls[*]}")
  ;;
stop)
  for pidfile in "$dir"/shard-*/server.pid; do
    [ -f "$pidfile" ] && kill -9 "$(cat "$pidfile")" 2>/dev/null || true
  done
  rm -rf "$dir"
  ;;
*) echo "usage: $0 start|stop DIR [SHARDS] [BASE_PORT]" >&2; exit 2 ;;
esac
