#!/usr/bin/env bash
# Issue 14's IMAP benchmark: `gannet bench imap` (an imaptest-like mix of
# SELECT, FETCH, SEARCH, STORE, APPEND, EXPUNGE, IDLE-free) against Gannet on
# SQLite, on PostgreSQL with one node, and on PostgreSQL with NODES nodes
# behind HAProxy (PROXY protocol v2), in the same run. Each side starts from
# the same mail: USERS accounts with MSGS messages each, delivered through
# the MX with smtp-source.
#
#   bench/imap-cluster.sh     (as root; needs smtp-source from Debian's
#                              postfix package, haproxy and psql)
#
# Env: USERS [10]  MSGS [200]  CLIENTS [8]  SECS [10]  RUNS [3]  NODES [3]
#      WORK [/tmp/gannet-imap-bench]  PORT [16025]
# Everything listens on 127.0.0.1 only.
set -euo pipefail
cd "$(dirname "$0")/.."
USERS=${USERS:-10} MSGS=${MSGS:-200} CLIENTS=${CLIENTS:-8} SECS=${SECS:-10} RUNS=${RUNS:-3}
NODES=${NODES:-3}
WORK=${WORK:-/tmp/gannet-imap-bench}
PORT=${PORT:-16025}
SMTP_SOURCE=$(command -v smtp-source || echo /usr/sbin/smtp-source)
[ -x "$SMTP_SOURCE" ] || { echo "needs smtp-source (Debian package postfix)" >&2; exit 3; }
command -v haproxy >/dev/null || { echo "needs haproxy (Debian package haproxy)" >&2; exit 3; }

rm -rf "$WORK" && mkdir -p "$WORK"
go build -o "$WORK/gannet" ./cmd/gannet
go build -o "$WORK/pgserve" ./internal/store/pgstore/pgtest/pgserve
coproc PGSERVE { exec "$WORK/pgserve"; }
read -r PGURL <&"${PGSERVE[0]}"

pids=()
stop_all() {
	local pid
	for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
	for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
	pids=()
}
trap 'stop_all; eval "exec ${PGSERVE[1]}>&-"; wait "$PGSERVE_PID" 2>/dev/null || true' EXIT
wait_port() {
	for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done
	echo "nothing listens on $1" >&2
	return 1
}

# config NAME STORE SMTP IMAP [PROXY]
config() {
	local tp=""
	[ -n "${5:-}" ] && tp='"127.0.0.1"'
	cat >"$WORK/$1.toml" <<EOF
hostname = "bench.example.test"
node_name = "$1"
data_dir = "$WORK/data-$1"
store = "$2"
domains = ["example.test"]
dev = true
[listeners]
smtp = "$3"
submission = ""
submissions = ""
imap = "$4"
imaps = ""
pop3 = ""
pop3s = ""
http = ""
admin = ""
trusted_proxies = [$tp]
[limits]
max_connections_per_ip = 0
login_failures_per_minute = 1000
EOF
}
serve() {
	"$WORK/gannet" serve --config "$WORK/$1.toml" >>"$WORK/$1.log" 2>&1 </dev/null &
	pids+=($!)
}
# fill NAME SMTPPORT: the accounts and their mail, through node NAME's MX.
fill() {
	for u in $(seq "$USERS"); do
		echo pass | "$WORK/gannet" user add --config "$WORK/$1.toml" "test$u@example.test" >/dev/null
	done
	for u in $(seq "$USERS"); do
		"$SMTP_SOURCE" -s 10 -m "$MSGS" -l 3000 -f a@example.test -t "test$u@example.test" "127.0.0.1:$2"
	done
}
bench() {
	"$WORK/gannet" bench imap --addr "127.0.0.1:$1" --clients "$CLIENTS" --secs "$SECS" --runs "$RUNS" \
		--users 'test%d@example.test' --user-range "1-$USERS" --password pass 2>&1 | tee -a "$WORK/$2.out" |
		grep MEDIAN | grep -o '[0-9.]* ops/s' | awk '{print $1}'
}

# SQLite.
config sqlite "" "127.0.0.1:$PORT" "127.0.0.1:$((PORT + 100))"
serve sqlite && wait_port "$PORT"
fill sqlite "$PORT"
s=$(bench $((PORT + 100)) sqlite)
stop_all

# PostgreSQL, one node.
psql "$PGURL" -Atqc "CREATE DATABASE imap_bench"
url=${PGURL%/postgres*}/imap_bench?sslmode=disable
config one "$url" "127.0.0.1:$PORT" "127.0.0.1:$((PORT + 100))"
serve one && wait_port "$PORT"
fill one "$PORT"
o=$(bench $((PORT + 100)) one)
stop_all

# PostgreSQL, NODES nodes behind HAProxy, on the same database.
backends=""
for i in $(seq "$NODES"); do
	config "node$i" "$url" "127.0.0.1:$((PORT + i))" "127.0.0.1:$((PORT + 100 + i))" proxy
	backends+="    server node$i 127.0.0.1:$((PORT + 100 + i)) send-proxy-v2"$'\n'
	serve "node$i"
done
for i in $(seq "$NODES"); do wait_port $((PORT + 100 + i)); done
cat >"$WORK/haproxy.cfg" <<EOF
global
    maxconn 4096
defaults
    mode tcp
    timeout connect 5s
    timeout client 35m
    timeout server 35m
frontend imap
    bind 127.0.0.1:$((PORT + 100))
    default_backend gannet
backend gannet
    balance roundrobin
$backends
EOF
haproxy -db -f "$WORK/haproxy.cfg" >>"$WORK/haproxy.log" 2>&1 </dev/null &
pids+=($!)
wait_port $((PORT + 100))
m=$(bench $((PORT + 100)) many)
stop_all
echo "gannet bench imap ($CLIENTS clients, $USERS users x $MSGS messages; median ops/s of $RUNS runs of ${SECS}s):" \
	"sqlite $s, postgres 1 node $o, postgres $NODES nodes $m"
