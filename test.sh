#!/usr/bin/env bash
# Gannet's test command (README): installs what the tests need when it is missing,
# then runs go vet, staticcheck and go test -race over everything. CI (.ci/run) calls exactly
# this script. Interop tests never skip because a tool is absent: this script
# installs the tools, and the tests fail loudly if one is still missing.
set -euo pipefail
cd "$(dirname "$0")"

# command → Debian package providing it
tools=(
	"swaks:swaks"
	"fetchmail:fetchmail"
	"mbsync:isync"
	"curl:curl"
	"openssl:openssl"
	"python3:python3"
	"smtp-sink:postfix"
	"doveadm:dovecot-core"
	"chromium:chromium"
	"fail2ban-regex:fail2ban"
	"dpkg-deb:dpkg"
	"adduser:adduser"
	"runuser:util-linux"
	"sieve-connect:sieve-connect"
)
missing=()
for t in "${tools[@]}"; do
	cmd=${t%%:*} pkg=${t#*:}
	if ! command -v "$cmd" >/dev/null 2>&1 && [ ! -x "/usr/sbin/$cmd" ]; then
		missing+=("$pkg")
	fi
done
# Dovecot's IMAP server (internal/mailimport's `import imap` test starts it on loopback)
# is a program of its own, not in PATH.
if [ ! -x /usr/lib/dovecot/imap ]; then
	missing+=("dovecot-imapd")
fi
# PostgreSQL's server binaries are not in PATH on Debian (/usr/lib/postgresql/N/bin);
# internal/store/pgstore/pgtest finds them there and starts a throwaway cluster
# per test binary, so no server needs to be running.
if ! command -v initdb >/dev/null 2>&1 && ! compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null; then
	missing+=("postgresql")
fi
if [ ${#missing[@]} -gt 0 ]; then
	if [ "$(id -u)" != 0 ]; then
		echo "test.sh: missing packages: ${missing[*]} (run as root or install them)" >&2
		exit 1
	fi
	echo "test.sh: installing ${missing[*]}"
	# Postfix asks questions at install time; it is only used for smtp-sink here.
	echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
	# Debian's postgresql package would create and start a "main" cluster on port
	# 5432; the tests start their own, so have it create none.
	if [[ " ${missing[*]} " == *" postgresql "* ]]; then
		mkdir -p /etc/postgresql-common/createcluster.d
		echo "create_main_cluster = false" >/etc/postgresql-common/createcluster.d/gannet-tests.conf
	fi
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}" fonts-dejavu-core >/dev/null
fi

# The S3-compatible object store the object-store tests run on loopback
# (versitygw), built once per release pin from its own module (tools/versitygw)
# into the user cache; internal/store/s3blob/s3test would build it itself, but
# here the build is done once, not raced by parallel test binaries.
vgw="${XDG_CACHE_HOME:-$HOME/.cache}/gannet-test/versitygw-$(sed -n 's/^const Version = "\(.*\)"/\1/p' internal/store/s3blob/s3test/s3test.go)"
if [ ! -x "$vgw" ]; then
	echo "test.sh: building versitygw (once)"
	mkdir -p "$(dirname "$vgw")"
	go build -C tools/versitygw -o "$vgw.tmp" github.com/versity/versitygw/cmd/versitygw
	mv "$vgw.tmp" "$vgw"
fi
export GANNET_TEST_VERSITYGW="$vgw"

# The ACME test CA (pebble) the quickstart test gets certificates from, the
# same way (tools/pebble, internal/acmetest).
pebble="${XDG_CACHE_HOME:-$HOME/.cache}/gannet-test/pebble-$(sed -n 's/^const Version = "\(.*\)"/\1/p' internal/acmetest/acmetest.go)"
if [ ! -x "$pebble" ]; then
	echo "test.sh: building pebble (once)"
	mkdir -p "$(dirname "$pebble")"
	go build -C tools/pebble -o "$pebble.tmp" github.com/letsencrypt/pebble/v2/cmd/pebble
	mv "$pebble.tmp" "$pebble"
fi
export GANNET_TEST_PEBBLE="$pebble"

# The packaging tests install the .deb into this machine (dpkg -i, then
# dpkg --purge) only when asked: CI's machine is a throwaway one, run as root.
if [ "$(id -u)" = 0 ] && [ "${CI:-}" = true ]; then
	export GANNET_TEST_DPKG=1
fi

echo "test.sh: go vet"
go vet ./...
# staticcheck, pinned: a newer release may add checks, and CI must not turn red
# on a day nothing here changed. go run fetches it through the module proxy once
# and caches it.
echo "test.sh: staticcheck"
go run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...
echo "test.sh: go test -race"
go test -race -timeout 20m ./...

# The protocol suites again, on PostgreSQL (issue 14: "the existing protocol
# tests pass with GANNET_TEST_STORE=postgres as well"). One throwaway server
# serves the whole run (pgserve prints its URL, then serves until its stdin
# closes); every test gets its own database on it. fsync is off there: these
# suites test protocols, and the store's durability is tested by storetest and
# the crash tests on a server with fsync on.
echo "test.sh: protocol suites on PostgreSQL"
pgbin=$(mktemp -d)/pgserve
go build -o "$pgbin" ./internal/store/pgstore/pgtest/pgserve
coproc PGSERVE { exec "$pgbin" -nofsync; }
read -r GANNET_TEST_PG_DSN <&"${PGSERVE[0]}"
export GANNET_TEST_PG_DSN GANNET_TEST_STORE=postgres
go test -race -timeout 20m ./internal/imapserver/... ./internal/pop3server/... ./internal/smtpserver/... \
	./internal/webmail/... ./internal/delivery/... ./internal/queue/... ./internal/login/... ./internal/app/... \
	./internal/mailimport/...
eval "exec ${PGSERVE[1]}>&-"
wait "$PGSERVE_PID"
