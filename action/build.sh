#!/usr/bin/env bash
# Step of action.yml: make sure an iamstack binary exists, and name it in $GITHUB_OUTPUT as
# `bin=<path>`. Either the `iamstack-binary` input names an existing one, or the binary restored
# from the cache is used, or it is built from the action's checkout (release, --locked) and put
# where the cache step saves it.
#
# Reads: IAMSTACK_BINARY (optional, an existing binary), ACTION_PATH (the action checkout),
# BIN_DIR (where the built binary goes; default ~/.cache/iamstack-action/bin, the path
# action.yml's cache step saves and restores).
set -euo pipefail
: "${GITHUB_OUTPUT:?GITHUB_OUTPUT must name the step output file}"

if [ -n "${IAMSTACK_BINARY:-}" ]; then
  if [ ! -x "$IAMSTACK_BINARY" ]; then
    echo "::error::iamstack-binary \`$IAMSTACK_BINARY\` is not an executable file"
    exit 1
  fi
  bin=$IAMSTACK_BINARY
else
  : "${ACTION_PATH:?ACTION_PATH must name the action checkout}"
  BIN_DIR=${BIN_DIR:-$HOME/.cache/iamstack-action/bin}
  mkdir -p "$BIN_DIR"
  bin=$BIN_DIR/iamstack
  if [ -x "$bin" ]; then
    echo "iamstack restored from the cache"
  else
    echo "building iamstack from $ACTION_PATH"
    cargo build --release --locked --manifest-path "$ACTION_PATH/Cargo.toml" \
      --target-dir "$BIN_DIR/target" --bin iamstack
    cp "$BIN_DIR/target/release/iamstack" "$bin"
    # Only the binary is cached, not the build tree.
    rm -rf "$BIN_DIR/target"
  fi
fi
"$bin" --version
echo "bin=$bin" >>"$GITHUB_OUTPUT"
