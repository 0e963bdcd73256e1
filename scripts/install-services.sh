#!/usr/bin/env bash
# Installs the servers `npm run test:services` starts: PostgreSQL, MariaDB, Redis and RabbitMQ from
# Debian's packages. The tests start their own instances in temporary directories on free ports;
# the instances the packages may start as system services are not used.
set -euo pipefail

needed=()
command -v initdb >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || needed+=(postgresql)
command -v mariadbd >/dev/null 2>&1 || needed+=(mariadb-server)
command -v redis-server >/dev/null 2>&1 || needed+=(redis-server)
[ -x /usr/lib/rabbitmq/bin/rabbitmq-server ] || needed+=(rabbitmq-server)

if [ ${#needed[@]} -eq 0 ]; then
  echo "install-services: PostgreSQL, MariaDB, Redis and RabbitMQ are installed"
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "install-services: missing ${needed[*]}; run as root: apt-get install -y ${needed[*]}" >&2
  exit 1
fi
# No system service may start on install (a container has no init; the tests run their own).
policy=/usr/sbin/policy-rc.d
created_policy=
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' > "$policy"
  chmod +x "$policy"
  created_policy=1
fi
trap '[ -n "$created_policy" ] && rm -f "$policy"' EXIT
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${needed[@]}" >/dev/null
echo "install-services: installed ${needed[*]}"
