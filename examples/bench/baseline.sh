#!/usr/bin/env bash
# The benchmark's baseline: what a user writes instead of `iamstack up`, by hand, with only the
# `docker` CLI and `curl` (docs/reference-setup.md's steps, plus KC_HEALTH_ENABLED=true so that
# readiness can be read). It ends when the realm `testing` (realm/testing.yaml: the confidential
# client `test-client` with service accounts, the user `test-user`) exists and answers.
#
#     examples/bench/baseline.sh PROJECT LABEL [POSTGRES_IMAGE] [KEYCLOAK_IMAGE]
#
# Every object is named after PROJECT and carries LABEL (`key=value`); ports are published on
# 127.0.0.1, chosen by the engine and read back with `docker port`. It removes nothing: the
# benchmark (examples/bench.rs) times it, then removes what carries LABEL.
set -euo pipefail

project=${1:?usage: baseline.sh PROJECT LABEL [POSTGRES_IMAGE] [KEYCLOAK_IMAGE]}
label=${2:?usage: baseline.sh PROJECT LABEL [POSTGRES_IMAGE] [KEYCLOAK_IMAGE]}
postgres_image=${3:-postgres:17.4}
keycloak_image=${4:-keycloak/keycloak:26.2}
timeout=${BASELINE_TIMEOUT:-300}

network="$project-net"
volume="$project-pgdata"
postgres="$project-postgres"
keycloak="$project-keycloak"
db_password="keycloak\$123"
admin_password="kc_admin\$123"
client_secret='g9YAmxsqegIvI1c4Bxsn3z949vcGsIf6'

say() { echo "baseline: $*" >&2; }

# Poll once a second until "$@" succeeds, for at most $timeout seconds.
wait_for() {
  local what=$1 deadline=$((SECONDS + timeout))
  shift
  until "$@" >/dev/null 2>&1; do
    if ((SECONDS >= deadline)); then
      say "$what: not ready after ${timeout} s"
      return 1
    fi
    sleep 1
  done
  say "$what: ready after $SECONDS s"
}

# The host port the engine published for a container port (`docker port` prints 127.0.0.1:PORT).
host_port() {
  local mapping
  mapping=$(docker port "$1" "$2/tcp" | head -n 1)
  echo "${mapping##*:}"
}

docker network create --label "$label" "$network" >/dev/null
docker volume create --label "$label" "$volume" >/dev/null

docker run -d --name "$postgres" --label "$label" \
  --network "$network" --network-alias postgres \
  -e POSTGRES_DB=keycloak -e POSTGRES_USER=keycloak -e "POSTGRES_PASSWORD=$db_password" \
  -v "$volume:/var/lib/postgresql/data" \
  -p 127.0.0.1::5432 \
  "$postgres_image" >/dev/null

# Keycloak exits when its database does not answer, so wait for Postgres first. Over TCP: the
# official image's first, temporary server listens on the Unix socket only.
wait_for postgres docker exec "$postgres" pg_isready -h 127.0.0.1 -U keycloak -d keycloak

docker run -d --name "$keycloak" --label "$label" \
  --network "$network" --network-alias keycloak \
  -e KC_DB=postgres \
  -e KC_DB_URL=jdbc:postgresql://postgres:5432/keycloak \
  -e KC_DB_URL_HOST=postgres -e KC_DB_URL_PORT=5432 \
  -e KC_DB_USERNAME=keycloak -e "KC_DB_PASSWORD=$db_password" \
  -e KC_BOOTSTRAP_ADMIN_USERNAME=admin -e "KC_BOOTSTRAP_ADMIN_PASSWORD=$admin_password" \
  -e KC_HTTP_ENABLED=true -e KC_HOSTNAME=localhost \
  -e KC_HEALTH_ENABLED=true \
  -p 127.0.0.1::8080 -p 127.0.0.1::9000 \
  "$keycloak_image" start >/dev/null

http_port=$(host_port "$keycloak" 8080)
management_port=$(host_port "$keycloak" 9000)
base="http://127.0.0.1:$http_port"

ready() { curl -fsS "http://127.0.0.1:$management_port/health/ready" | grep -q '"UP"'; }
wait_for keycloak ready

token=$(curl -fsS "$base/realms/master/protocol/openid-connect/token" \
  -d grant_type=password -d client_id=admin-cli -d username=admin \
  --data-urlencode "password=$admin_password" |
  sed -n 's/.*"access_token":"\([^"]*\)".*/\1/p')
if [[ -z $token ]]; then
  say "no admin token"
  exit 1
fi

# realm/testing.yaml as one realm representation: the realm, its client and its user at once.
curl -fsS -X POST "$base/admin/realms" \
  -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
  --data-binary @- <<JSON
{
  "realm": "testing",
  "displayName": "Testing",
  "enabled": true,
  "clients": [{
    "clientId": "test-client",
    "name": "Test Client",
    "protocol": "openid-connect",
    "enabled": true,
    "publicClient": false,
    "clientAuthenticatorType": "client-secret",
    "secret": "$client_secret",
    "standardFlowEnabled": true,
    "directAccessGrantsEnabled": true,
    "serviceAccountsEnabled": true,
    "implicitFlowEnabled": false,
    "rootUrl": "http://localhost:5000/",
    "redirectUris": ["http://localhost:5000/*"],
    "webOrigins": ["http://localhost:5000"],
    "attributes": {"post.logout.redirect.uris": "http://localhost:5000/*"}
  }],
  "users": [{
    "username": "test-user",
    "email": "test-user@localhost",
    "firstName": "Test",
    "lastName": "User",
    "emailVerified": true,
    "enabled": true,
    "credentials": [{"type": "password", "value": "test-user\$123", "temporary": false}]
  }]
}
JSON

# The realm answers.
curl -fsS "$base/realms/testing/.well-known/openid-configuration" | grep -q '"issuer"'
say "realm testing provisioned at $base (project $project)"
echo "$base"
