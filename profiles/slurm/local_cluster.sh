#!/usr/bin/env bash
# local_cluster.sh: a single-node SLURM 22.05 cluster on this Debian machine, to try
# profiles/slurm and to test it (make test-cluster). Run as root; no systemd needed.
#
#   local_cluster.sh install  install the missing Debian packages (slurmctld, slurmd, slurmdbd,
#                             slurm-client, munge, mariadb-server) and nothing else
#   local_cluster.sh up       install, write the config, start munged, mariadbd, slurmdbd,
#                             slurmctld and slurmd, ensure the cluster, account and association
#   local_cluster.sh down     stop the daemons this script started (by recorded PID); no-op if none
#   local_cluster.sh status   which of them run, and sinfo
#
# Everything (config, logs, PIDs, database, spool) lives in $SLURM_STATE_DIR (default
# /tmp/tfedge-slurm). munged and mariadbd get their own socket, key and datadir there, so a
# system-wide munge or MariaDB is neither needed nor touched. /etc/slurm/slurm.conf becomes a
# symlink to the state dir's slurm.conf, so plain sbatch/sinfo/sacct work from any shell; a
# slurm.conf there that this script did not write makes `up` refuse. With SLURM_LINK_ETC=0 the
# link is skipped: then export SLURM_CONF=$SLURM_STATE_DIR/etc/slurm.conf yourself.
#
# The one partition is `cpu`, with the machine's CPUs and 95 % of its memory. Accounting goes
# through slurmdbd, because Snakemake's SLURM plugin asks sacct for job states. There are no
# GPUs: sbatch refuses `--gpus=1` ("Invalid generic resource (gres) specification"), which is
# why profiles/slurm asks for none unless told the cluster has them.
set -euo pipefail

STATE=$(realpath -m "${SLURM_STATE_DIR:-/tmp/tfedge-slurm}")
CLUSTER=${SLURM_CLUSTER:-tfedge}
ACCOUNT=${SLURM_ACCOUNT:-tfedge}
DB_PORT=${SLURM_DB_PORT:-3307}          # our mariadbd, on 127.0.0.1 only
TIMEOUT=${SLURM_UP_TIMEOUT:-60}         # seconds each daemon gets to become ready
LINK_ETC=${SLURM_LINK_ETC:-1}
ETC_CONF=/etc/slurm/slurm.conf
MUNGE_SOCK=$STATE/munge/munge.socket
DB_SOCK=$STATE/run/mysqld.sock
NODE=$(hostname -s)
ME=$(id -un)
DAEMONS=(munged mariadbd slurmdbd slurmctld slurmd)   # start order; `down` goes in reverse
PACKAGES=(munge mariadb-server slurmdbd slurmctld slurmd slurm-client)
export SLURM_CONF=$STATE/etc/slurm.conf

log() { printf '[local_cluster] %s\n' "$*"; }
die() { printf '[local_cluster] ERROR: %s\n' "$*" >&2; exit 1; }

# --- PIDs -------------------------------------------------------------------------------

pid_of() { cat "$STATE/pids/$1.pid" 2>/dev/null; }

is_running() {  # is_running NAME: our recorded PID is alive (not a zombie) and still NAME
  local pid comm state
  pid=$(pid_of "$1") || return 1
  read -r _ comm state _ 2>/dev/null <"/proc/$pid/stat" || return 1
  [[ $comm == "($1)" && $state != Z ]]
}

launch() {  # launch NAME CMD...: run CMD (a foreground daemon) detached, record its PID
  local name=$1; shift
  mkdir -p "$STATE/pids"
  setsid "$@" >>"$STATE/log/$name.out" 2>&1 </dev/null &
  echo $! >"$STATE/pids/$name.pid"
}

wait_ready() {  # wait_ready NAME: poll ready_NAME until it succeeds, the daemon dies, or timeout
  local name=$1 deadline=$((SECONDS + TIMEOUT))
  until "ready_$name" >/dev/null 2>&1; do
    is_running "$name" || fail "$name" "exited during start-up"
    ((SECONDS < deadline)) || fail "$name" "not ready after ${TIMEOUT}s"
    sleep 0.5
  done
}

fail() {  # fail NAME WHY: show the end of NAME's logs and stop
  local f
  for f in "$STATE/log/$1.log" "$STATE/log/$1.out"; do
    [[ -s $f ]] && { echo "--- tail $f" >&2; tail -n 15 "$f" >&2; }
  done
  die "$1 $2; see $STATE/log/$1.log and $STATE/log/$1.out"
}

stop() {  # stop NAME: TERM our recorded PID, KILL after 20 s
  local name=$1 pid i
  if is_running "$name"; then
    pid=$(pid_of "$name")
    kill -TERM "$pid"
    for ((i = 0; i < 100; i++)); do is_running "$name" || break; sleep 0.2; done
    is_running "$name" && kill -KILL "$pid"
    log "stopped $name (pid $pid)"
  fi
  rm -f "$STATE/pids/$name.pid"
}

# --- install and configure --------------------------------------------------------------

check_etc_conf() {  # refuse to replace a slurm.conf that this script did not write
  [[ $LINK_ETC == 1 ]] || return 0
  if [[ -e $ETC_CONF || -L $ETC_CONF ]] && [[ $(readlink "$ETC_CONF") != "$SLURM_CONF" ]]; then
    die "$ETC_CONF exists and was not written by this script (for $STATE); move it away," \
      "or run with SLURM_LINK_ETC=0 and export SLURM_CONF=$SLURM_CONF"
  fi
}

install_packages() {  # apt-get only what is missing; keep package scripts from starting services
  local missing=() p added=0 rc=0
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
  done
  ((${#missing[@]})) || return 0
  log "installing ${missing[*]}"
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then  # no system munged/mariadbd: we run our own
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
    added=1
  fi
  export DEBIAN_FRONTEND=noninteractive
  { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}"; } \
    >"$STATE/log/apt.log" 2>&1 || rc=$?
  if ((added)); then rm -f /usr/sbin/policy-rc.d; fi
  ((rc == 0)) || { tail -n 20 "$STATE/log/apt.log" >&2; die "apt-get failed; see $STATE/log/apt.log"; }
}

MEM=$(($(free -m | awk '/^Mem:/ {print $2}') * 95 / 100))   # RealMemory: 95% of the total
CPUS=$(nproc --all)

node_line() {  # the hardware slurmd sees (sockets, cores, threads), with our RealMemory
  slurmd -C | head -n 1 | sed -E "s/ RealMemory=[0-9]+/ RealMemory=$MEM/"
}

write_config() {  # regenerated on every `up` (same content for the same machine)
  local etc=$STATE/etc
  mkdir -p "$etc" "$STATE"/{log,run,pids,spool/ctld,spool/d}
  mkdir -p "$STATE/munge" && chmod 711 "$STATE/munge"   # munged wants a+x on its socket's dir
  [[ -s $STATE/munge/munge.key ]] || mungekey --create --keyfile="$STATE/munge/munge.key"
  [[ -s $etc/db.pass ]] || (umask 077; od -An -N16 -tx1 /dev/urandom | tr -d ' \n' >"$etc/db.pass")

  cat >"$etc/slurm.conf" <<EOF
# Written by local_cluster.sh for $STATE; regenerated on every \`up\`.
ClusterName=$CLUSTER
SlurmctldHost=$NODE(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$MUNGE_SOCK
CredType=cred/munge
StateSaveLocation=$STATE/spool/ctld
SlurmdSpoolDir=$STATE/spool/d
SlurmctldPidFile=$STATE/run/slurmctld.pid
SlurmdPidFile=$STATE/run/slurmd.pid
SlurmctldLogFile=$STATE/log/slurmctld.log
SlurmdLogFile=$STATE/log/slurmd.log
MailProg=/bin/true
ReturnToService=2
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/linux
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
AccountingStoragePass=$MUNGE_SOCK
AccountingStorageEnforce=associations
# Keep each job's comment (the executor plugin names the rule or group there) for sacct.
AccountingStoreFlags=job_comment
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
# A job without --mem gets its share per CPU, not the whole node; one that can never fit
# (say -c 3 here) is refused at submission instead of pending forever.
DefMemPerCPU=$((MEM / CPUS))
EnforcePartLimits=ALL
$(node_line) NodeAddr=127.0.0.1 State=UNKNOWN
PartitionName=cpu Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
EOF

  # slurmd 22.05 always loads a cgroup plugin ("disabled" does not exist; cgroup/v2 dies on
  # this hybrid mount with "Hybrid mode is not supported"): v1, constraining nothing.
  cat >"$etc/cgroup.conf" <<EOF
# Written by local_cluster.sh
CgroupPlugin=cgroup/v1
CgroupAutomount=no
ConstrainCores=no
ConstrainRAMSpace=no
ConstrainSwapSpace=no
ConstrainDevices=no
EOF

  (umask 077; cat >"$etc/slurmdbd.conf" <<EOF
# Written by local_cluster.sh
AuthType=auth/munge
AuthInfo=socket=$MUNGE_SOCK
DbdHost=localhost
SlurmUser=root
LogFile=$STATE/log/slurmdbd.log
PidFile=$STATE/run/slurmdbd.pid
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort=$DB_PORT
StorageUser=slurm
StoragePass=$(cat "$etc/db.pass")
StorageLoc=slurm_acct_db
EOF
  )

  if [[ $LINK_ETC == 1 ]]; then mkdir -p /etc/slurm && ln -sfn "$SLURM_CONF" "$ETC_CONF"; fi
}

# --- daemons: start_NAME launches, ready_NAME answers when it serves ----------------------

start_munged() {
  launch munged munged --foreground --socket="$MUNGE_SOCK" \
    --key-file="$STATE/munge/munge.key" --seed-file="$STATE/munge/munge.seed" \
    --pid-file="$STATE/run/munged.pid" --log-file="$STATE/log/munged.log"
}
ready_munged() { munge -S "$MUNGE_SOCK" -n | unmunge -S "$MUNGE_SOCK"; }

start_mariadbd() {
  local data=$STATE/mysql
  if [[ ! -d $data/mysql ]]; then
    mariadb-install-db --no-defaults --user=root --datadir="$data" --skip-test-db \
      --auth-root-authentication-method=socket >"$STATE/log/mariadb-install.log" 2>&1 \
      || die "mariadb-install-db failed; see $STATE/log/mariadb-install.log"
  fi
  launch mariadbd mariadbd --no-defaults --user=root --datadir="$data" --socket="$DB_SOCK" \
    --bind-address=127.0.0.1 --port="$DB_PORT" --skip-name-resolve \
    --pid-file="$STATE/run/mariadbd.pid" --log-error="$STATE/log/mariadbd.log" \
    --innodb-buffer-pool-size=1024M --innodb-lock-wait-timeout=900
}
ready_mariadbd() { mariadb-admin --no-defaults --socket="$DB_SOCK" ping; }

ensure_db_user() {  # the account slurmdbd logs in with (idempotent)
  local pass; pass=$(cat "$STATE/etc/db.pass")
  mariadb --no-defaults --socket="$DB_SOCK" -u root <<EOF
CREATE USER IF NOT EXISTS 'slurm'@'127.0.0.1' IDENTIFIED BY '$pass';
GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1';
EOF
}

start_slurmdbd() { launch slurmdbd slurmdbd -D; }
ready_slurmdbd() { timeout 10 sacctmgr -n show cluster; }

start_slurmctld() { launch slurmctld slurmctld -D; }
ready_slurmctld() { timeout 10 scontrol ping | grep -q 'is UP'; }

start_slurmd() { launch slurmd slurmd -D; }
ready_slurmd() { [[ $(timeout 10 sinfo -h -n "$NODE" -o %t) =~ ^(idle|mix|alloc|comp) ]]; }

ensure() {  # ensure NAME: start NAME unless our recorded PID runs, then wait until it serves
  if is_running "$1"; then
    log "$1 already running (pid $(pid_of "$1"))"
  else
    log "starting $1"
    "start_$1"
  fi
  wait_ready "$1"
}

sacct_has() { [[ -n $(sacctmgr -nP show "$@") ]]; }

ensure_accounting() {  # cluster, account and the caller's association (sacctmgr -i: no prompts)
  sacct_has cluster "$CLUSTER" format=cluster \
    || sacctmgr -i add cluster "$CLUSTER"
  sacct_has account "$ACCOUNT" format=account \
    || sacctmgr -i add account "$ACCOUNT" cluster="$CLUSTER" description=tfedge organization=tfedge
  sacct_has association cluster="$CLUSTER" account="$ACCOUNT" user="$ME" format=user \
    || sacctmgr -i add user "$ME" cluster="$CLUSTER" account="$ACCOUNT"
  [[ $(sacctmgr -nP show user "$ME" format=defaultaccount) == "$ACCOUNT" ]] \
    || sacctmgr -i modify user "$ME" set defaultaccount="$ACCOUNT"
}

# --- commands -----------------------------------------------------------------------------

cmd_up() {
  local t0=$SECONDS
  ((EUID == 0)) || die "run as root (apt-get, /etc/slurm, daemons run as root)"
  check_etc_conf
  mkdir -p "$STATE/log"
  install_packages
  local before
  before=$(cat "$SLURM_CONF" 2>/dev/null || true)
  write_config
  ensure munged
  ensure mariadbd
  ensure_db_user
  ensure slurmdbd
  ensure_accounting   # before slurmctld starts, so it registers with a known cluster
  ensure slurmctld
  ensure slurmd
  if [[ -n $before && $before != $(cat "$SLURM_CONF") ]]; then
    log "slurm.conf changed: reconfiguring the running daemons"
    scontrol reconfigure
  fi
  sinfo
  log "up in $((SECONDS - t0)) s; state, logs and PIDs in $STATE"
  if [[ $LINK_ETC != 1 ]]; then log "clients need: export SLURM_CONF=$SLURM_CONF"; fi
}

cancel_jobs() {  # a job's slurmstepd is no child of slurmd: end jobs while slurmd still runs
  local i
  timeout 10 squeue -h -o %A | xargs -r timeout 10 scancel 2>/dev/null || true
  for ((i = 0; i < 50; i++)); do
    if [[ -z $(timeout 5 squeue -h -o %A 2>/dev/null) ]]; then break; fi
    sleep 0.2
  done
}

cmd_down() {
  local d i any=0
  for d in "${DAEMONS[@]}"; do if is_running "$d"; then any=1; fi; done
  if ((any == 0)); then
    log "nothing is up"
  else
    if is_running slurmctld; then cancel_jobs; fi
    for ((i = ${#DAEMONS[@]} - 1; i >= 0; i--)); do stop "${DAEMONS[i]}"; done
  fi
  if [[ $(readlink "$ETC_CONF" 2>/dev/null) == "$SLURM_CONF" ]]; then rm -f "$ETC_CONF"; fi
}

cmd_status() {
  local d rc=0
  for d in "${DAEMONS[@]}"; do
    if is_running "$d"; then log "$d running (pid $(pid_of "$d"))"; else log "$d stopped"; rc=3; fi
  done
  if is_running slurmctld; then sinfo; fi
  return "$rc"
}

case ${1:-} in
  install) mkdir -p "$STATE/log" && install_packages ;;
  up) cmd_up ;;
  down) cmd_down ;;
  status) cmd_status ;;
  *) echo "usage: $0 install|up|down|status   (state dir: $STATE)" >&2; exit 2 ;;
esac
