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

. bench/cluster-lib.sh

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
		grep -E '^(MEDIAN|imap )' | tail -1 | grep -o '[0-9.]* ops/s' | awk '{print $1}'
}

# SQLite.
config sqlite "" "127.0.0.1:$PORT" "127.0.0.1:$((PORT + 100))"
serve sqlite && wait_port "$PORT"
fill sqlite "$PORT"
s=$(bench $((PORT + 100)) sqlite)
stop_all

# PostgreSQL, one node.
psqlc "CREATE DATABASE imap_bench"
url=$(dburl imap_bench)
config one "$url" "127.0.0.1:$PORT" "127.0.0.1:$((PORT + 100))"
serve one && wait_port "$PORT"
fill one "$PORT"
o=$(bench $((PORT + 100)) one)
stop_all

# PostgreSQL, NODES nodes behind HAProxy, on the same database.
addrs=()
for i in $(seq "$NODES"); do
	config "node$i" "$url" "127.0.0.1:$((PORT + i))" "127.0.0.1:$((PORT + 100 + i))" proxy
	addrs+=("127.0.0.1:$((PORT + 100 + i))")
	serve "node$i"
done
for i in $(seq "$NODES"); do wait_port $((PORT + 100 + i)); done
haproxy_front $((PORT + 100)) "${addrs[@]}"
m=$(bench $((PORT + 100)) many)
stop_all
echo "gannet bench imap ($CLIENTS clients, $USERS users x $MSGS messages; median ops/s of $RUNS runs of ${SECS}s):" \
	"sqlite $s, postgres 1 node $o, postgres $NODES nodes $m"
