#!/usr/bin/env bash
# Gannet's release build (README.md, "Install"): static binaries for
# linux/amd64 and linux/arm64, a Debian package for each (nfpm, from its own
# module tools/nfpm), and SHA256SUMS, all in dist/ (or $DIST).
#
#   ./release.sh                 # version from `git describe`, or 0.0.0~git<date>.<hash>
#   VERSION=1.2.0 ./release.sh
#   ARCHES=amd64 ./release.sh    # one architecture only
#
# The binaries are pure Go (CGO_ENABLED=0: the SQLite driver is
# modernc.org/sqlite), so they run on any Linux of their architecture. Each is
# stamped with the version and the git revision (gannet version prints them).
set -euo pipefail
cd "$(dirname "$0")"

dist=${DIST:-dist}
arches=${ARCHES:-amd64 arm64}

revision=$(git rev-parse HEAD 2>/dev/null || echo "")
commit_time=""
modified=""
if [ -n "$revision" ]; then
	commit_time=$(TZ=UTC git log -1 --date=format-local:%Y-%m-%dT%H:%M:%SZ --format=%cd)
	if [ -n "$(git status --porcelain --untracked-files=no)" ]; then modified=true; else modified=false; fi
fi
if [ -z "${VERSION:-}" ]; then
	# A tag v1.2.3 gives 1.2.3; otherwise a version that sorts before any
	# release (Debian's ~) and says which commit it is.
	if tag=$(git describe --tags --match 'v[0-9]*' --exact-match 2>/dev/null); then
		VERSION=${tag#v}
	elif [ -n "$revision" ]; then
		VERSION="0.0.0~git$(TZ=UTC git log -1 --date=format-local:%Y%m%d%H%M%S --format=%cd).${revision:0:12}"
	else
		VERSION=0.0.0~dev
	fi
fi
case "$VERSION" in
[0-9]*) ;;
*) echo "release.sh: VERSION $VERSION must start with a digit (Debian version)" >&2; exit 1 ;;
esac

rm -rf "$dist"
mkdir -p "$dist"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The packaged /etc/gannet/gannet.toml: the documented example with
# production values (packaging/prodconfig checks it loads).
go run ./packaging/prodconfig -o "$work/gannet.toml"

# Reproducible packages: every timestamp in them is the commit's.
if [ -n "$revision" ] && [ -z "${SOURCE_DATE_EPOCH:-}" ]; then
	SOURCE_DATE_EPOCH=$(git log -1 --format=%ct)
	export SOURCE_DATE_EPOCH
fi

ldflags="-s -w -X main.version=$VERSION -X main.revision=$revision -X main.commitTime=$commit_time -X main.modified=$modified"
for arch in $arches; do
	bin="$dist/gannet-$VERSION-linux-$arch"
	echo "release.sh: $bin"
	CGO_ENABLED=0 GOOS=linux GOARCH="$arch" go build -trimpath -ldflags "$ldflags" -o "$bin" ./cmd/gannet
	echo "release.sh: Debian package for $arch"
	GANNET_BIN="$bin" GANNET_CONFIG="$work/gannet.toml" VERSION="$VERSION" ARCH="$arch" \
		go tool -modfile=tools/nfpm/go.mod nfpm package -f packaging/nfpm.yaml -p deb -t "$dist/" >/dev/null
done
(cd "$dist" && sha256sum -- * >SHA256SUMS)
echo "release.sh: done; dist/SHA256SUMS:"
cat "$dist/SHA256SUMS"
