#!/usr/bin/env bash
# pg.sh - a private PostgreSQL for the tests: the PostgreSQL ledger's tests,
# the HTTP tests in PostgreSQL mode and the multi-server tests all run
# against one this script starts in a folder of its own (CTest's fixture
# "pg", tests/CMakeLists.txt, does it in ${CMAKE_BINARY_DIR}/pg).
#
#   pg.sh start DIR        a fresh cluster in DIR (initdb), started on a free
#                          port on 127.0.0.1 and a socket in DIR; writes and
#                          prints DIR/url: postgresql://charter@127.0.0.1:PORT/postgres
#                          (superuser "charter", trust on loopback). Already
#                          running in DIR: prints its url.
#   pg.sh stop DIR         stops it (fast, then immediate); nothing running: ok
#   pg.sh url DIR          prints the url
#   pg.sh createdb DIR NAME  creates database NAME, prints its url
#   pg.sh immediate DIR    stops it abruptly (-m immediate: a crash, as far
#                          as the clients and the WAL are concerned)
#   pg.sh restart DIR      starts it again, same data, same port
#
# PostgreSQL refuses to run as root: as root, DIR belongs to the user
# "postgres" (Debian's package makes it) and the server's binaries run
# through `runuser -u postgres --`; as anyone else, as that user. The
# binaries are the newest /usr/lib/postgresql/*/bin (or $PG_BIN). With
# CHARTER_TEST_PG=skip and no binaries, start says so and succeeds without a
# server (the tests then skip, exit 77). Every wait is bounded.
set -euo pipefail

die() { echo "pg.sh: $*" >&2; exit 1; }

cmd=${1:-}
dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || die "usage: pg.sh start|stop|url|createdb|immediate|restart DIR [NAME]"
case "$dir" in /*) ;; *) dir="$PWD/$dir" ;; esac

bin=${PG_BIN:-}
if [ -z "$bin" ]; then
  for b in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V); do bin=$b; done
fi
have_bin() { [ -n "$bin" ] && [ -x "$bin/pg_ctl" ] && [ -x "$bin/initdb" ]; }

as_pg=()
if [ "$(id -u)" = 0 ]; then
  id postgres >/dev/null 2>&1 || die "running as root needs the user 'postgres' (Debian's postgresql package makes it)"
  as_pg=(runuser -u postgres --)
fi
# The server's tools, run as the server's user from a folder it can read.
pgrun() { (cd "$dir" && "${as_pg[@]}" "$@"); }

data="$dir/data"
port() { cat "$dir/port" 2>/dev/null || true; }
url_of() { echo "postgresql://charter@127.0.0.1:$(port)/$1"; }

running() {
  [ -f "$data/PG_VERSION" ] && pgrun "$bin/pg_ctl" -D "$data" status >/dev/null 2>&1
}

# Until the server accepts connections, at most 30 s.
wait_ready() {
  local i
  for i in $(seq 1 120); do
    if "$bin/pg_isready" -q -h 127.0.0.1 -p "$(port)" -U charter -d postgres -t 2; then
      return 0
    fi
    running || return 1
    sleep 0.25
  done
  return 1
}

free_port() {
  local p
  p=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null) ||
    p=$((20000 + RANDOM % 30000))
  echo "$p"
}

server_start() {
  pgrun "$bin/pg_ctl" -D "$data" -l "$dir/log" -w -t 60 start >/dev/null
}

do_start() {
  if ! have_bin; then
    if [ "${CHARTER_TEST_PG:-}" = skip ]; then
      echo "pg.sh: no PostgreSQL binaries (/usr/lib/postgresql/*/bin); CHARTER_TEST_PG=skip: the PostgreSQL tests skip"
      rm -f "$dir/url"
      exit 0
    fi
    die "no PostgreSQL binaries in /usr/lib/postgresql/*/bin (Debian: apt-get install postgresql; or set CHARTER_TEST_PG=skip to skip these tests)"
  fi
  if running; then
    wait_ready || die "the server in $dir does not accept connections (see $dir/log)"
    cat "$dir/url"
    return
  fi
  # Only a folder of ours (or an empty one) is wiped for the fresh cluster.
  if [ -e "$dir" ]; then
    [ -f "$dir/port" ] || [ -f "$dir/initdb.log" ] || [ -z "$(ls -A "$dir")" ] ||
      die "$dir exists and is not a folder pg.sh made: expected a new or empty folder"
    rm -rf "$dir"
  fi
  mkdir -p "$dir"
  if [ ${#as_pg[@]} -gt 0 ]; then
    chown postgres: "$dir"
    "${as_pg[@]}" test -x "$dir" ||
      die "the user postgres cannot reach $dir: every folder above it must be searchable by others (chmod o+x)"
  fi
  chmod 700 "$dir"
  pgrun "$bin/initdb" -D "$data" -U charter -A trust -E UTF8 --no-locale --no-sync \
    >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; die "initdb failed"; }
  local sock="$dir"
  [ ${#sock} -le 90 ] || sock=""  # a socket path longer than 107 bytes is refused
  local try p
  for try in 1 2 3 4 5; do
    p=$(free_port)
    cat >"$dir/settings.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $p
unix_socket_directories = '$sock'
fsync = on
synchronous_commit = on
max_connections = 300
shared_buffers = 32MB
CONF
    [ ${#as_pg[@]} -eq 0 ] || chown postgres: "$dir/settings.conf"
    grep -qF "include '$dir/settings.conf'" "$data/postgresql.conf" ||
      echo "include '$dir/settings.conf'" | pgrun tee -a "$data/postgresql.conf" >/dev/null
    echo "$p" >"$dir/port"
    if server_start && wait_ready; then
      url_of postgres >"$dir/url"
      cat "$dir/url"
      return
    fi
    # Most likely someone took the port meanwhile: another one.
    pgrun "$bin/pg_ctl" -D "$data" -m immediate -w -t 20 stop >/dev/null 2>&1 || true
  done
  tail -n 20 "$dir/log" >&2 || true
  die "cannot start PostgreSQL in $dir (see $dir/log)"
}

do_stop() {
  have_bin || exit 0
  [ -f "$data/PG_VERSION" ] || exit 0
  running || exit 0
  pgrun "$bin/pg_ctl" -D "$data" -m fast -w -t 30 stop >/dev/null 2>&1 ||
    pgrun "$bin/pg_ctl" -D "$data" -m immediate -w -t 30 stop >/dev/null ||
    die "cannot stop PostgreSQL in $dir"
}

case "$cmd" in
  start) do_start ;;
  stop) do_stop ;;
  url)
    [ -f "$dir/url" ] || die "no PostgreSQL started in $dir (pg.sh start $dir)"
    cat "$dir/url" ;;
  createdb)
    name=${3:-}
    [[ "$name" =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] || die "createdb: expected a database name of letters, digits and _, found '$name'"
    [ -f "$dir/url" ] || die "no PostgreSQL started in $dir (pg.sh start $dir)"
    "$bin/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$(port)" -U charter -d postgres \
      -c "CREATE DATABASE $name" >/dev/null || die "createdb: cannot create '$name'"
    url_of "$name" ;;
  immediate)
    running || die "no PostgreSQL running in $dir"
    pgrun "$bin/pg_ctl" -D "$data" -m immediate -w -t 30 stop >/dev/null ;;
  restart)
    [ -f "$data/PG_VERSION" ] || die "no PostgreSQL cluster in $dir (pg.sh start $dir)"
    running || server_start || die "cannot restart PostgreSQL in $dir (see $dir/log)"
    wait_ready || die "the server in $dir does not accept connections (see $dir/log)"
    cat "$dir/url" ;;
  *) die "unknown command '$cmd': expected start, stop, url, createdb, immediate or restart" ;;
esac
