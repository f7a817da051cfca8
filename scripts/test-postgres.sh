#!/usr/bin/env bash
# Starts the machine's PostgreSQL cluster (Debian's pg_ctlcluster) and makes sure a `sotay` role
# exists that may create one database per test. Prints the admin URL for SOTAY_TEST_DATABASE_URL.
set -euo pipefail
version=$(ls /usr/lib/postgresql 2>/dev/null | sort -n | tail -1)
[ -n "$version" ] || { echo "PostgreSQL is not installed" >&2; exit 1; }
sudo_cmd=()
[ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
if ! pg_lsclusters -h | awk '{print $4}' | grep -q online; then
  "${sudo_cmd[@]}" pg_ctlcluster "$version" main start >&2
fi
"${sudo_cmd[@]}" su postgres -c "psql -qtAc \"SELECT 1 FROM pg_roles WHERE rolname = 'sotay'\"" | grep -q 1 ||
  "${sudo_cmd[@]}" su postgres -c "psql -qc \"CREATE ROLE sotay LOGIN CREATEDB PASSWORD 'sotay'\"" >&2
# Each test and benchmark makes a database of its own and leaves it behind (a failed test's data
# can be looked at). Those of earlier runs are dropped here, before this run's tests start:
# otherwise they pile up run after run (2,000 databases and 17 GB were seen on a CI machine).
export PGPASSWORD=sotay
psql -h 127.0.0.1 -U sotay -d postgres -qtAc \
  "SELECT format('DROP DATABASE %I WITH (FORCE);', datname) FROM pg_database
   WHERE datname ~ '^sotay_(test|bench)_'" |
  psql -h 127.0.0.1 -U sotay -d postgres -q >&2
echo "postgres://sotay:sotay@127.0.0.1/postgres"
