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
    ensure_debian_packages build-essential pkg-config openssl
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

# The fault campaign (tests/soak.rs) shifts tablets' clocks with libfaketime.
ensure_soak_deps() {
    ensure_debian_packages faketime
}

# The packages' test: a clean Debian 12 root made by mmdebstrap, entered with chroot.
ensure_package_test_deps() {
    ensure_debian_packages mmdebstrap
}

# cargo-fuzz, for the fuzz targets in fuzz/ (a crate outside the workspace).
ensure_cargo_fuzz() {
    cargo fuzz --version >/dev/null 2>&1 || cargo install cargo-fuzz --locked
}

# Runs fuzz targets for $1 seconds each (the rest of the arguments: which targets; default all),
# each from its checked-in seeds (fuzz/seeds/<target>, copied into fuzz/corpus/<target>) and
# whatever earlier runs left in its corpus. Every target runs; the call fails at the end if any
# crashed, with the crashing input in fuzz/artifacts/<target>/ and the log in fuzz/logs/.
# Stable Rust: cargo-fuzz passes -Z flags (AddressSanitizer, coverage), allowed by RUSTC_BOOTSTRAP.
run_fuzz() {
    local seconds="$1"
    shift
    ensure_cargo_fuzz
    (
        cd fuzz
        export RUSTC_BOOTSTRAP=1
        local targets=("$@")
        [ ${#targets[@]} -gt 0 ] || mapfile -t targets < <(cargo fuzz list)
        # One build for all targets first, so that each target's seconds are spent fuzzing.
        cargo fuzz build ${FUZZ_PROFILE:-}
        mkdir -p logs
        local failed=() target
        for target in "${targets[@]}"; do
            mkdir -p "corpus/$target"
            [ ! -d "seeds/$target" ] || cp "seeds/$target"/* "corpus/$target/"
            echo "fuzz: $target for ${seconds}s"
            if cargo fuzz run ${FUZZ_PROFILE:-} "$target" "corpus/$target" -- -max_total_time="$seconds" -timeout=60 \
                > "logs/$target.log" 2>&1; then
                echo "fuzz: $target: $(grep -Eo 'Done [0-9]+ runs in [0-9]+ second' "logs/$target.log" | tail -1 | sed 's/ second/ s/'), no crash"
            else
                failed+=("$target")
                tail -n 40 "logs/$target.log"
                echo "fuzz: $target CRASHED; input in fuzz/artifacts/$target/, log in fuzz/logs/$target.log" >&2
            fi
        done
        if [ ${#failed[@]} -gt 0 ]; then
            echo "fuzz: crashes in ${failed[*]}" >&2
            exit 1
        fi
    )
}

# CI's fuzzing: every target for 20 seconds, built in the debug profile (AddressSanitizer kept):
# it builds in about 4 minutes cold instead of 9 to 13 and still runs thousands of inputs a
# second. scripts/fuzz's longer runs use the optimised build.
run_fuzz_smoke() {
    FUZZ_PROFILE=--dev run_fuzz 20
}

# PostgreSQL 15 from Debian's packages, for the intake's PostgreSQL store and its tests.
PG_BIN=/usr/lib/postgresql/15/bin
ensure_postgres() {
    [ -x "$PG_BIN/initdb" ] || ensure_debian_packages postgresql-15
}

# A private, throw-away PostgreSQL cluster on 127.0.0.1 and a free port, run as an
# unprivileged user (PostgreSQL refuses root); stopped and removed when the calling shell
# exits. Exports FIELDPOST_TEST_POSTGRES, the URL of its administrative database. Extra server
# settings may be given in FIELDPOST_TEST_POSTGRES_SETTINGS (`-c name=value ...`).
start_test_postgres() {
    ensure_postgres
    local owner port dir
    owner="$(id -un)"
    if [ "$(id -u)" -eq 0 ]; then
        owner=fieldpost-test
        id -u "$owner" >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin "$owner"
    fi
    dir="$(mktemp -d /tmp/fieldpost-pg.XXXXXX)"
    chown "$owner" "$dir"
    chmod 700 "$dir"
    port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
    as_owner() { if [ "$(id -u)" -eq 0 ]; then runuser -u "$owner" -- "$@"; else "$@"; fi; }
    as_owner "$PG_BIN/initdb" -D "$dir/data" -U fieldpost --auth=trust -E UTF8 --locale=C.UTF-8 > "$dir/initdb.log" 2>&1 \
        || { cat "$dir/initdb.log" >&2; return 1; }
    as_owner "$PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
        -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c max_connections=400 -c shared_buffers=128MB ${FIELDPOST_TEST_POSTGRES_SETTINGS:-}" start > /dev/null \
        || { cat "$dir/server.log" >&2; return 1; }
    TEST_PG_DIR="$dir"
    TEST_PG_OWNER="$owner"
    trap stop_test_postgres EXIT
    export FIELDPOST_TEST_POSTGRES="postgres://fieldpost@127.0.0.1:$port/postgres"
    echo "private PostgreSQL for the tests: $FIELDPOST_TEST_POSTGRES"
}

stop_test_postgres() {
    [ -n "${TEST_PG_DIR:-}" ] || return 0
    if [ "$(id -u)" -eq 0 ]; then
        runuser -u "$TEST_PG_OWNER" -- "$PG_BIN/pg_ctl" -D "$TEST_PG_DIR/data" -m immediate stop > /dev/null 2>&1 || true
    else
        "$PG_BIN/pg_ctl" -D "$TEST_PG_DIR/data" -m immediate stop > /dev/null 2>&1 || true
    fi
    rm -rf "$TEST_PG_DIR"
    TEST_PG_DIR=""
}
