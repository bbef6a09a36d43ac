#!/usr/bin/env bash
# Make sure the PostgreSQL and RabbitMQ that the test suite and benchmarks use are running on
# this machine (start them when installed but stopped, install them with apt when absent),
# and that the tools the suite calls are installed.
set -euo pipefail

log() { printf 'ensure-services: %s\n' "$*"; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
apt_updated=0
apt_install() {
  if [ "$apt_updated" = 0 ]; then as_root apt-get update -qq; apt_updated=1; fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@"
}

ensure_postgres() {
  if port_open 5432; then log "PostgreSQL is up"; return; fi
  if ! ls /etc/postgresql/*/main >/dev/null 2>&1; then
    log "PostgreSQL is not installed: installing"
    apt_install postgresql
  fi
  local ver; ver=$(ls /etc/postgresql | sort -V | tail -n1)
  local hba="/etc/postgresql/$ver/main/pg_hba.conf"
  # The suite connects as postgres over TCP without a password (a throwaway local server).
  if ! grep -qE '^host\s+all\s+all\s+127\.0\.0\.1/32\s+trust' "$hba"; then
    log "allowing trust auth on 127.0.0.1 in $hba"
    as_root sed -i '1i host all all 127.0.0.1/32 trust\nhost all all ::1/128 trust' "$hba"
  fi
  log "starting PostgreSQL $ver"
  as_root pg_ctlcluster --skip-systemctl-redirect "$ver" main start || true
  for _ in $(seq 1 60); do port_open 5432 && break; sleep 0.5; done
  port_open 5432 || { log "PostgreSQL did not start"; exit 1; }
}

ensure_rabbitmq() {
  if port_open 5672 && rabbitmqctl -q status >/dev/null 2>&1; then log "RabbitMQ is up"; return; fi
  if ! command -v rabbitmq-server >/dev/null 2>&1; then
    log "RabbitMQ is not installed: installing"
    apt_install rabbitmq-server
  fi
  if ! port_open 5672; then
    log "starting RabbitMQ"
    as_root rabbitmq-server -detached || true
  fi
  # start_app covers a node left running with its application stopped
  for _ in $(seq 1 120); do
    rabbitmqctl -q await_startup >/dev/null 2>&1 && break
    rabbitmqctl -q start_app >/dev/null 2>&1 || true
    sleep 0.5
  done
  rabbitmqctl -q await_startup >/dev/null 2>&1 || { log "RabbitMQ did not start"; exit 1; }
  for _ in $(seq 1 40); do port_open 5672 && break; sleep 0.25; done
  log "RabbitMQ is up"
}

ensure_tools() {
  # docker-compose validates compose.yaml in the suite (no container engine needed)
  if ! command -v docker-compose >/dev/null 2>&1; then
    log "installing docker-compose (used to validate compose.yaml)"
    apt_install docker-compose
  fi
  # javax.annotation.Generated for compiling the Java SDK (make sdk-java, its test)
  if [ ! -f /usr/share/java/geronimo-annotation-1.3-spec.jar ]; then
    log "installing libgeronimo-annotation-1.3-spec-java (used to build the Java SDK)"
    apt_install libgeronimo-annotation-1.3-spec-java
  fi
  # HTTP load generator of zcloud bench api
  if ! command -v wrk >/dev/null 2>&1; then
    log "installing wrk (the load generator of zcloud bench api)"
    apt_install wrk
  fi
}

ensure_postgres
ensure_rabbitmq
ensure_tools
