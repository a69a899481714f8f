# Shared by the scripts: make sure this Debian 12 machine has what the build needs.
set -euo pipefail

# Debian packages the workspace needs, installed only when missing.
ensure_debian_packages() {
    local missing=()
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        echo "installing Debian packages: ${missing[*]}"
        local sudo=""
        [ "$(id -u)" -eq 0 ] || sudo="sudo"
        $sudo apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
    fi
}

ensure_toolchain() {
    if ! command -v cargo >/dev/null 2>&1; then
        [ -x "$HOME/.cargo/bin/cargo" ] && export PATH="$HOME/.cargo/bin:$PATH"
    fi
    command -v cargo >/dev/null 2>&1 || { echo "error: cargo (Rust 1.80 or newer) is required" >&2; exit 1; }
    # A C compiler for the bundled SQLite and zstd.
    ensure_debian_packages build-essential pkg-config
}

# Node.js and npm for the front end (ui/). This machine kind ships Node 20; elsewhere Debian's.
ensure_node() {
    command -v npm >/dev/null 2>&1 || ensure_debian_packages nodejs npm
}

# What the enumerator's app (src-tauri/) needs to build on Debian 12.
ensure_app_build_deps() {
    ensure_debian_packages libwebkit2gtk-4.1-dev
    ensure_node
}

# The front end, built into ui/dist (embedded into the app when it compiles). Not `npm ci`:
# the lock file written here lacks other platforms' optional packages (rollup's), which
# `npm ci` refuses; `npm install --no-save` keeps every locked version and changes no file.
build_ui() {
    (cd ui && npm install --no-audit --no-fund --no-save --loglevel=error && npm run build)
}

# The app's end-to-end test: a virtual display, Debian's WebKitWebDriver, and tauri-driver.
ensure_app_test_deps() {
    ensure_debian_packages xvfb xauth webkit2gtk-driver xdotool
    local driver="${CARGO_HOME:-$HOME/.cargo}/bin/tauri-driver"
    [ -x "$driver" ] || cargo install tauri-driver --locked --version 2.1.0
}

# The centre pages' browser test: Debian's Chromium driven by Playwright (playwright-core only:
# it never downloads a browser of its own).
ensure_browser_test_deps() {
    ensure_debian_packages chromium
    ensure_node
    (cd tests/web && npm install --no-audit --no-fund --no-save --loglevel=error)
}
