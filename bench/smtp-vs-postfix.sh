#!/usr/bin/env bash
# Issue 3's SMTP benchmark, Gannet next to Postfix, reproducibly:
# smtp-source -s 20 -m 2000 -l 4096 (../shared/bench/bench-smtp.sh, one
# connection per message, RUNS runs per side) against Postfix and against a
# fresh Gannet MX, alternating, ROUNDS times. Each round starts both from an
# empty mailbox: Postfix's Maildir (or Dovecot's, for PEER=lmtp) is removed
# and recreated, since a directory that once held 100,000 files stays large,
# and Gannet starts on a new data directory. Prints each round's delivered
# msgs/s (a message counts once it is in the mailbox, durably) and the ratio.
#
#   bench/smtp-vs-postfix.sh            # PEER=maildir: Postfix virtual(8) into its Maildir
#   PEER=lmtp bench/smtp-vs-postfix.sh  # Postfix -> LMTP -> Dovecot
#
# Env: ROUNDS [3]  RUNS [3]  PEER [maildir|lmtp]  SHARED [../shared]
#      PEER_ROOT [/tmp/peer]  WORK [/tmp/gannet-bench]  PORT [14025]
# It starts the peers it needs (as root, from Debian's postfix and dovecot
# packages; see ../shared/bench/README.md) and stops Gannet at the end.
# Everything listens on 127.0.0.1 only.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-3}
export RUNS=${RUNS:-3}
PEER=${PEER:-maildir}
SHARED=$(cd "${SHARED:-../shared}" && pwd)
B=$SHARED/bench
export PEER_ROOT=${PEER_ROOT:-/tmp/peer}
WORK=${WORK:-/tmp/gannet-bench}
PORT=${PORT:-14025}

case "$PEER" in
maildir) peer_box=$PEER_ROOT/pfmail/example.test/test1 peer_count=$peer_box ;;
lmtp) peer_box=$PEER_ROOT/mail/test1 peer_count=$peer_box/Maildir ;;
*) echo "PEER must be maildir or lmtp" >&2; exit 2 ;;
esac

command -v sqlite3 >/dev/null || { echo "needs sqlite3 (Debian package sqlite3) to count Gannet's deliveries" >&2; exit 3; }
mkdir -p "$WORK"
go build -o "$WORK/gannet" ./cmd/gannet
cat > "$WORK/gannet.toml" <<EOF
hostname = "bench.example.test"
data_dir = "$WORK/data"
domains = ["example.test"]
dev = true
[listeners]
smtp = "127.0.0.1:$PORT"
submission = ""
submissions = ""
imap = ""
imaps = ""
pop3 = ""
pop3s = ""
http = ""
admin = ""
[limits]
max_connections_per_ip = 0
EOF

# The peer: Postfix in the wanted delivery mode (restarted if it runs in another).
if [ "$PEER" = lmtp ]; then
	bash "$B/peer-dovecot.sh" status >/dev/null 2>&1 || bash "$B/peer-dovecot.sh" start >/dev/null 2>&1 </dev/null
fi
case "$PEER" in maildir) want="virtual_transport = virtual" ;; lmtp) want="virtual_transport = lmtp:" ;; esac
if ! bash "$B/peer-postfix.sh" status >/dev/null 2>&1 ||
	! grep -q "^$want" "$PEER_ROOT/postfix/etc/main.cf" 2>/dev/null; then
	bash "$B/peer-postfix.sh" stop >/dev/null 2>&1 || true
	DELIVERY=$PEER bash "$B/peer-postfix.sh" start >/dev/null 2>&1 </dev/null
fi

gpid=
stop_gannet() {
	if [ -n "$gpid" ]; then
		kill "$gpid" 2>/dev/null || true
		wait "$gpid" 2>/dev/null || true
		gpid=
	fi
}
trap stop_gannet EXIT

delivered() { grep MEDIAN | grep -o 'delivered [0-9.]*' | awk '{print $2}'; }
ratios=()
for r in $(seq "$ROUNDS"); do
	rm -rf "$peer_box"
	p=$(DELIVERED_MAILDIR=$peer_count bash "$B/bench-smtp.sh" 127.0.0.1 12525 2>&1 | delivered)
	rm -rf "$WORK/data"
	echo pass | "$WORK/gannet" user add --config "$WORK/gannet.toml" test1@example.test >/dev/null
	if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
		echo "127.0.0.1:$PORT is taken by another server; set PORT" >&2
		exit 2
	fi
	"$WORK/gannet" serve --config "$WORK/gannet.toml" >"$WORK/log" 2>&1 </dev/null &
	gpid=$!
	for _ in $(seq 50); do (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break; sleep 0.1; done
	kill -0 "$gpid" 2>/dev/null || { echo "gannet did not start:" >&2; cat "$WORK/log" >&2; exit 1; }
	g=$(DELIVERED_CMD="sqlite3 '$WORK/data/gannet.db' 'select count(*) from messages'" \
		bash "$B/bench-smtp.sh" 127.0.0.1 "$PORT" 2>&1 | delivered)
	stop_gannet
	ratio=$(awk -v g="$g" -v p="$p" 'BEGIN{printf "%.2f", g/p}')
	ratios+=("$ratio")
	echo "round $r: postfix ($PEER) $p delivered msgs/s, gannet $g delivered msgs/s: ${ratio}x"
done
printf '%s\n' "${ratios[@]}" | sort -n | awk '{a[NR]=$1} END{print "median ratio: " a[int((NR+1)/2)] "x over " NR " rounds"}'
