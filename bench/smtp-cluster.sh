#!/usr/bin/env bash
# Issue 14's SMTP benchmark: durable deliveries/s through Gannet on SQLite,
# on PostgreSQL with one node, and on PostgreSQL with three nodes behind
# HAProxy (PROXY protocol v2), beside Postfix -> LMTP -> Dovecot, in the same
# run, alternating, ROUNDS times. Each side gets ../shared/bench/bench-smtp.sh
# (smtp-source -s 20 -m MSGS -l 4096, one connection per message, RUNS runs)
# from an empty mailbox; a message counts once it is in the mailbox, durably.
#
#   bench/smtp-cluster.sh     (as root: it starts the peers from Debian's
#                              postfix and dovecot packages, PostgreSQL from
#                              the postgresql package, and HAProxy)
#
# OBJECTS=1 adds one more side: PostgreSQL, one node, bodies in an S3 object
# store (versitygw on loopback, its files on the same disk).
#
# Env: ROUNDS [2]  RUNS [3]  MSGS [2000]  NODES [3]  OBJECTS [0]  SHARED [../shared]
#      PEER_ROOT [/tmp/peer]  WORK [/tmp/gannet-cluster-bench]  PORT [15025]
# PostgreSQL runs with fsync on (pgserve, as the tests' server but durable).
# Everything listens on 127.0.0.1 only.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-2}
export RUNS=${RUNS:-3} MSGS=${MSGS:-2000}
NODES=${NODES:-3}
SHARED=$(cd "${SHARED:-../shared}" && pwd)
B=$SHARED/bench
export PEER_ROOT=${PEER_ROOT:-/tmp/peer}
WORK=${WORK:-/tmp/gannet-cluster-bench}
PORT=${PORT:-15025}
command -v haproxy >/dev/null || { echo "needs haproxy (Debian package haproxy)" >&2; exit 3; }
command -v psql >/dev/null || { echo "needs psql (Debian package postgresql-client)" >&2; exit 3; }

. bench/cluster-lib.sh

OBJECTS=${OBJECTS:-0}
[ "$OBJECTS" = 1 ] && start_objects

# The peer: Postfix -> LMTP -> Dovecot.
bash "$B/peer-dovecot.sh" status >/dev/null 2>&1 || bash "$B/peer-dovecot.sh" start >/dev/null 2>&1 </dev/null
if ! bash "$B/peer-postfix.sh" status >/dev/null 2>&1 ||
	! grep -q "^virtual_transport = lmtp:" "$PEER_ROOT/postfix/etc/main.cf" 2>/dev/null; then
	bash "$B/peer-postfix.sh" stop >/dev/null 2>&1 || true
	DELIVERY=lmtp bash "$B/peer-postfix.sh" start >/dev/null 2>&1 </dev/null
fi
peer_box=$PEER_ROOT/mail/test1

# delivered NAME: keeps bench-smtp.sh's whole output in $WORK/NAME.out and
# prints the median delivered msgs/s.
delivered() { tee -a "$WORK/$1.out" | grep MEDIAN | grep -o 'delivered [0-9.]*' | awk '{print $2}'; }
declare -A all
for r in $(seq "$ROUNDS"); do
	# Postfix -> LMTP -> Dovecot, once whatever an earlier run left in
	# Postfix's queue has reached the mailbox (else it counts as delivered).
	prev=-1
	while :; do
		c=$(find "$peer_box" -type f 2>/dev/null | wc -l)
		[ "$c" = "$prev" ] && break
		prev=$c
		sleep 3
	done
	rm -rf "$peer_box"
	p=$(DELIVERED_MAILDIR=$peer_box/Maildir bash "$B/bench-smtp.sh" 127.0.0.1 12525 2>&1 | delivered postfix)

	# Gannet on SQLite.
	rm -rf "$WORK/data-sqlite"
	config sqlite "" "127.0.0.1:$PORT" ""
	echo pass | "$WORK/gannet" user add --config "$WORK/sqlite.toml" test1@example.test >/dev/null
	serve sqlite && wait_port "$PORT"
	s=$(DELIVERED_CMD="sqlite3 '$WORK/data-sqlite/gannet.db' 'select count(*) from messages'" \
		bash "$B/bench-smtp.sh" 127.0.0.1 "$PORT" 2>&1 | delivered sqlite)
	stop_all

	# Gannet on PostgreSQL, one node.
	db=bench_one_$r
	psqlc "DROP DATABASE IF EXISTS $db" && psqlc "CREATE DATABASE $db"
	url=$(dburl "$db")
	config one "$url" "127.0.0.1:$PORT" ""
	echo pass | "$WORK/gannet" user add --config "$WORK/one.toml" test1@example.test >/dev/null
	serve one && wait_port "$PORT"
	o=$(DELIVERED_CMD="psql '$url' -Atc 'select count(*) from messages'" \
		bash "$B/bench-smtp.sh" 127.0.0.1 "$PORT" 2>&1 | delivered one)
	stop_all

	# Gannet on PostgreSQL, one node, bodies in the object store.
	x=-
	if [ "$OBJECTS" = 1 ]; then
		db=bench_obj_$r
		psqlc "DROP DATABASE IF EXISTS $db" && psqlc "CREATE DATABASE $db"
		url=$(dburl "$db")
		config obj "$url" "127.0.0.1:$PORT" "" "" "s3://bench/r$r"
		echo pass | "$WORK/gannet" user add --config "$WORK/obj.toml" test1@example.test >/dev/null
		serve obj && wait_port "$PORT"
		x=$(DELIVERED_CMD="psql '$url' -Atc 'select count(*) from messages'" \
			bash "$B/bench-smtp.sh" 127.0.0.1 "$PORT" 2>&1 | delivered obj)
		stop_all
		all[x]+="$x "
	fi

	# Gannet on PostgreSQL, NODES nodes behind HAProxy (round robin, PROXY v2).
	db=bench_many_$r
	psqlc "DROP DATABASE IF EXISTS $db" && psqlc "CREATE DATABASE $db"
	url=$(dburl "$db")
	addrs=()
	for i in $(seq "$NODES"); do
		config "node$i" "$url" "127.0.0.1:$((PORT + i))" "" proxy
		addrs+=("127.0.0.1:$((PORT + i))")
	done
	echo pass | "$WORK/gannet" user add --config "$WORK/node1.toml" test1@example.test >/dev/null
	for i in $(seq "$NODES"); do serve "node$i"; done
	for i in $(seq "$NODES"); do wait_port $((PORT + i)); done
	haproxy_front "$PORT" "${addrs[@]}"
	m=$(DELIVERED_CMD="psql '$url' -Atc 'select count(*) from messages'" \
		bash "$B/bench-smtp.sh" 127.0.0.1 "$PORT" 2>&1 | delivered many)
	stop_all

	echo "round $r: postfix->lmtp->dovecot $p, gannet sqlite $s, gannet postgres 1 node $o (with S3 bodies $x), $NODES nodes $m delivered msgs/s" \
		"(postgres 1 node / postfix $(awk -v a="$o" -v b="$p" 'BEGIN{printf "%.2f", a/b}')x)"
	all[p]+="$p "; all[s]+="$s "; all[o]+="$o "; all[m]+="$m "
done
med() { tr ' ' '\n' | grep . | sort -n | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}'; }
P=$(echo "${all[p]}" | med) S=$(echo "${all[s]}" | med) O=$(echo "${all[o]}" | med) M=$(echo "${all[m]}" | med)
echo "medians over $ROUNDS rounds (delivered msgs/s): postfix->lmtp->dovecot $P, gannet sqlite $S," \
	"postgres 1 node $O, postgres $NODES nodes $M"
awk -v p="$P" -v s="$S" -v o="$O" -v m="$M" 'BEGIN{printf "ratios to postfix->lmtp->dovecot: sqlite %.2fx, postgres 1 node %.2fx, postgres '"$NODES"' nodes %.2fx\n", s/p, o/p, m/p}'
if [ "$OBJECTS" = 1 ]; then
	X=$(echo "${all[x]}" | med)
	awk -v p="$P" -v x="$X" 'BEGIN{printf "postgres 1 node, bodies in S3: %s msgs/s, %.2fx postfix->lmtp->dovecot\n", x, x/p}'
fi
