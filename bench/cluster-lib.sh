# Shared by bench/smtp-cluster.sh and bench/imap-cluster.sh (sourced, not
# run): builds gannet and pgserve into $WORK, starts one durable throwaway
# PostgreSQL for the run ($PGURL, stopped at exit), and starts and stops
# Gannet nodes. Needs WORK set. Everything listens on 127.0.0.1 only.

rm -rf "$WORK" && mkdir -p "$WORK"
go build -o "$WORK/gannet" ./cmd/gannet
go build -o "$WORK/pgserve" ./internal/store/pgstore/pgtest/pgserve

# PostgreSQL, durable (fsync on), for the whole run; it stops when this
# script's end closes its stdin.
coproc PGSERVE { exec "$WORK/pgserve"; }
read -r PGURL <&"${PGSERVE[0]}"
psqlc() { psql "$PGURL" -Atqc "$1"; }

# dburl NAME: the URL of database NAME on that server.
dburl() { echo "${PGURL%/postgres*}/$1?sslmode=disable"; }

# config NAME STORE SMTP_ADDR IMAP_ADDR [PROXY] [BLOBS]: one node's
# configuration ("" disables a listener; PROXY set: take PROXY headers from
# 127.0.0.1; BLOBS: an s3:// URL on the gateway start_objects started).
config() {
	local tp="" blobs="" s3=""
	[ -n "${5:-}" ] && tp='"127.0.0.1"'
	if [ -n "${6:-}" ]; then
		blobs="blobs = \"$6\""
		s3=$(printf '[s3]\nendpoint = "%s"\nregion = "us-east-1"\naccess_key = "bench"\nsecret_key_file = "%s"\nplain_http = true' \
			"$S3_ENDPOINT" "$WORK/s3-secret")
	fi
	cat >"$WORK/$1.toml" <<EOC
hostname = "bench.example.test"
node_name = "$1"
data_dir = "$WORK/data-$1"
store = "$2"
$blobs
domains = ["example.test"]
dev = true
allow_root = true
[listeners]
smtp = "$3"
submission = ""
submissions = ""
imap = "$4"
imaps = ""
pop3 = ""
pop3s = ""
managesieve = ""
http = ""
admin = ""
trusted_proxies = [$tp]
[limits]
max_connections_per_ip = 0
login_failures_per_minute = 1000
$s3
EOC
}

# start_objects: versitygw (the S3 gateway the tests use, built once into the
# user cache as ./test.sh does) on 127.0.0.1:$S3_PORT over $WORK/s3, with a
# bucket named bench; sets S3_ENDPOINT. Stopped with the nodes' stop_all at
# exit (its pid is kept apart from theirs).
start_objects() {
	local vgw
	vgw="${XDG_CACHE_HOME:-$HOME/.cache}/gannet-test/versitygw-$(sed -n 's/^const Version = "\(.*\)"/\1/p' internal/store/s3blob/s3test/s3test.go)"
	if [ ! -x "$vgw" ]; then
		mkdir -p "$(dirname "$vgw")"
		go build -C tools/versitygw -o "$vgw.tmp" github.com/versity/versitygw/cmd/versitygw && mv "$vgw.tmp" "$vgw"
	fi
	S3_ENDPOINT=127.0.0.1:${S3_PORT:-17070}
	mkdir -p "$WORK/s3/root/bench" "$WORK/s3/meta"
	head -c 24 /dev/urandom | base64 | tr -d '/+=' >"$WORK/s3-secret"
	ROOT_ACCESS_KEY=bench ROOT_SECRET_KEY=$(cat "$WORK/s3-secret") \
		"$vgw" --port "$S3_ENDPOINT" --quiet posix --sidecar "$WORK/s3/meta" "$WORK/s3/root" >>"$WORK/s3.log" 2>&1 </dev/null &
	S3_PID=$!
	wait_port "${S3_ENDPOINT##*:}"
}

pids=()
# stop_all stops every node (and HAProxy) this script started.
stop_all() {
	local pid
	for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
	for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
	pids=()
}
S3_PID=""
trap '[ -n "$S3_PID" ] && kill "$S3_PID" 2>/dev/null; stop_all; eval "exec ${PGSERVE[1]}>&-"; wait "$PGSERVE_PID" 2>/dev/null || true' EXIT

wait_port() {
	for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done
	echo "nothing listens on $1" >&2
	return 1
}

# serve NAME: start a node.
serve() {
	"$WORK/gannet" serve --config "$WORK/$1.toml" >>"$WORK/$1.log" 2>&1 </dev/null &
	pids+=($!)
}

# haproxy_front PORT BACKEND...: HAProxy on 127.0.0.1:PORT, round robin over
# the BACKEND addresses, each sent a PROXY v2 header.
haproxy_front() {
	local port=$1 i=0 backends=""
	shift
	for b in "$@"; do
		i=$((i + 1))
		backends+="    server node$i $b send-proxy-v2"$'\n'
	done
	cat >"$WORK/haproxy.cfg" <<EOC
global
    maxconn 4096
defaults
    mode tcp
    timeout connect 5s
    timeout client 35m
    timeout server 35m
frontend front
    bind 127.0.0.1:$port
    default_backend gannet
backend gannet
    balance roundrobin
$backends
EOC
	haproxy -db -f "$WORK/haproxy.cfg" >>"$WORK/haproxy.log" 2>&1 </dev/null &
	pids+=($!)
	wait_port "$port"
}
