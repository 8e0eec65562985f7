#!/bin/sh
# Entrypoint of the test stand-in image `iamstack-test/postgres:17` (Debian's postgresql-17).
# NOT the official postgres image: it reproduces that image's contract, which is what iamstack and
# its tests rely on:
#   - ENTRYPOINT docker-entrypoint.sh, CMD postgres (a first argument starting with `-` is passed
#     to postgres); any other command is run as is;
#   - PGDATA (default /var/lib/postgresql/data) owned by postgres, mode 0700, ownership of a bind
#     mount fixed; the server runs as the `postgres` user (privileges dropped with setpriv);
#   - on an EMPTY data directory: initdb with POSTGRES_USER (default postgres) as superuser and
#     POSTGRES_PASSWORD as its password, `host all all all scram-sha-256` in pg_hba.conf,
#     listen_addresses='*'; then a TEMPORARY server on the Unix socket only creates POSTGRES_DB
#     (default: the user's name), runs /docker-entrypoint-initdb.d/*.sh|*.sql, and stops; only
#     then does the real server start, so a TCP login succeeds only once the database is ready;
#   - an initialised data directory is used as is: POSTGRES_PASSWORD does not change the stored
#     password.
set -eu

: "${PGDATA:=/var/lib/postgresql/data}"
export PGDATA

log() {
	printf '%s\n' "iamstack-test postgres entrypoint: $*" >&2
}

# `docker run image -c foo=bar` means `postgres -c foo=bar`.
if [ "$#" -eq 0 ] || [ "${1#-}" != "$1" ]; then
	set -- postgres "$@"
fi

if [ "$1" != postgres ]; then
	exec "$@"
fi

# As root: prepare the directories, then re-run this script as the postgres user.
if [ "$(id -u)" = 0 ]; then
	mkdir -p "$PGDATA"
	# A bind-mounted host directory may belong to anyone: postgres must own all of it.
	find "$PGDATA" \! -user postgres -exec chown postgres:postgres '{}' +
	chmod 0700 "$PGDATA" || :
	mkdir -p /var/run/postgresql
	chown postgres:postgres /var/run/postgresql
	chmod 2775 /var/run/postgresql
	HOME=/var/lib/postgresql
	export HOME
	exec setpriv --reuid=postgres --regid=postgres --init-groups "$0" "$@"
fi

if [ ! -s "$PGDATA/PG_VERSION" ]; then
	: "${POSTGRES_USER:=postgres}"
	: "${POSTGRES_DB:=$POSTGRES_USER}"
	: "${POSTGRES_HOST_AUTH_METHOD:=scram-sha-256}"
	if [ -z "${POSTGRES_PASSWORD:-}" ] && [ "$POSTGRES_HOST_AUTH_METHOD" != trust ]; then
		log "error: the database is uninitialized and POSTGRES_PASSWORD is not set;"
		log "set POSTGRES_PASSWORD to a non-empty value (or POSTGRES_HOST_AUTH_METHOD=trust)"
		exit 1
	fi

	log "initialising an empty data directory $PGDATA for user $POSTGRES_USER"
	pwfile="$(mktemp)"
	printf '%s\n' "${POSTGRES_PASSWORD:-}" >"$pwfile"
	# shellcheck disable=SC2086 # POSTGRES_INITDB_ARGS is a word list, as in the official image
	initdb --username="$POSTGRES_USER" --pwfile="$pwfile" ${POSTGRES_INITDB_ARGS:-}
	rm -f "$pwfile"

	printf '\nhost all all all %s\n' "$POSTGRES_HOST_AUTH_METHOD" >>"$PGDATA/pg_hba.conf"
	printf "\nlisten_addresses = '*'\n" >>"$PGDATA/postgresql.conf"

	# The temporary server: Unix socket only, so nobody can log in over TCP before we are done.
	pg_ctl -D "$PGDATA" -o "-c listen_addresses='' -p ${PGPORT:-5432}" -w start

	if [ "$POSTGRES_DB" != postgres ]; then
		psql -v ON_ERROR_STOP=1 --no-password --no-psqlrc --username "$POSTGRES_USER" \
			--dbname postgres --set db="$POSTGRES_DB" <<-'EOSQL'
			CREATE DATABASE :"db" ;
		EOSQL
	fi

	for f in /docker-entrypoint-initdb.d/*; do
		case "$f" in
		*.sh)
			log "running $f"
			if [ -x "$f" ]; then "$f"; else . "$f"; fi
			;;
		*.sql)
			log "running $f"
			psql -v ON_ERROR_STOP=1 --no-password --no-psqlrc --username "$POSTGRES_USER" \
				--dbname "$POSTGRES_DB" -f "$f"
			;;
		*) ;;
		esac
	done

	pg_ctl -D "$PGDATA" -m fast -w stop
	log "PostgreSQL init process complete; ready for start up."
else
	log "PostgreSQL database directory appears to contain a database; skipping initialization"
fi

exec "$@"
