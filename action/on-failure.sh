#!/usr/bin/env bash
# Step of action.yml, run only when an earlier step failed: what a person needs to see why.
# `iamstack status` (each service's state, readiness, image, ports), then the last lines of each
# container's log.
#
# Reads: IAMSTACK_BIN (may be empty when the build failed), INPUT_PROJECT (empty: `iam`).
# Never fails itself: the job has already failed.
set -uo pipefail
project=${INPUT_PROJECT:-iam}
export IAMSTACK_PROJECT=$project

echo "::group::iamstack status (project $project)"
if [ -n "${IAMSTACK_BIN:-}" ] && [ -x "$IAMSTACK_BIN" ]; then
  "$IAMSTACK_BIN" --output plain status
else
  echo "no iamstack binary (the build failed?)"
fi
echo "::endgroup::"

for role in postgres keycloak; do
  container=$project-$role
  echo "::group::last 100 log lines of $container"
  docker logs --tail 100 "$container" 2>&1 || echo "no container $container"
  echo "::endgroup::"
done
exit 0
