#!/usr/bin/env bash
# Build dist/sealbridge_<version>_amd64.deb (`make deb`).
#
# The package carries the app in its own virtual environment under /opt/sealbridge/venv, made with the
# system python3 (Debian 12: 3.11) and filled from a wheelhouse with --no-index, so `dpkg -i` needs no
# network. The wheelhouse is cached under build/deb-cache/ and reused: once filled, rebuilds run offline.
#
# Environment: BUILD_PY (default .venv/bin/python: runs pip and imports the project to write the host
# manifests), TARGET_PYTHON (the interpreter the package runs on; default /usr/bin/python3 when it is 3.11+),
# DEB_OUT_DIR (default dist/).
set -euo pipefail
umask 022

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
HERE="$ROOT/installer/linux"
cd "$ROOT"
BUILD_PY=${BUILD_PY:-$ROOT/.venv/bin/python}
OUT_DIR=${DEB_OUT_DIR:-$ROOT/dist}
APP=/opt/sealbridge

log() { printf '[deb] %s\n' "$*" >&2; }

[ "$(dpkg --print-architecture)" = amd64 ] || { log "this recipe builds amd64 packages only"; exit 1; }
VERSION=$("$BUILD_PY" -c 'import tomllib; print(tomllib.load(open("pyproject.toml", "rb"))["project"]["version"])')

# --- the interpreter the installed app runs on -----------------------------------------------------------
py_minor() { "$1" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")'; }
is_311_plus() { "$1" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; }
if [ -n "${TARGET_PYTHON:-}" ]; then
  :
elif [ -x /usr/bin/python3 ] && is_311_plus /usr/bin/python3; then
  TARGET_PYTHON=/usr/bin/python3
else
  TARGET_PYTHON=$(command -v python3)
  is_311_plus "$TARGET_PYTHON" || { log "need Python 3.11+ (found none)"; exit 1; }
  log "WARNING: /usr/bin/python3 is missing or older than 3.11; building against $TARGET_PYTHON."
  log "WARNING: the package then only works on machines with that same interpreter path."
fi
PYVER=$(py_minor "$TARGET_PYTHON")
# Point the venv at the versioned binary (python3.11), not python3: the bundled wheels are built for this
# minor version's ABI, and Debian's default python3 may move on while python3.11 stays.
TARGET_PYTHON=$(dirname "$(readlink -f "$TARGET_PYTHON")")/python$PYVER
[ -x "$TARGET_PYTHON" ] || TARGET_PYTHON=$(readlink -f "$(command -v "python$PYVER")")
case "$TARGET_PYTHON" in
  /usr/bin/*) PYTHON_DEPENDS="python$PYVER" ;;
  *) PYTHON_DEPENDS="python3 (>= 3.11)" ;;  # not a Debian interpreter: dependency is advisory only
esac
log "sealbridge $VERSION for $TARGET_PYTHON (Python $PYVER)"

CACHE="$ROOT/build/deb-cache/wheelhouse-py$PYVER"
SRC="$ROOT/build/deb-cache/src"
STAGE="$ROOT/build/deb/sealbridge_${VERSION}_amd64"
VENV="$STAGE$APP/venv"
LOG="$ROOT/build/deb-cache/build.log"
mkdir -p "$CACHE" "$OUT_DIR"
rm -rf "$STAGE" "$SRC"
: >"$LOG"
# pip and setuptools are chatty (index warnings, deprecation notices): keep their output in the log and show
# its tail only when a step fails.
quiet() { "$@" >>"$LOG" 2>&1 || { tail -n 40 "$LOG" >&2; log "failed: $* (full log: $LOG)"; return 1; }; }

# --- wheels: the project (always fresh) and its dependencies (cached) --------------------------------------
# Build the project wheel from a clean copy of the sources: building in the work tree would reuse a stale
# build/lib (deleted modules would ship) and write egg-info next to the editable install.
mkdir -p "$SRC"
cp pyproject.toml README.md "$SRC/"
for pkg in sealbridge agent stamping formats central; do
  (cd "$ROOT" && find "$pkg" -type d -name __pycache__ -prune -o -type f -print) |
    while read -r f; do install -D -m 644 "$ROOT/$f" "$SRC/$f"; done
done
if ! ls "$CACHE"/setuptools-*.whl "$CACHE"/wheel-*.whl >/dev/null 2>&1; then
  log "caching the build backend (setuptools, wheel) in $CACHE"
  quiet "$BUILD_PY" -m pip download -q -d "$CACHE" --only-binary=:all: "setuptools>=69" wheel
fi
rm -f "$CACHE"/sealbridge-*.whl
quiet "$BUILD_PY" -m pip wheel -q --no-deps --no-index --find-links "$CACHE" -w "$CACHE" "$SRC"
PROJECT_WHEEL=$(ls "$CACHE"/sealbridge-"$VERSION"-*.whl)

# --- the virtual environment, installed with --no-index from the wheelhouse --------------------------------
"$TARGET_PYTHON" -m venv --without-pip "$VENV"
offline_install() {
  "$BUILD_PY" -m pip --python "$VENV/bin/python" install -q --no-compile --no-index \
    --find-links "$CACHE" "$PROJECT_WHEEL"
}
if ! offline_install >>"$LOG" 2>&1; then
  log "filling the wheelhouse (network, first build only)"
  quiet "$BUILD_PY" -m pip --python "$VENV/bin/python" wheel -q --find-links "$CACHE" -w "$CACHE" "$PROJECT_WHEEL"
  quiet offline_install
fi
# direct_url.json would record the build machine's wheel path; the package is not a "local file" install.
rm -f "$VENV"/lib/python*/site-packages/sealbridge-*.dist-info/direct_url.json
sed -i '/direct_url.json/d' "$VENV"/lib/python*/site-packages/sealbridge-*.dist-info/RECORD
# The venv was made in the staging dir: make every text file that names it name /opt/sealbridge/venv
# (script shebangs, pyvenv.cfg). Then byte-compile with the installed paths, so dpkg owns the .pyc files.
grep -rlI --null -F "$STAGE" "$VENV" | xargs -0 -r sed -i "s|$STAGE||g"
"$TARGET_PYTHON" -m compileall -q -j 0 -s "$STAGE" -p / "$VENV/lib" >/dev/null
# With them, the methods @dataclass would compile at every command's start-up (agent/cli/dataclass_code.py):
# by the packaged modules (-I: not the source tree in the working directory; -B: no bytecode written now).
quiet "$VENV/bin/python" -I -B -m agent.cli.dataclass_code

# --- files around the venv -----------------------------------------------------------------------------------
install -D -m 755 "$HERE/sealbridge-native-host" "$STAGE$APP/bin/sealbridge-native-host"
mkdir -p "$STAGE/usr/bin"
ln -s "$APP/venv/bin/sealbridge" "$STAGE/usr/bin/sealbridge"
UNIT_DIR="$STAGE/usr/lib/systemd/user"
install -D -m 644 "$HERE/sealbridge-agent.service" "$UNIT_DIR/sealbridge-agent.service"
mkdir -p "$UNIT_DIR/default.target.wants"
ln -s ../sealbridge-agent.service "$UNIT_DIR/default.target.wants/sealbridge-agent.service"
(cd "$ROOT" && "$BUILD_PY" "$HERE/write_host_files.py" "$STAGE") >/dev/null
DOC="$STAGE/usr/share/doc/sealbridge"
install -D -m 644 "$HERE/README.Debian" "$DOC/README.Debian"
install -D -m 644 "$HERE/copyright" "$DOC/copyright"

# --- control area ---------------------------------------------------------------------------------------------
mkdir -p "$STAGE/DEBIAN"
SIZE_KB=$(du -sk --exclude=DEBIAN "$STAGE" | cut -f1)
sed -e "s|@VERSION@|$VERSION|" -e "s|@INSTALLED_SIZE@|$SIZE_KB|" -e "s|@PYTHON_DEPENDS@|$PYTHON_DEPENDS|" \
  "$HERE/debian/control.in" >"$STAGE/DEBIAN/control"
for script in postinst prerm postrm; do
  # Inline the shared shell function in place of its marker (maintainer scripts cannot source package files
  # reliably: in prerm/postrm they may already be gone).
  awk -v lib="$HERE/debian/user-managers.sh" '
    /^#SEALBRIDGE_USER_MANAGERS#$/ { while ((getline line < lib) > 0) print line; next } { print }
  ' "$HERE/debian/$script" >"$STAGE/DEBIAN/$script"
  chmod 755 "$STAGE/DEBIAN/$script"
done
(cd "$STAGE" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | sort -z | xargs -0 md5sum) \
  >"$STAGE/DEBIAN/md5sums"
chmod 644 "$STAGE/DEBIAN/control" "$STAGE/DEBIAN/md5sums"
chmod -R go-w "$STAGE"
find "$STAGE" -type d -exec chmod 755 {} +

DEB="$OUT_DIR/sealbridge_${VERSION}_amd64.deb"
dpkg-deb --root-owner-group -Zgzip -z6 --build "$STAGE" "$DEB.tmp" >/dev/null
mv -f "$DEB.tmp" "$DEB"
log "built $DEB ($(du -h "$DEB" | cut -f1), installed size $((SIZE_KB / 1024)) MiB)"
echo "$DEB"
