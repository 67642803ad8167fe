#!/usr/bin/env bash
# Builds kube-oidc-proxy — the open-source OIDC + impersonation proxy for Kubernetes, the bench's
# peer — into a cache outside the checkout, keyed by commit:
#   ${GATEHOUSE_PEER_CACHE:-~/.cache/gatehouse/kube-oidc-proxy}/<commit>/bin/kube-oidc-proxy
# and prints that path. Its code is never copied into this repository.
#
# Which source: jetstack/kube-oidc-proxy is archived (its last release pins Kubernetes 0.18 and
# Go 1.13 and no longer builds with current Go); TremoloSecurity/kube-oidc-proxy is the
# maintained fork (same module path github.com/jetstack/kube-oidc-proxy, Kubernetes 0.35).
# Because the fork keeps the original module path, `go install <fork>@<commit>` cannot fetch it
# through the module proxy, so it comes from git:
#   KUBE_OIDC_PROXY_GIT   a git URL or a local git directory (default: the fork on GitHub)
#   KUBE_OIDC_PROXY_REF   the commit to build (default below); dependencies come from the Go proxy.
set -euo pipefail

REF="${KUBE_OIDC_PROXY_REF:-d534f69bad96d651701f16808c0c5ad105f11aa6}"
GIT_SOURCE="${KUBE_OIDC_PROXY_GIT:-https://github.com/TremoloSecurity/kube-oidc-proxy.git}"
DIR="${GATEHOUSE_PEER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/gatehouse/kube-oidc-proxy}/$REF"
BIN="$DIR/bin/kube-oidc-proxy"

if [[ -f "$DIR/complete" && -x "$BIN" ]]; then echo "$BIN"; exit 0; fi
command -v go >/dev/null 2>&1 || { echo "build-kube-oidc-proxy.sh: Go is not installed" >&2; exit 2; }
mkdir -p "$DIR"
exec 9>"$DIR/.lock"
flock 9
if [[ -f "$DIR/complete" && -x "$BIN" ]]; then echo "$BIN"; exit 0; fi

rm -rf "$DIR/src" "$DIR/bin"
mkdir -p "$DIR/src" "$DIR/bin"
if [[ -d "$GIT_SOURCE" ]]; then
  git_dir="$GIT_SOURCE"
else
  git_dir="$DIR/git"
  [[ -d "$git_dir" ]] || git clone --bare --quiet "$GIT_SOURCE" "$git_dir"
fi
git --git-dir="$git_dir" archive "$REF" | tar -x -C "$DIR/src"
started=$(date +%s)
(cd "$DIR/src" && CGO_ENABLED=0 GOFLAGS="${GOFLAGS:-} -trimpath -buildvcs=false -mod=mod" go build -ldflags "-s -w" -o "$BIN" ./cmd)
echo "$(( $(date +%s) - started ))" >"$DIR/build-seconds"
touch "$DIR/complete"
echo "build-kube-oidc-proxy.sh: built $REF in $(cat "$DIR/build-seconds") s" >&2
echo "$BIN"
