#!/usr/bin/env bash
# Builds every relaybus image (make images): the three stages, relay, the
# echo agent, all from ./Dockerfile (one build stage compiles every binary;
# each image is a target of it), and prints their sizes.
#
# It works with a registry and without one:
#
# * The build stage's Go image: $GO_IMAGE if set; else the official
#   golang:1.26 when it is present or can be pulled; else a stand-in made
#   here from this machine's own Go toolchain (`go env GOROOT`) and a
#   minimal root file system (a shell and the few tools the build runs,
#   with their libraries, and the CA certificates), with `docker import`:
#   relaybus/go:<go version>-local. The binaries are built CGO_ENABLED=0,
#   so the stand-in needs no C toolchain.
# * Module downloads inside the build go through the build container's
#   network, to this machine's GOPROXY (and GOSUMDB, GOPRIVATE, GONOSUMDB),
#   passed as build arguments. No vendoring: the modules' go.sum files pin
#   every download. (A machine whose proxy is only on loopback can set
#   DOCKER_BUILD_NETWORK=host.)
# * NATS: $NATS_IMAGE if set; else the official nats:<version> (the
#   nats-server version pkg/go.mod requires) when present or pullable; else
#   the Dockerfile's nats-server target, the upstream server's main package
#   at that same module version: relaybus/nats-server:<version>.
#
# The images chosen are written to .images.env (GO_IMAGE, NATS_IMAGE,
# RELAYBUS_VERSION), for compose:
#
#   set -a; . ./.images.env; set +a; docker compose --profile dev up
#
# Environment: VERSION (0.1.0), GO_IMAGE, NATS_IMAGE, RELAYBUS_OFFLINE=1
# (never try to pull), DOCKER_BUILD_NETWORK.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$PATH"

VERSION=${VERSION:-0.1.0}
GO_VERSION=$(go env GOVERSION)
GO_VERSION=${GO_VERSION#go}
NATS_VERSION=$(awk '$1 == "github.com/nats-io/nats-server/v2" { sub(/^v/, "", $2); print $2 }' pkg/go.mod)
[ -n "$NATS_VERSION" ] || { echo "images: no nats-server version in pkg/go.mod" >&2; exit 1; }
start=$(date +%s)

have() { docker image inspect "$1" >/dev/null 2>&1; }
# available IMAGE: present, or pulled unless RELAYBUS_OFFLINE=1.
available() {
  have "$1" && return 0
  [ "${RELAYBUS_OFFLINE:-0}" = 1 ] && return 1
  docker pull -q "$1" >/dev/null 2>&1
}

# goimage: a stand-in for golang:1.26 from this machine's Go.
standin_go() {
  local tag=relaybus/go:${GO_VERSION}-local root goroot
  if have "$tag"; then echo "$tag"; return; fi
  goroot=$(go env GOROOT)
  root=$(mktemp -d)
  mkdir -p "$root/bin" "$root/tmp" "$root/etc/ssl/certs" "$root/usr/local"
  chmod 1777 "$root/tmp"
  local b p l
  for b in sh mkdir cp ln cat rm ls env chmod chown; do
    p=$(command -v "$b")
    cp -L "$p" "$root/bin/$b"
    for l in $(ldd "$p" 2>/dev/null | grep -o '/[^ ]*\.so[^ ]*' || true); do
      mkdir -p "$root$(dirname "$l")"
      cp -Ln "$l" "$root$l"
    done
  done
  cp -L /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/"
  echo 'root:x:0:0:root:/root:/bin/sh' > "$root/etc/passwd"
  echo 'root:x:0:' > "$root/etc/group"
  echo "images: making $tag from $goroot (no golang image here)" >&2
  local g; g=$(basename "$goroot")
  tar -cf - -C "$root" . \
      -C "$(dirname "$goroot")" --exclude="$g/test" --exclude="$g/api" \
      --transform "s,^$g\(/\|\$\),usr/local/go\1,S" "$g" |
    docker import \
      -c 'ENV PATH=/usr/local/go/bin:/go/bin:/bin' -c 'ENV GOPATH=/go' -c 'WORKDIR /go' \
      -m "relaybus build stand-in: Go ${GO_VERSION} from $goroot" - "$tag" >/dev/null
  rm -rf "$root"
  echo "$tag"
}

if [ -z "${GO_IMAGE:-}" ]; then
  if available golang:1.26; then GO_IMAGE=golang:1.26; else GO_IMAGE=$(standin_go); fi
fi

# The third-party packages the binaries import (the relay binary links every
# stage; the NATS server is built from pkg): compiled in a layer of their
# own before the sources are copied (Dockerfile, WARM).
WARM=$( (cd cmd/relay && GOWORK=off CGO_ENABLED=0 go list -deps -f '{{if not .Standard}}{{.ImportPath}}{{end}}' . github.com/nats-io/nats-server/v2) |
  grep -v -e '^github.com/relaybus/' -e '/internal\(/\|$\)' | sort -u | tr '\n' ' ')

build() { # build TARGET TAG
  local t0 log; t0=$(date +%s); log=$(mktemp)
  if ! docker build --force-rm --target "$1" -t "$2" \
      ${DOCKER_BUILD_NETWORK:+--network "$DOCKER_BUILD_NETWORK"} \
      --build-arg GO_IMAGE="$GO_IMAGE" --build-arg VERSION="$VERSION" --build-arg WARM="$WARM" \
      --build-arg GOPROXY="$(go env GOPROXY)" --build-arg GOSUMDB="$(go env GOSUMDB)" \
      --build-arg GOPRIVATE="$(go env GOPRIVATE)" --build-arg GONOSUMDB="$(go env GONOSUMDB)" \
      . >"$log" 2>&1; then
    cat "$log" >&2; rm -f "$log"
    echo "images: building $2 failed" >&2
    exit 1
  fi
  rm -f "$log"
  echo "images: built $2 ($(( $(date +%s) - t0 ))s)" >&2
}

for b in ws-edge passthrough-converter egress relay echo-agent; do
  build "$b" "relaybus/$b:$VERSION"
done
if [ -z "${NATS_IMAGE:-}" ]; then
  if available "nats:$NATS_VERSION"; then
    NATS_IMAGE=nats:$NATS_VERSION
  else
    NATS_IMAGE=relaybus/nats-server:$NATS_VERSION
    build nats-server "$NATS_IMAGE"
  fi
fi

printf 'GO_IMAGE=%s\nNATS_IMAGE=%s\nRELAYBUS_VERSION=%s\n' "$GO_IMAGE" "$NATS_IMAGE" "$VERSION" > .images.env
echo "images: done in $(( $(date +%s) - start ))s; build image $GO_IMAGE; .images.env:"
sed 's/^/  /' .images.env
echo "images: sizes"
for img in relaybus/{ws-edge,passthrough-converter,egress,relay,echo-agent}:"$VERSION" "$NATS_IMAGE"; do
  docker image inspect -f '{{.Size}}' "$img" |
    awk -v img="$img" '{ printf "  %-40s %5.1f MB\n", img, $1 / 1e6 }'
done
