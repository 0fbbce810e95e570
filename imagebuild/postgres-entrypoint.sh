#!/usr/bin/env bash
# The walkthrough's postgres images' entrypoint (/usr/local/bin/docker-entrypoint.sh): the
# basics of the official image's, for Debian's own packages.
#
#   POSTGRES_PASSWORD   the superuser's password (required unless POSTGRES_HOST_AUTH_METHOD=trust)
#   POSTGRES_USER       the superuser (default postgres)
#   POSTGRES_DB         a database created on first start (default $POSTGRES_USER)
#   POSTGRES_INITDB_ARGS, POSTGRES_HOST_AUTH_METHOD; *_FILE variants read the value from a file.
#
# On first start (no $PGDATA/PG_VERSION) it runs initdb, lets every host in with a password,
# creates the database and runs /docker-entrypoint-initdb.d/*.sh|*.sql; then it execs postgres,
# as the postgres user, as the container's pid 1: logs go to stderr, SIGINT/SIGTERM shut it down.
set -Eeo pipefail

# file_env VAR [DEFAULT]: VAR from $VAR or from the file named by $VAR_FILE.
file_env() {
	local var="$1" file_var="${1}_FILE" def="${2:-}"
	if [ "${!var:-}" ] && [ "${!file_var:-}" ]; then
		echo >&2 "error: both $var and $file_var are set (but are exclusive)"
		exit 1
	fi
	local val="$def"
	if [ "${!var:-}" ]; then
		val="${!var}"
	elif [ "${!file_var:-}" ]; then
		val="$(< "${!file_var}")"
	fi
	export "$var"="$val"
	unset "$file_var"
}

setup_env() {
	file_env POSTGRES_PASSWORD
	file_env POSTGRES_USER postgres
	file_env POSTGRES_DB "$POSTGRES_USER"
	file_env POSTGRES_INITDB_ARGS
	: "${POSTGRES_HOST_AUTH_METHOD:=}"
	DATABASE_ALREADY_EXISTS=
	if [ -s "$PGDATA/PG_VERSION" ]; then
		DATABASE_ALREADY_EXISTS=true
	fi
}

create_db_directories() {
	mkdir -p "$PGDATA"
	chmod 00700 "$PGDATA" || :
	mkdir -p /var/run/postgresql
	chmod 03775 /var/run/postgresql || :
	if [ "$(id -u)" = 0 ]; then
		find "$PGDATA" \! -user postgres -exec chown postgres '{}' +
		find /var/run/postgresql \! -user postgres -exec chown postgres '{}' +
	fi
}

verify_minimum_env() {
	if [ -z "$POSTGRES_PASSWORD" ] && [ "$POSTGRES_HOST_AUTH_METHOD" != trust ]; then
		cat >&2 <<-'EOE'
			Error: Database is uninitialized and superuser password is not specified.
			       You must specify POSTGRES_PASSWORD to a non-empty value for the
			       superuser. For example, "-e POSTGRES_PASSWORD=password" on "docker run".

			       You may also use "POSTGRES_HOST_AUTH_METHOD=trust" to allow all
			       connections without a password. This is *not* recommended.
		EOE
		exit 1
	fi
}

init_database_dir() {
	# shellcheck disable=SC2086  # POSTGRES_INITDB_ARGS is a list of words
	initdb --username="$POSTGRES_USER" --pwfile=<(printf '%s\n' "$POSTGRES_PASSWORD") \
		$POSTGRES_INITDB_ARGS
}

setup_hba_conf() {
	local auth="$POSTGRES_HOST_AUTH_METHOD"
	if [ -z "$auth" ]; then
		# What the server hashes passwords with: scram-sha-256 from 14 on, md5 before.
		auth="$(postgres -C password_encryption -D "$PGDATA")"
	fi
	{
		printf '\n'
		if [ "$auth" = trust ]; then
			printf '# warning trust is enabled for all connections\n'
		fi
		printf 'host all all all %s\n' "$auth"
	} >> "$PGDATA/pg_hba.conf"
}

psql_as_superuser() {
	PGPASSWORD="$POSTGRES_PASSWORD" psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" \
		--no-password --no-psqlrc "$@"
}

setup_db() {
	local exists
	exists="$(psql_as_superuser --dbname postgres --set db="$POSTGRES_DB" --tuples-only <<-'EOSQL'
		SELECT 1 FROM pg_database WHERE datname = :'db' ;
	EOSQL
	)"
	if [ -z "$exists" ]; then
		psql_as_superuser --dbname postgres --set db="$POSTGRES_DB" <<-'EOSQL'
			CREATE DATABASE :"db" ;
		EOSQL
		printf '\n'
	fi
}

process_init_files() {
	local f files
	shopt -s nullglob
	files=(/docker-entrypoint-initdb.d/*)
	shopt -u nullglob
	for f in "${files[@]}"; do
		case "$f" in
			*.sh) echo "$0: running $f"; . "$f" ;;
			*.sql) echo "$0: running $f"; psql_as_superuser --dbname "$POSTGRES_DB" -f "$f"; printf '\n' ;;
			*.sql.gz) echo "$0: running $f"; gunzip -c "$f" | psql_as_superuser --dbname "$POSTGRES_DB"; printf '\n' ;;
			*) echo "$0: ignoring $f" ;;
		esac
	done
}

temp_server_start() {
	# Only the unix socket while initialising: nothing outside sees a half-made database.
	PGUSER="$POSTGRES_USER" pg_ctl -D "$PGDATA" -o "-c listen_addresses='' -p 5432" -w start
}

temp_server_stop() {
	PGUSER="$POSTGRES_USER" pg_ctl -D "$PGDATA" -m fast -w stop
}

# True when postgres is asked to print something (--version, --help, -C...) rather than serve.
wants_help() {
	local arg
	for arg; do
		case "$arg" in
			-'?' | --help | --describe-config | -V | --version) return 0 ;;
		esac
	done
	return 1
}

main() {
	# `docker run postgres -c max_connections=200` means postgres with those flags.
	if [ "${1:0:1}" = '-' ]; then
		set -- postgres "$@"
	fi
	if [ "$1" = postgres ] && ! wants_help "$@"; then
		setup_env
		create_db_directories
		if [ "$(id -u)" = 0 ]; then
			# Start again as postgres (setpriv execs: no process stays behind as root).
			export HOME=/var/lib/postgresql
			exec setpriv --reuid=postgres --regid=postgres --init-groups "${BASH_SOURCE[0]}" "$@"
		fi
		if [ -z "$DATABASE_ALREADY_EXISTS" ]; then
			verify_minimum_env
			init_database_dir
			setup_hba_conf
			export PGPASSWORD="$POSTGRES_PASSWORD"
			temp_server_start
			setup_db
			process_init_files
			temp_server_stop
			unset PGPASSWORD
			printf '\nPostgreSQL init process complete; ready for start up.\n\n'
		else
			printf '\nPostgreSQL Database directory appears to contain a database; Skipping initialization\n\n'
		fi
	fi
	exec "$@"
}

main "$@"
