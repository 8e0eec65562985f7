#!/usr/bin/env bash
# Step of action.yml: the cache key of the iamstack binary built from the action's own checkout.
# The key is a hash of the sources a release build reads (Cargo.toml, Cargo.lock, src/, realm/).
# It stands for the action's commit: the runner hands an action over as a tarball without `.git`,
# and a tag such as `v1` can move, but the sources of one commit always hash the same.
#
# Reads: ACTION_PATH (the action's checkout). Writes `key=<hash>` to $GITHUB_OUTPUT.
set -euo pipefail
: "${ACTION_PATH:?ACTION_PATH must name the action checkout}"
: "${GITHUB_OUTPUT:?GITHUB_OUTPUT must name the step output file}"
cd "$ACTION_PATH"
key=$(
  find Cargo.toml Cargo.lock src realm -type f -print0 | LC_ALL=C sort -z |
    xargs -0 sha256sum | sha256sum | cut -c1-40
)
echo "key=$key" >>"$GITHUB_OUTPUT"
echo "iamstack sources hash to $key"
