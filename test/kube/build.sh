#!/usr/bin/env bash
# Builds a real kube-apiserver (from the k8s.io/kubernetes Go module) and etcd (from
# go.etcd.io/etcd/server/v3, at the version that Kubernetes release pins) into a cache outside the
# checkout, keyed by version:  ${GATEHOUSE_KUBE_CACHE:-~/.cache/gatehouse/kube}/<version>/bin/
#
# Usage: test/kube/build.sh            build if not cached; print the bin directory
#        KUBE_VERSION=v1.35.4 test/kube/build.sh
#
# The first build takes long (tens of minutes on two shared cores); a second run finds the
# "complete" marker and returns at once. Needs Go and the Go module proxy, nothing else.
set -euo pipefail

KUBE_VERSION="${KUBE_VERSION:-v1.34.4}"
CACHE_ROOT="${GATEHOUSE_KUBE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/gatehouse/kube}"
DIR="$CACHE_ROOT/$KUBE_VERSION"
BIN="$DIR/bin"

if [[ -f "$DIR/complete" && -x "$BIN/kube-apiserver" && -x "$BIN/etcd" ]]; then
  echo "$BIN"
  exit 0
fi

command -v go >/dev/null 2>&1 || { echo "build.sh: Go is not installed (needed to build kube-apiserver $KUBE_VERSION)" >&2; exit 2; }

mkdir -p "$DIR"
# One build at a time per version: a second caller waits for the first, then finds the marker.
exec 9>"$DIR/.lock"
flock 9
if [[ -f "$DIR/complete" && -x "$BIN/kube-apiserver" && -x "$BIN/etcd" ]]; then
  echo "$BIN"
  exit 0
fi

started=$(date +%s)
SRC="$DIR/src"
rm -rf "$SRC" "$BIN"
mkdir -p "$SRC/etcd" "$BIN"
cd "$SRC"

log() { echo "build.sh: $*" >&2; }

# k8s.io/kubernetes requires its staging modules (k8s.io/api, k8s.io/apimachinery, …) at v0.0.0 and
# replaces them with ./staging/… in its own go.mod. Replaces of a dependency do not apply to us, so
# every staging module it requires at v0.0.0 is replaced here with the published v0.<minor>.<patch>.
staging_version="v0.${KUBE_VERSION#v1.}"
cat >go.mod <<EOF
module gatehouse.test/kube

go 1.24.0

godebug default=go1.24
EOF

log "fetching k8s.io/kubernetes@$KUBE_VERSION go.mod"
kube_mod=$(go mod download -json "k8s.io/kubernetes@$KUBE_VERSION" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",\{0,1\}$/\1/p')
[[ -f "$kube_mod" ]] || { log "could not download k8s.io/kubernetes@$KUBE_VERSION"; exit 1; }
staging=$(awk '/^require \(/{r=1;next} r&&/^\)/{r=0} r&&$2=="v0.0.0"{print $1}' "$kube_mod")
[[ -n "$staging" ]] || { log "no staging modules found in $kube_mod"; exit 1; }
for m in $staging; do
  go mod edit -replace "$m=$m@$staging_version"
done
etcd_version=$(awk '$1=="go.etcd.io/etcd/server/v3"{print $2}' "$kube_mod")
[[ -n "$etcd_version" ]] || { log "k8s.io/kubernetes@$KUBE_VERSION does not pin go.etcd.io/etcd/server/v3"; exit 1; }
log "$(echo "$staging" | wc -l) staging modules at $staging_version; etcd $etcd_version"

# etcd's own main package lives in a module with local replaces; its entry point etcdmain does not.
cat >etcd/main.go <<'EOF'
// etcd, built from go.etcd.io/etcd/server/v3 at the version Kubernetes pins.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
EOF

go mod edit -require "k8s.io/kubernetes@$KUBE_VERSION" -require "go.etcd.io/etcd/server/v3@$etcd_version"
log "resolving modules"
# `go get` of the two packages records exactly the modules (and go.sum lines) their builds need.
go get "k8s.io/kubernetes/cmd/kube-apiserver@$KUBE_VERSION" "go.etcd.io/etcd/server/v3/etcdmain@$etcd_version"

minor=${KUBE_VERSION#v1.}; minor=${minor%%.*}
version_flags="-X k8s.io/component-base/version.gitVersion=$KUBE_VERSION -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor -X k8s.io/component-base/version.gitTreeState=clean"
export GOFLAGS="${GOFLAGS:-} -trimpath -buildvcs=false"
export CGO_ENABLED=0
log "building kube-apiserver and etcd (GOMAXPROCS-bound; the first build takes tens of minutes)"
go build -ldflags "-s -w $version_flags" -o "$BIN/kube-apiserver" k8s.io/kubernetes/cmd/kube-apiserver
go build -ldflags "-s -w" -o "$BIN/etcd" ./etcd

"$BIN/kube-apiserver" --version >&2
"$BIN/etcd" --version >&2
echo "$(( $(date +%s) - started ))" >"$DIR/build-seconds"
touch "$DIR/complete"
log "built in $(cat "$DIR/build-seconds") s"
echo "$BIN"
