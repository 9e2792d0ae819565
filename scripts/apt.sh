# Sourced by the set-up scripts: installs Debian packages, escalating with sudo only for apt-get
# and only when not already root.
apt_install() {
  local run=()
  if [ "$(id -u)" -ne 0 ]; then
    if ! command -v sudo >/dev/null 2>&1; then
      echo "Missing Debian packages: $*. Install them as root (apt-get install $*), then run this again." >&2
      exit 1
    fi
    run=(sudo)
  fi
  echo "Installing $*"
  ${run[@]+"${run[@]}"} apt-get update -q
  ${run[@]+"${run[@]}"} env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@"
}
