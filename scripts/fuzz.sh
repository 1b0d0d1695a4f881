#!/usr/bin/env bash
# Runs every fuzz target of the repository for FUZZTIME each (default 10s):
# `make fuzz`. The seeds each target keeps in testdata/fuzz run with the
# ordinary tests; this is for looking further.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$PATH"
fuzztime=${FUZZTIME:-10s}
for dir in $(git ls-files '*_test.go' | xargs grep -l '^func Fuzz' | xargs -n1 dirname | sort -u); do
  for target in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go | sed 's/^func //' | sort -u); do
    echo "fuzz: $dir $target ($fuzztime)"
    (cd "$dir" && go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" .)
  done
done
