#!/usr/bin/env bash
# Installs Framecast as a systemd system service: it runs slideshow.py at boot as the system user
# `framecast`, restarts it when it fails, and lets systemd's watchdog restart it when it hangs.
# With --desktop it installs a user unit for the desktop user instead, which starts with the
# graphical session and so can capture the screen (source = "screen").
#
#   bash scripts/install-service.sh [--desktop] [--print] [--uninstall] [--config PATH] [--port N]
#
#   --desktop     a user unit (~/.config/systemd/user/framecast.service) for the desktop user, who
#                 runs this (not root; under sudo it installs for $SUDO_USER)
#   --print       print the unit to stdout and change nothing (no root needed)
#   --uninstall   stop and remove the service and the user framecast (with --desktop: the user unit)
#   --config      the settings file (default: config.toml in this repository)
#   --port        the port to serve on, overriding the config's [server] port
set -euo pipefail

usage() {
  sed -n '7,14p' "$0" | sed 's/^# \{0,1\}//'
}

die() {
  echo "$*" >&2
  exit 1
}

# --- Arguments --------------------------------------------------------------------------------
args=("$@")
print_only=no
uninstall=no
desktop=no
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
    --desktop) desktop=yes ;;
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
# A desktop unit belongs to the desktop user: under sudo, run again as $SUDO_USER with that user's
# runtime folder (where the user's systemd listens) and the caller's display.
if [ "$desktop" = yes ] && [ "$print_only" = no ] && [ "$(id -u)" -eq 0 ]; then
  if [ -z "${SUDO_USER:-}" ] || [ "$SUDO_USER" = root ]; then
    die "--desktop installs for the desktop user: run it as the desktop user (without sudo)."
  fi
  desktop_uid=$(id -u -- "$SUDO_USER") || die "no such user: $SUDO_USER"
  session_env=(-u DBUS_SESSION_BUS_ADDRESS -u XDG_RUNTIME_DIR)
  if [ -d "/run/user/$desktop_uid" ]; then
    session_env+=("XDG_RUNTIME_DIR=/run/user/$desktop_uid")
  fi
  exec runuser -u "$SUDO_USER" -- env ${session_env[@]+"${session_env[@]}"} \
    bash "$0" ${args[@]+"${args[@]}"}
fi
# A system service needs root; --print changes nothing and does not. Re-running with sudo keeps
# the current directory, so a relative --config still means the same file.
if [ "$desktop" = no ] && [ "$print_only" = no ] && [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then
    exec sudo bash "$0" ${args[@]+"${args[@]}"}
  fi
  die "Installing a system service needs root: run this again as root. For screen mode, install a unit for your desktop session instead: bash scripts/install-service.sh --desktop"
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
if [ "$desktop" = yes ]; then
  user=$(id -un)
  home=${HOME:-$(getent passwd "$user" | cut -d: -f6)}
  [[ "$home" == /* ]] || die "no home folder for user $user (HOME is not set)"
  unit_dir=$home/.config/systemd/user
  unit_path=$unit_dir/$unit_name
fi

# Can this user's systemd be reached (systemctl --user)? Says why not in $user_systemd_problem.
user_systemd_problem=""
user_systemd_reachable() {
  if [ -z "${XDG_RUNTIME_DIR:-}" ]; then
    user_systemd_problem="XDG_RUNTIME_DIR is not set: not in $user's login session"
    return 1
  fi
  if ! command -v systemctl >/dev/null 2>&1 \
    || ! systemctl --user show-environment >/dev/null 2>&1; then
    user_systemd_problem="systemctl --user show-environment failed"
    return 1
  fi
}

systemd_running() {
  [ -d /run/systemd/system ]
}

user_exists() {
  getent passwd "$user" >/dev/null
}

# --- Uninstall --------------------------------------------------------------------------------
if [ "$uninstall" = yes ] && [ "$desktop" = yes ]; then
  changed=no
  reachable=no
  user_systemd_reachable && reachable=yes
  if [ "$reachable" = yes ]; then
    if systemctl --user is-enabled --quiet "$unit_name" 2>/dev/null \
      || systemctl --user is-active --quiet "$unit_name" 2>/dev/null; then
      systemctl --user disable --now "$unit_name"
      echo "stopped and disabled the user unit $unit_name"
      changed=yes
    fi
  fi
  # Left by an earlier `systemctl --user enable` when the user's systemd cannot be asked now.
  wants_link=$unit_dir/graphical-session.target.wants/$unit_name
  if [ -L "$wants_link" ]; then
    rm -f -- "$wants_link"
    echo "removed $wants_link"
    changed=yes
  fi
  if [ -e "$unit_path" ]; then
    rm -f -- "$unit_path"
    echo "removed $unit_path"
    changed=yes
    if [ "$reachable" = yes ]; then
      systemctl --user daemon-reload
      systemctl --user reset-failed "$unit_name" 2>/dev/null || true
    else
      echo "$user's systemd could not be reached ($user_systemd_problem): if framecast still runs,"
      echo "stop it from the desktop session with: systemctl --user stop framecast"
    fi
  fi
  [ "$changed" = yes ] || echo "nothing to remove: no $unit_path"
  exit 0
fi
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
# made absolute against the config's folder as the server does, `~` being the home of the user
# the server runs as (a system user made here has none). Needs Python 3.11+ (tomllib).
read_config() {
  python3 - "$config" "$service_home" <<'EOF'
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
home = sys.argv[2]
for folder in dict.fromkeys(str(f) for f in folders):
    if folder == "~" or folder.startswith("~/"):
        folder = home + folder[1:]
    print(Path(path.parent, Path(folder).expanduser()).resolve())
EOF
}
python3 -c 'import tomllib' 2>/dev/null || die "Reading the config needs python3 3.11 or newer (tomllib)."
service_home=${home:-$(getent passwd "$user" | cut -d: -f6 || true)}
service_home=${service_home:-/nonexistent}
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
# A box installed for signage announces itself on the LAN (<[server] name>.local); a server
# started by hand does not, unless its config says [server] mdns = true.
exec_start+=" --mdns"
# --port on this command line is passed on; otherwise the server reads the config's port.
if [ "$port_given" = yes ]; then
  exec_start+=" --port $port"
fi

# What both units run, and how systemd watches it.
service_lines() {
  cat <<EOF
# The server says READY=1 once it serves and WATCHDOG=1 while it is well.
Type=notify
NotifyAccess=main
WatchdogSec=30
WorkingDirectory=${repo//%/%%}
ExecStart=$exec_start
Restart=on-failure
RestartSec=2
EOF
}

# The desktop user's unit: started with the graphical session, whose DISPLAY the desktop (or
# this script) imports into the user's systemd; no User=, no hardening that a user unit lacks.
desktop_unit_text() {
  cat <<EOF
# Written by scripts/install-service.sh --desktop; run it again to update, with
# --desktop --uninstall to remove.
[Unit]
Description=Framecast: the desktop or slides as a stream for TV browsers
PartOf=graphical-session.target
After=graphical-session.target
StartLimitIntervalSec=60
StartLimitBurst=5

[Service]
$(service_lines)

[Install]
WantedBy=graphical-session.target
EOF
}

unit_text() {
  if [ "$desktop" = yes ]; then
    desktop_unit_text
    return
  fi
  cat <<EOF
# Written by scripts/install-service.sh; run it again to update, with --uninstall to remove.
[Unit]
Description=Framecast: slides or the screen as a stream for TV browsers
After=network-online.target
Wants=network-online.target
StartLimitIntervalSec=60
StartLimitBurst=5

[Service]
User=$user
Group=$user
$(service_lines)
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

# Where the TVs find it.
print_addresses() {
  local address addresses
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
}

# The unit file, written only when it changed; sets $changed.
write_unit() {
  local new_unit
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
}

# --- Install ----------------------------------------------------------------------------------
# The virtualenv, as scripts/serve.sh makes it (with --desktop, as the desktop user).
source scripts/apt.sh
python3 -c 'import ensurepip, venv' >/dev/null 2>&1 || apt_install python3-venv
if [ "$desktop" = yes ] && [ ! -x .venv/bin/python ]; then
  if [ -e .venv/bin/python ] || [ -L .venv/bin/python ]; then
    echo "User $user cannot run $repo/.venv/bin/python (or what it links to). Make the" >&2
    echo "virtualenv as $user, or readable and runnable by $user, then run this again." >&2
    exit 1
  elif [ ! -w . ]; then
    echo "There is no virtualenv $repo/.venv and user $user cannot make one: $repo is not" >&2
    echo "writable by $user. Make it as the repository's owner (bash scripts/serve.sh does, or" >&2
    echo "python3 -m venv .venv && .venv/bin/pip install -r requirements.txt), then run this again." >&2
    exit 1
  fi
fi
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check -r requirements.txt

# --- Install: the desktop user's unit ---------------------------------------------------------
if [ "$desktop" = yes ]; then
  if [ "$port" -lt 1024 ]; then
    echo "note: port $port is below 1024, which a desktop user usually may not open; choose" \
      "--port 1024 or more"
  fi
  mkdir -p -- "$unit_dir"
  write_unit
  if ! user_systemd_reachable; then
    echo "$user's systemd could not be reached ($user_systemd_problem): the unit is written but" \
      "not started."
    echo "Start it from the desktop session (it then starts at every desktop login) with:"
    echo "  systemctl --user enable --now framecast"
    exit 0
  fi
  # The session's display (X11, or Wayland's socket in XDG_RUNTIME_DIR, which the user's systemd
  # has already), for the unit; most desktops import them themselves at login.
  session_vars=()
  for name in DISPLAY XAUTHORITY WAYLAND_DISPLAY; do
    [ -z "${!name:-}" ] || session_vars+=("$name")
  done
  if [ "${#session_vars[@]}" -gt 0 ]; then
    systemctl --user import-environment "${session_vars[@]}"
    echo "imported ${session_vars[*]} into $user's systemd"
  fi
  was_active=no
  systemctl --user is-active --quiet "$unit_name" && was_active=yes
  systemctl --user daemon-reload
  user_start_failed() {
    echo "$unit_name did not start; its last log lines:" >&2
    journalctl --user -u "$unit_name" -n 20 --no-pager >&2 || true
    exit 1
  }
  if [ "$was_active" = yes ] && [ "$changed" = yes ]; then
    systemctl --user restart "$unit_name" || user_start_failed
    echo "restarted $unit_name with the new unit"
  fi
  systemctl --user enable --now "$unit_name" || user_start_failed
  echo "$unit_name is enabled and running in $user's desktop session:" \
    "systemctl --user status framecast, journalctl --user -u framecast -f"
  print_addresses
  exit 0
fi

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

write_unit

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
print_addresses
