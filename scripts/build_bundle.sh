#!/usr/bin/env bash
# Build the one-folder ReplyDesk desktop app with PyInstaller (packaging/replydesk.spec).
#   scripts/build_bundle.sh                   build the bundle, or reuse it when nothing changed
#   scripts/build_bundle.sh --portable-llama  first build llama.cpp for every x86-64 CPU (once;
#                                             long, see packaging/README.md), then the bundle
#   scripts/build_bundle.sh --tar             also pack dist/ReplyDesk-VERSION-linux-x86_64.tar.gz
# The last line printed is the bundle's folder. Environment:
#   REPLYDESK_BUNDLE_PROFILE   full (default: with the knowledge base) | lean (see the spec)
#   REPLYDESK_BUNDLE_CACHE     where bundles are kept (default ~/.cache/replydesk/bundle)
#   REPLYDESK_PORTABLE_WHEELS  the portable llama-cpp-python wheel (default
#                              ~/.cache/replydesk/portable-wheels); without one the bundle uses
#                              the development build, which may need this machine's CPU features
# A bundle is rebuilt only when its inputs change: the app's code, resources, packaging files,
# the models manifest, the installed packages, the llama.cpp wheel and the profile. Heavy steps
# run under 'nice' and one at a time (a lock in the cache folder).
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${REPLYDESK_VENV:-.venv}
PROFILE=${REPLYDESK_BUNDLE_PROFILE:-full}
CACHE=${REPLYDESK_BUNDLE_CACHE:-$HOME/.cache/replydesk/bundle}
PORTABLE=${REPLYDESK_PORTABLE_WHEELS:-$HOME/.cache/replydesk/portable-wheels}
LLAMA=llama-cpp-python==0.3.36
# Every CPU variant of ggml's CPU backend, chosen when the app starts (app.llm.cpu.load_backends);
# no -march=native. The multimodal library is left out: ReplyDesk does not use it.
PORTABLE_CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_BACKEND_DL=ON -DGGML_CPU_ALL_VARIANTS=ON \
-DLLAVA_BUILD=OFF -DCMAKE_INSTALL_BINDIR=llama_cpp/lib"
ICON=io.github.replydesk.ReplyDesk

build_portable=0 tarball=0
for arg in "$@"; do
    case $arg in
        --portable-llama) build_portable=1 ;;
        --tar) tarball=1 ;;
        *) echo "usage: scripts/build_bundle.sh [--portable-llama] [--tar]" >&2; exit 64 ;;
    esac
done
case $PROFILE in full|lean) ;; *) echo "REPLYDESK_BUNDLE_PROFILE must be full or lean" >&2; exit 64 ;; esac
if [ ! -x "$VENV/bin/pyinstaller" ]; then
    echo "PyInstaller is missing from $VENV: run './dev.sh setup' first" >&2
    exit 1
fi

mkdir -p "$CACHE" "$PORTABLE"
exec 9>"$CACHE/.lock"
flock 9  # one heavy build at a time

if [ "$build_portable" = 1 ] && ! ls "$PORTABLE"/llama_cpp_python-0.3.36-*.whl >/dev/null 2>&1; then
    echo "== building $LLAMA portably into $PORTABLE (once)" >&2
    # --no-cache-dir: pip's own wheel cache would hand back (or keep) the native build.
    CMAKE_ARGS="$PORTABLE_CMAKE_ARGS" CMAKE_BUILD_PARALLEL_LEVEL=$(nproc) \
        nice -n 10 "$VENV/bin/pip" wheel --no-cache-dir --no-deps --no-binary llama-cpp-python \
        "$LLAMA" -w "$PORTABLE" >&2
fi
wheel=$(ls "$PORTABLE"/llama_cpp_python-0.3.36-*.whl 2>/dev/null | head -n 1 || true)
if [ -n "$wheel" ]; then
    llama_build="portable ($(basename "$wheel"), $(sha256sum "$wheel" | cut -c1-16))"
else
    llama_build="development build from $VENV (CPU-specific; run with --portable-llama for a release)"
fi

out=$CACHE/$PROFILE
bundle=$out/ReplyDesk
mkdir -p "$out"
{
    find app resources packaging -type f ! -path '*/__pycache__/*' ! -name '*.pyc' -print0 \
        | LC_ALL=C sort -z | xargs -0 sha256sum
    sha256sum models/manifest.json scripts/build_bundle.sh
    "$VENV/bin/pip" freeze --exclude-editable 2>/dev/null
    echo "profile=$PROFILE llama=$llama_build"
} > "$out/inputs.txt"
inputs=$(sha256sum < "$out/inputs.txt" | cut -c1-16)
if [ "$(cat "$bundle/.replydesk-inputs" 2>/dev/null)" = "$inputs" ]; then
    echo "== reusing $bundle (inputs unchanged: $inputs)" >&2
else
    echo "== building the $PROFILE bundle (llama.cpp: $llama_build)" >&2
    rm -rf "$out/work" "$out/next"
    pythonpath=""
    if [ -n "$wheel" ]; then
        # Only PyInstaller sees the portable llama_cpp; the development venv keeps its own.
        "$VENV/bin/pip" install --quiet --no-deps --target "$out/work/llama" "$wheel"
        pythonpath=$out/work/llama
    fi
    started=$(date +%s)
    PYTHONPATH=$pythonpath REPLYDESK_BUNDLE_PROFILE=$PROFILE nice -n 10 "$VENV/bin/pyinstaller" \
        --noconfirm --log-level WARN --distpath "$out/next" --workpath "$out/work/pyinstaller" \
        packaging/replydesk.spec >&2
    next=$out/next/ReplyDesk
    ln -s ReplyDesk "$next/replydesk"
    install -m 755 packaging/linux/install.sh "$next/install.sh"
    install -D -m 644 "packaging/linux/$ICON.desktop" "$next/share/applications/$ICON.desktop"
    install -D -m 644 "packaging/linux/$ICON.metainfo.xml" "$next/share/metainfo/$ICON.metainfo.xml"
    QT_QPA_PLATFORM=offscreen "$VENV/bin/python" packaging/linux/make_icons.py "$next/share"
    {
        echo "profile: $PROFILE"
        echo "llama.cpp: $llama_build"
        echo "built: $(date -u +%FT%TZ) in $(( $(date +%s) - started )) s"
    } > "$next/BUILD-INFO"
    echo "$inputs" > "$next/.replydesk-inputs"
    cp "$out/inputs.txt" "$next/.replydesk-inputs.txt"  # 'diff' it with the next one
    rm -rf "$bundle"
    mv "$next" "$bundle"
    rm -rf "$out/next" "$out/work"
fi
echo "== $(du -sh "$bundle" | cut -f1) in $bundle" >&2

if [ "$tarball" = 1 ]; then
    version=$("$VENV/bin/python" -c "import app; print(app.__version__)")
    mkdir -p dist
    tar -czf "dist/ReplyDesk-$version-linux-x86_64.tar.gz" -C "$out" ReplyDesk
    echo "== dist/ReplyDesk-$version-linux-x86_64.tar.gz" >&2
fi
echo "$bundle"
