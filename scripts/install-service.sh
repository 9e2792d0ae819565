#!/usr/bin/env bash
# Installs Framecast as a systemd system service: it runs slideshow.py at boot as the system user
# `framecast`, restarts it when it fails, and lets systemd's watchdog restart it when it hangs.
#
#   bash scripts/install-service.sh [--print] [--uninstall] [--config PATH] [--port N]
#
#   --print       print the unit to stdout and change nothing (no root needed)
#   --uninstall   stop and remove the service and the user framecast
#   --config      the settings file (default: config.toml in this repository)
#   --port        the port to serve on, overriding the config's [server] port
set -euo pipefail

usage() {
  sed -n '5,10p' "$0" | sed 's/^# \{0,1\}//'
}

die() {
  echo "$*" >&2
  exit 1
}

# --- Arguments --------------------------------------------------------------------------------
args=("$@")
print_only=no
uninstall=no
config=""
port=""
port_given=no
while [ $# -gt 0 ]; do
  case "$1" in
    --print) print_only=yes ;;
    --uninstall) uninstall=yes ;;
    --config)
      [ $# -ge 2 ] || { usage >&2; exit 2; }
      config=$2
      shift ;;
    --config=*) config=${1#--config=} ;;
    --port)
      [ $# -ge 2 ] || { usage >&2; exit 2; }
      port=$2
      port_given=yes
      shift ;;
    --port=*) port=${1#--port=}; port_given=yes ;;
    --desktop)
      echo "not yet supported: run bash scripts/serve.sh inside the desktop session" >&2
      exit 2 ;;
    -h | --help) usage; exit 0 ;;
    *) echo "unknown argument: $1" >&2; usage >&2; exit 2 ;;
  esac
  shift
done
if [ -n "$port" ] && ! [[ "$port" =~ ^[0-9]+$ && "$port" -ge 1 && "$port" -le 65535 ]]; then
  echo "--port must be a number from 1 to 65535, not: $port" >&2
  exit 2
fi

# --- Root -------------------------------------------------------------------------------------
# A system service needs root; --print changes nothing and does not. Re-running with sudo keeps
# the current directory, so a relative --config still means the same file.
if [ "$print_only" = no ] && [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then
    exec sudo bash "$0" ${args[@]+"${args[@]}"}
  fi
  die "Installing a system service needs root: run this again as root."
fi

# The config is named relative to where the script was started; resolve it before moving.
if [ -n "$config" ]; then
  [ -f "$config" ] || die "config not found: $config"
  config=$(realpath -- "$config")
fi
cd "$(dirname "$0")/.."
repo=$(pwd -P)
[ -n "$config" ] || config="$repo/config.toml"

unit_name=framecast.service
unit_path=/etc/systemd/system/$unit_name
user=framecast

systemd_running() {
  [ -d /run/systemd/system ]
}

user_exists() {
  getent passwd "$user" >/dev/null
}

# --- Uninstall --------------------------------------------------------------------------------
if [ "$uninstall" = yes ]; then
  changed=no
  if systemd_running; then
    if systemctl is-enabled --quiet "$unit_name" 2>/dev/null \
      || systemctl is-active --quiet "$unit_name" 2>/dev/null; then
      systemctl disable --now "$unit_name"
      echo "stopped and disabled $unit_name"
      changed=yes
    fi
  fi
  if [ -e "$unit_path" ]; then
    rm -f -- "$unit_path"
    echo "removed $unit_path"
    changed=yes
    if systemd_running; then
      systemctl daemon-reload
      systemctl reset-failed "$unit_name" 2>/dev/null || true
    fi
  fi
  if user_exists; then
    userdel "$user"
    echo "removed user $user"
    changed=yes
  fi
  [ "$changed" = yes ] || echo "nothing to remove: no $unit_path and no user $user"
  exit 0
fi

# --- Settings from the config -----------------------------------------------------------------
[ -f "$config" ] || die "config not found: $config"
# Prints the port, the host, then every images folder (the default show's and each channel's),
# made absolute against the config's folder as the server does. Needs Python 3.11+ (tomllib).
read_config() {
  python3 - "$config" <<'EOF'
import sys, tomllib
from pathlib import Path

path = Path(sys.argv[1])
try:
    data = tomllib.loads(path.read_text())
except (OSError, ValueError) as error:
    sys.exit(f"cannot read {path}: {error}")
server = data.get("server", {})
print(server.get("port", 8000))
print(server.get("host", "0.0.0.0"))
folders = [data.get("slideshow", {}).get("folder", "images")]
folders += [c["folder"] for c in data.get("channels", {}).values() if isinstance(c, dict) and "folder" in c]
for folder in dict.fromkeys(folders):
    print(Path(path.parent, str(folder)).resolve())
EOF
}
python3 -c 'import tomllib' 2>/dev/null || die "Reading the config needs python3 3.11 or newer (tomllib)."
settings=$(read_config) || exit 1  # read_config said why
mapfile -t lines <<<"$settings"
[ -n "$port" ] || port=${lines[0]}
host=${lines[1]}
folders=("${lines[@]:2}")
[[ "$port" =~ ^[0-9]+$ ]] || die "[server] port in $config is not a number: $port"

# --- The unit ---------------------------------------------------------------------------------
# One word of a unit file: % and $ escaped (systemd expands them), quoted when it has spaces.
unit_word() {
  local word=${1//\\/\\\\}
  word=${word//%/%%}
  word=${word//\$/\$\$}
  word=${word//\"/\\\"}
  if [[ "$word" =~ [[:space:]] ]]; then
    printf '"%s"' "$word"
  else
    printf '%s' "$word"
  fi
}

python_real=$(realpath -m -- "$repo/.venv/bin/python")
# ProtectHome=yes hides /home, /root and /run/user; read-only when the service needs a file there.
protect_home=yes
for path in "$repo" "$config" "${folders[@]}" "$python_real"; do
  case "$path" in
    /home/* | /root/* | /run/user/*) protect_home=read-only ;;
  esac
done

exec_start="$(unit_word "$repo/.venv/bin/python") $(unit_word "$repo/slideshow.py")"
exec_start+=" --config $(unit_word "$config")"
# --port on this command line is passed on; otherwise the server reads the config's port.
if [ "$port_given" = yes ]; then
  exec_start+=" --port $port"
fi

unit_text() {
  cat <<EOF
# Written by scripts/install-service.sh; run it again to update, with --uninstall to remove.
[Unit]
Description=Framecast: slides or the screen as a stream for TV browsers
After=network-online.target
Wants=network-online.target
StartLimitIntervalSec=60
StartLimitBurst=5

[Service]
# The server says READY=1 once it serves and WATCHDOG=1 while it is well.
Type=notify
NotifyAccess=main
WatchdogSec=30
User=$user
Group=$user
WorkingDirectory=${repo//%/%%}
ExecStart=$exec_start
Restart=on-failure
RestartSec=2
NoNewPrivileges=yes
ProtectSystem=strict
ProtectHome=$protect_home
PrivateTmp=yes
EOF
  # Ports below 1024 need this one capability; nothing else is granted.
  if [ "$port" -lt 1024 ]; then
    echo "AmbientCapabilities=CAP_NET_BIND_SERVICE"
  fi
  cat <<EOF

[Install]
WantedBy=multi-user.target
EOF
}

if [ "$print_only" = yes ]; then
  unit_text
  exit 0
fi

# --- Install ----------------------------------------------------------------------------------
# The virtualenv, as scripts/serve.sh makes it.
source scripts/apt.sh
python3 -c 'import ensurepip, venv' >/dev/null 2>&1 || apt_install python3-venv
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check -r requirements.txt

if user_exists; then
  echo "user $user exists"
else
  useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$user"
  echo "created system user $user"
fi

# Can the user reach PATH? Every folder above it must be traversable (x); PATH itself needs the
# given test (-r to read, -x to run or enter). Names the first problem and how to fix it; never
# changes anyone's permissions itself.
as_user() {
  runuser -u "$user" -- "$@" 2>/dev/null
}
check_access() {
  local path=$1 what=$2 dir
  shift 2
  dir=$(dirname -- "$path")
  local parents=()
  while :; do
    parents=("$dir" "${parents[@]}")
    [ "$dir" != / ] || break
    dir=$(dirname -- "$dir")
  done
  for dir in "${parents[@]}"; do
    if ! as_user test -x "$dir"; then
      echo "user $user cannot enter $dir, so it cannot reach $what $path." >&2
      echo "Let it through (this lets it pass, not list the folder), then run this again:" >&2
      echo "  chmod o+x $dir" >&2
      echo "or, for that user only:" >&2
      echo "  setfacl -m u:$user:x $dir" >&2
      exit 1
    fi
  done
  local test mode=""
  for test in "$@"; do mode+=${test#-}; done
  for test in "$@"; do
    if ! as_user test "$test" "$path"; then
      local verb=read
      if [ "$test" = -x ]; then
        verb=run
        [ -d "$path" ] && verb=enter
      fi
      echo "user $user cannot $verb $what $path." >&2
      echo "Give it access, then run this again:" >&2
      echo "  chmod o+$mode $path" >&2
      echo "or, for that user only:" >&2
      echo "  setfacl -m u:$user:$mode $path" >&2
      exit 1
    fi
  done
}
check_access "$config" "the config" -r
for folder in "${folders[@]}"; do
  if [ -d "$folder" ]; then
    check_access "$folder" "the images folder" -r -x
  else
    echo "note: the images folder $folder does not exist yet; create it readable by user $user"
  fi
done
check_access "$repo" "the repository" -r -x
check_access "$repo/slideshow.py" "the server" -r
check_access "$python_real" "the virtualenv's python" -x
# The python may still fail as that user (its standard library elsewhere, a package unreadable).
if ! error=$(cd / && runuser -u "$user" -- "$repo/.venv/bin/python" -c 'import flask, PIL' 2>&1); then
  echo "the virtualenv's python does not run as user $user:" >&2
  echo "$error" >&2
  echo "Make $python_real and its library readable by others, or make .venv with a system" >&2
  echo "python: rm -rf .venv && /usr/bin/python3 -m venv .venv, then run this again." >&2
  exit 1
fi

# The unit file, written only when it changed.
new_unit=$(unit_text)
changed=yes
if [ -f "$unit_path" ] && [ "$(cat "$unit_path")" = "$new_unit" ]; then
  changed=no
  echo "unit unchanged: $unit_path"
else
  printf '%s\n' "$new_unit" >"$unit_path.tmp"
  chmod 644 "$unit_path.tmp"
  mv -f "$unit_path.tmp" "$unit_path"
  echo "wrote $unit_path"
fi

if ! systemd_running; then
  echo "systemd is not running here: the unit is installed but could not be started"
  exit 0
fi

was_active=no
systemctl is-active --quiet "$unit_name" && was_active=yes
systemctl daemon-reload
start_failed() {
  echo "$unit_name did not start; its last log lines:" >&2
  journalctl -u "$unit_name" -n 20 --no-pager >&2 || true
  exit 1
}
if [ "$was_active" = yes ] && [ "$changed" = yes ]; then
  systemctl restart "$unit_name" || start_failed
  echo "restarted $unit_name with the new unit"
fi
systemctl enable --now "$unit_name" || start_failed
echo "$unit_name is enabled and running: systemctl status framecast, journalctl -u framecast -f"

# Where the TVs find it.
case "$host" in
  127.* | localhost | ::1) addresses=(127.0.0.1) ;;
  *)
    addresses=()
    for address in $(hostname -I 2>/dev/null || true); do
      if [[ "$address" =~ ^[0-9.]+$ && "$address" != 127.* ]]; then
        addresses+=("$address")
      fi
    done ;;
esac
[ "${#addresses[@]}" -gt 0 ] || addresses=("<this machine>")
echo "Open on the TVs:"
for address in "${addresses[@]}"; do
  echo "  http://$address:$port/"
done
