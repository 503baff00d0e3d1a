#!/usr/bin/env bash
# One-time machine preparation for NextStep.NET, safe to run again: it acts only where something is missing.
#  1. TorchSharp's native library (libtorch 2.10) needs libstdc++ with GLIBCXX_3.4.32 (GCC 13+).
#     Debian 12 ships GCC 12's libstdc++; where the symbol version is missing we install libstdc++6 from
#     Debian 13 (trixie), pinned low so nothing else is upgraded from it.
#  2. The .NET SDK must be on PATH (it is on the project's machines).
#  3. With --test (what scripts/test.sh passes): the server's tests drive Debian's chromium (web UI, through
#     Playwright) and start a throwaway PostgreSQL cluster (multi-node queue); both are installed when missing.
#  4. A warning when the disk looks too full to build: the first restore downloads about 3 GB of NuGet packages
#     (libtorch for three platforms); builds then add little, as package files are linked from that cache (Directory.Build.targets).
set -euo pipefail

say() { printf '[setup] %s\n' "$*" >&2; }

libstdcxx_ok() {
  local lib
  for lib in /usr/lib/x86_64-linux-gnu/libstdc++.so.6 /usr/lib/aarch64-linux-gnu/libstdc++.so.6 /usr/lib64/libstdc++.so.6; do
    [ -e "$lib" ] || continue
    # grep -a on the binary works where binutils' `strings` is not installed
    if grep -aq 'GLIBCXX_3\.4\.32' "$lib"; then return 0; fi
  done
  return 1
}

fix_libstdcxx() {
  if libstdcxx_ok; then return 0; fi
  say "libstdc++ lacks GLIBCXX_3.4.32 (needed by TorchSharp's libtorch 2.10)."
  if [ "$(id -u)" != 0 ]; then
    say "ERROR: run this script as root once (or install libstdc++6 from GCC 13+ yourself)."; exit 1
  fi
  if ! command -v apt-get >/dev/null; then
    say "ERROR: not a Debian-like system; install libstdc++ from GCC 13 or newer."; exit 1
  fi
  # Reuse the URIs of the machine's own Debian source: never hard-code a mirror.
  local uris
  uris=$(grep -hE '^\s*URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{print $2}' | grep -E '/debian/?$' | head -n1 || true)
  if [ -z "$uris" ]; then
    uris=$(grep -hE '^\s*deb\s' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null | awk '{for(i=2;i<=NF;i++) if ($i ~ /^(http|https|file):/) {print $i; exit}}' | grep -E '/debian/?$' | head -n1 || true)
  fi
  if [ -z "$uris" ]; then say "ERROR: found no Debian apt source to derive a trixie source from."; exit 1; fi
  say "adding apt source 'trixie' at $uris (pinned to priority 100) -> /etc/apt/sources.list.d/nextstep-trixie.sources"
  cat > /etc/apt/sources.list.d/nextstep-trixie.sources <<SRC
Types: deb
URIs: $uris
Suites: trixie
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
  cat > /etc/apt/preferences.d/nextstep-trixie.pref <<PIN
Package: *
Pin: release n=trixie
Pin-Priority: 100
PIN
  say "apt-get update"
  apt-get update -qq
  say "apt-get install -t trixie libstdc++6 (brings a newer libc6)"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -t trixie libstdc++6 >/dev/null
  if libstdcxx_ok; then say "libstdc++ now provides GLIBCXX_3.4.32"; else say "ERROR: libstdc++ still lacks GLIBCXX_3.4.32"; exit 1; fi
}

check_dotnet() {
  if ! command -v dotnet >/dev/null; then
    say "ERROR: the .NET 10 SDK is not on PATH (https://dotnet.microsoft.com/download)."; exit 1
  fi
}

check_disk() {
  local need_mb=500 free_mb cache="${NUGET_PACKAGES:-$HOME/.nuget/packages}"
  [ -d "$cache/torchsharp-cpu" ] || need_mb=4000
  free_mb=$(df -Pm "$(dirname "${BASH_SOURCE[0]}")" 2>/dev/null | awk 'NR == 2 {print $4}')
  if [ -n "$free_mb" ] && [ "$free_mb" -lt "$need_mb" ]; then
    say "WARNING: ${free_mb} MB free on this disk; restoring, building and testing need about ${need_mb} MB"
  fi
}

# Installs Debian packages whose marker file is missing (root only; otherwise says what to install).
install_missing() {
  local missing=() pair
  for pair in "$@"; do [ -e "${pair%%=*}" ] || missing+=("${pair#*=}"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    say "WARNING: missing ${missing[*]} (needed by the server tests); install them with your package manager."; return 0
  fi
  say "apt-get install ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

fix_libstdcxx
check_dotnet
check_disk
if [ "${1:-}" = "--test" ]; then
  install_missing /usr/bin/chromium=chromium /usr/lib/postgresql=postgresql
fi
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
