#!/usr/bin/env bash
# A throwaway PostgreSQL server from Debian's packages, for the feedback store's tests: its data, unix socket
# and log all live in DIR, and it listens on no TCP port, so servers of parallel tests never collide.
#   postgres_server.sh start DIR   prints the admin URL (database "postgres", user "mimir", trust auth)
#   postgres_server.sh stop DIR    stops it at once and removes DIR
# Exits 77 with the reason on stderr when the server binaries are not installed (tests then skip).
# PostgreSQL refuses to run as root: as root (CI), the server runs as the `postgres` user (or nobody).
set -euo pipefail
action="${1:?start|stop}"; dir="${2:?DIR}"
bin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)"
if [[ -z "$bin" || ! -x "$bin/initdb" || ! -x "$bin/pg_ctl" ]]; then
  echo "PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin (apt-get install postgresql)" >&2
  exit 77
fi
as_owner=()
if [[ $(id -u) -eq 0 ]]; then
  owner=postgres
  id -u "$owner" >/dev/null 2>&1 || owner=nobody
  as_owner=(runuser -u "$owner" --)
fi
case "$action" in
  start)
    mkdir -p "$dir"
    [[ ${#as_owner[@]} -eq 0 ]] || chown "$owner" "$dir"
    "${as_owner[@]}" "$bin/initdb" -D "$dir/data" -A trust -U mimir -E UTF8 --no-sync >"$dir/initdb.log" 2>&1 \
      || { echo "initdb failed:" >&2; cat "$dir/initdb.log" >&2; exit 1; }
    # fsync off: these servers hold test data only; what the tests check is Mimir's own commits.
    "${as_owner[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
      -o "-p 5432 -k $dir -c listen_addresses= -c fsync=off" start >/dev/null \
      || { echo "pg_ctl start failed:" >&2; cat "$dir/server.log" >&2; exit 1; }
    echo "postgresql://mimir@/postgres?host=$dir&port=5432"
    ;;
  stop)
    [[ -d "$dir/data" ]] && "${as_owner[@]}" "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
    rm -rf "$dir"
    ;;
  *) echo "usage: $0 start|stop DIR" >&2; exit 2 ;;
esac
