#!/usr/bin/env bash
# Install the Debian packages that `make book` and `make test` need besides Python 3.11:
#   book: nodejs and npm (MathJax, for offline math, is an npm package: package.json)
#   test: the same, plus Debian's chromium for the browser suite (never a browser download)
#         and postgresql, whose server the tests of utils.search start on 127.0.0.1 in a
#         temporary data directory (Debian keeps initdb in /usr/lib/postgresql/*/bin)
# Missing packages are installed with apt-get when this runs as root or with password-less
# sudo; otherwise it prints the one command to run and stops. `make book`, `make test`
# and .ci/run call it; run it yourself with: bash tools/system_deps.sh test
set -euo pipefail

target=${1:-test}
chromium=${CHROMIUM:-/usr/bin/chromium}
missing=()

if ! command -v npm >/dev/null 2>&1; then
  missing+=(nodejs npm)
fi
case "$target" in
  book) ;;
  test)
    if [ ! -x "$chromium" ]; then
      missing+=(chromium fonts-liberation)
    fi
    if ! command -v initdb >/dev/null 2>&1 && ! compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null; then
      missing+=(postgresql)
    fi
    ;;
  *)
    echo "usage: $0 book|test" >&2
    exit 2
    ;;
esac

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

packages="${missing[*]}"
command="apt-get update && apt-get install -y --no-install-recommends $packages"
if ! command -v apt-get >/dev/null 2>&1; then
  echo "make $target needs: $packages (Debian package names). Install them with your system's"
  echo "package manager; for Chromium elsewhere, run make with CHROMIUM=/path/to/chromium."
  exit 1
fi
if [ "$(id -u)" -eq 0 ]; then
  sudo=""
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  sudo="sudo"
else
  echo "make $target needs Debian packages that are not installed: $packages"
  echo "Install them once, then run make $target again:"
  echo
  echo "    sudo sh -c '$command'"
  echo
  exit 1
fi
echo "Installing Debian packages for make $target: $packages"
$sudo apt-get update -qq
$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
