# Private PostgreSQL clusters for make run (var/pg) and make test (a temp dir).
# Sourced by deploy/run.sh and tests/run.sh. PostgreSQL refuses to run as
# root, so as root the cluster belongs to the unprivileged user "postgres".
# Only a unix socket inside the cluster directory is opened: no TCP port.
# PG_INITDB_OPTS (e.g. --no-sync for throwaway clusters) and PG_EXTRA_OPTS
# (server -c settings) tune them.

PG_BINDIR=${PG_BINDIR:-$(pg_config --bindir 2>/dev/null)}
[ -x "$PG_BINDIR/initdb" ] || PG_BINDIR=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)

pg_as_owner() {
	if [ "$(id -u)" = 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

pg_owner() {
	if [ "$(id -u)" = 0 ]; then echo postgres; else id -un; fi
}

# pg_start DIR: creates the cluster on first use, starts it, waits until ready.
pg_start() {
	local dir=$1
	mkdir -p "$dir"
	if [ "$(id -u)" = 0 ]; then
		id postgres >/dev/null 2>&1 || useradd --system --home-dir /var/lib/postgresql postgres
		chown postgres "$dir"
		# Every directory above the cluster must be searchable by its owner.
		local d; d=$(cd "$dir" && pwd)
		while [ "$d" != / ]; do d=$(dirname "$d"); chmod o+x "$d" 2>/dev/null || true; done
	fi
	chmod 700 "$dir"
	if [ ! -f "$dir/data/PG_VERSION" ]; then
		pg_as_owner "$PG_BINDIR/initdb" -D "$dir/data" --auth=trust --encoding=UTF8 \
			--locale=C.UTF-8 -U "$(pg_owner)" ${PG_INITDB_OPTS:-} >"$dir/initdb.log" 2>&1 ||
			{ cat "$dir/initdb.log" >&2; return 1; }
	fi
	if ! pg_as_owner "$PG_BINDIR/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
		pg_as_owner "$PG_BINDIR/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w -t 60 \
			-o "-c listen_addresses='' -c unix_socket_directories='$dir' -c max_connections=200 ${PG_EXTRA_OPTS:-}" \
			start >/dev/null || { tail -20 "$dir/postgres.log" >&2; return 1; }
	fi
	PG_SOCKDIR=$dir
	export PG_SOCKDIR
}

pg_stop() {
	local dir=$1
	[ -f "$dir/data/PG_VERSION" ] || return 0
	pg_as_owner "$PG_BINDIR/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
}

# pg_conninfo DIR DBNAME
pg_conninfo() {
	echo "host=$1 dbname=$2 user=$(pg_owner)"
}

# pg_createdb DIR DBNAME: a fresh, empty database.
pg_createdb() {
	PGOPTIONS='-c client_min_messages=warning' psql -X -q -h "$1" -U "$(pg_owner)" -d postgres -v ON_ERROR_STOP=1 \
		-c "DROP DATABASE IF EXISTS \"$2\" WITH (FORCE)" -c "CREATE DATABASE \"$2\"" >/dev/null
}
