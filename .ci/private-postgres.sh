# Sourced by .ci/run and Benchmarks/run.sh (bash). start_private_postgres starts a private PostgreSQL
# cluster: initdb into a fresh temporary directory, as the `postgres` user when run as root
# (PostgreSQL refuses to run as root), listening on a free loopback port only (no Unix socket), with
# password (scram-sha-256) authentication for a superuser `shiftgate_ci` with a random password.
# It sets PRIVATE_POSTGRES_URL and PRIVATE_POSTGRES_PASSWORD; stop_private_postgres stops the
# cluster and removes its directory. Nothing here suits production: fsync is off.

start_private_postgres() {
  local bin
  bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  if [ -z "$bin" ] || [ ! -x "$bin/initdb" ]; then
    echo "no PostgreSQL server binaries in /usr/lib/postgresql/*/bin (apt-get install -y postgresql)" >&2
    return 1
  fi
  PRIVATE_POSTGRES_BIN=$bin
  PRIVATE_POSTGRES_DIR=$(mktemp -d /tmp/shiftgate-private-postgres.XXXXXX)
  PRIVATE_POSTGRES_AS=()
  if [ "$(id -u)" = 0 ]; then
    chown postgres "$PRIVATE_POSTGRES_DIR"
    PRIVATE_POSTGRES_AS=(runuser -u postgres --)
  fi
  local port=54329
  while (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do port=$((port + 1)); done
  PRIVATE_POSTGRES_PASSWORD=$(head -c 24 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')
  (umask 077; printf '%s\n' "$PRIVATE_POSTGRES_PASSWORD" > "$PRIVATE_POSTGRES_DIR/password")
  [ ${#PRIVATE_POSTGRES_AS[@]} -eq 0 ] || chown postgres "$PRIVATE_POSTGRES_DIR/password"
  "${PRIVATE_POSTGRES_AS[@]}" "$bin/initdb" -D "$PRIVATE_POSTGRES_DIR/data" -U shiftgate_ci --pwfile="$PRIVATE_POSTGRES_DIR/password" \
    --auth=scram-sha-256 --encoding=UTF8 --locale=C.UTF-8 >/dev/null
  "${PRIVATE_POSTGRES_AS[@]}" "$bin/pg_ctl" -D "$PRIVATE_POSTGRES_DIR/data" -l "$PRIVATE_POSTGRES_DIR/server.log" -w -t 60 start \
    -o "-c listen_addresses=127.0.0.1 -p $port -c unix_socket_directories= -c max_connections=300 -c fsync=off" >/dev/null
  PRIVATE_POSTGRES_URL="postgres://shiftgate_ci@127.0.0.1:$port/postgres?sslmode=disable"
  echo "private PostgreSQL $("$bin/postgres" --version | awk '{print $3}') on 127.0.0.1:$port ($PRIVATE_POSTGRES_DIR)" >&2
}

stop_private_postgres() {
  [ -n "${PRIVATE_POSTGRES_DIR:-}" ] || return 0
  "${PRIVATE_POSTGRES_AS[@]}" "$PRIVATE_POSTGRES_BIN/pg_ctl" -D "$PRIVATE_POSTGRES_DIR/data" -m fast -w stop >/dev/null 2>&1 || true
  rm -rf "$PRIVATE_POSTGRES_DIR"
  PRIVATE_POSTGRES_DIR=
}
