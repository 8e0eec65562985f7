#!/usr/bin/env bash
# Step of action.yml: `iamstack up` (with `--verify` unless the `verify` input is false), then
# `iamstack env --format github`, so later steps see the OIDC_* variables (and the step's
# outputs), with the secrets masked in the log.
#
# Reads: IAMSTACK_BIN (the binary), and the action's inputs as INPUT_PROJECT, INPUT_REALM,
# INPUT_POSTGRES_IMAGE, INPUT_KEYCLOAK_IMAGE, INPUT_POSTGRES_PORT, INPUT_KEYCLOAK_PORT,
# INPUT_MANAGEMENT_PORT, INPUT_EPHEMERAL, INPUT_FROM_SNAPSHOT, INPUT_VERIFY. An empty input keeps
# iamstack's default. Other IAMSTACK_*
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
setting IAMSTACK_FROM_SNAPSHOT "${INPUT_FROM_SNAPSHOT:-}"

# A true/false input, refused before anything runs when it is neither.
boolean() {
  case "$2" in
    true | false) ;;
    *)
      echo "::error::the $1 input is \`$2\`; use true or false"
      exit 2
      ;;
  esac
}
boolean ephemeral "${INPUT_EPHEMERAL:-false}"
if [ "${INPUT_EPHEMERAL:-false}" = true ]; then
  export IAMSTACK_EPHEMERAL=true
fi

boolean verify "${INPUT_VERIFY:-true}"
verify=()
if [ "${INPUT_VERIFY:-true}" = true ]; then
  verify=(--verify)
fi

"$IAMSTACK_BIN" --output plain up "${verify[@]}"
"$IAMSTACK_BIN" --output plain env --format github
