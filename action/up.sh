#!/usr/bin/env bash
# Step of action.yml: `iamstack up` (with `--verify` unless the `verify` input is false), then
# `iamstack env --format github`, so later steps see the OIDC_* variables (and the step's
# outputs), with the secrets masked in the log.
#
# Reads: IAMSTACK_BIN (the binary), and the action's inputs as INPUT_PROJECT, INPUT_REALM,
# INPUT_POSTGRES_IMAGE, INPUT_KEYCLOAK_IMAGE, INPUT_POSTGRES_PORT, INPUT_KEYCLOAK_PORT,
# INPUT_MANAGEMENT_PORT, INPUT_VERIFY. An empty input keeps iamstack's default. Other IAMSTACK_*
# variables of the job (e.g. IAMSTACK_TIMEOUT) reach iamstack as they are.
set -euo pipefail
: "${IAMSTACK_BIN:?IAMSTACK_BIN must name the iamstack binary}"

# An input given becomes the setting's IAMSTACK_* variable, which iamstack reads as its flag.
setting() {
  if [ -n "$2" ]; then
    export "$1=$2"
  fi
}
setting IAMSTACK_PROJECT "${INPUT_PROJECT:-}"
setting IAMSTACK_REALM "${INPUT_REALM:-}"
setting IAMSTACK_POSTGRES_IMAGE "${INPUT_POSTGRES_IMAGE:-}"
setting IAMSTACK_KEYCLOAK_IMAGE "${INPUT_KEYCLOAK_IMAGE:-}"
setting IAMSTACK_POSTGRES_PORT "${INPUT_POSTGRES_PORT:-}"
setting IAMSTACK_KEYCLOAK_PORT "${INPUT_KEYCLOAK_PORT:-}"
setting IAMSTACK_MANAGEMENT_PORT "${INPUT_MANAGEMENT_PORT:-}"

case "${INPUT_VERIFY:-true}" in
  true) verify=(--verify) ;;
  false) verify=() ;;
  *)
    echo "::error::the verify input is \`$INPUT_VERIFY\`; use true or false"
    exit 2
    ;;
esac

"$IAMSTACK_BIN" --output plain up "${verify[@]}"
"$IAMSTACK_BIN" --output plain env --format github
