# The two commands of the README's quick start, and the checks CI runs.
#   make run    — the Sổ Tay desktop app on its embedded default: a local SQLite file, no server
#   make test   — every check and test
#   make cli ARGS='citizen list'  — the admin command line
.PHONY: run test cli deps ui lint unit e2e windows windows-installer deb bench

deps:
	@scripts/install-deps.sh

# The desktop shell embeds ui/dist, so the UI is built before any build of src-tauri.
ui: deps
	npm --prefix ui run build --silent

run: ui
	cargo run --release -p sotay-app

cli: deps
	cargo run --quiet --release --bin sotay -- $(ARGS)

lint: ui
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets --locked -- -D warnings

# The sync suite runs on SQLite and, through SOTAY_TEST_DATABASE_URL, on PostgreSQL; with
# SOTAY_REQUIRE_POSTGRES set a missing PostgreSQL fails the run instead of being skipped.
unit: lint
	@scripts/install-deps.sh test
	npm --prefix ui test --silent
	cd ui && npx --no-install tsc --noEmit -p .
	SOTAY_TEST_DATABASE_URL="$$(scripts/test-postgres.sh)" SOTAY_REQUIRE_POSTGRES=1 \
		cargo test --workspace --locked

# The real app under Xvfb, driven over WebDriver; screenshots land in docs/screenshots.
e2e: ui
	@scripts/install-deps.sh test
	cargo build --locked -p sotay-app -p sotay
	dbus-run-session -- python3 tests/e2e/ui_scenario.py "$${CARGO_TARGET_DIR:-target}/debug"

# Most volunteers' laptops run Windows. The installer is cross-built here, offline: a build for
# x86_64-pc-windows-gnu (MinGW) packed by makensis from packaging/windows/installer.nsi. The
# download is built with the `dist` profile (fat LTO, built for size), as the .deb is.
WINDOWS_PROFILE ?= dist
windows-installer: ui
	@scripts/install-deps.sh windows
	cargo build --profile $(WINDOWS_PROFILE) --locked --target x86_64-pc-windows-gnu -p sotay-app -p sotay
	@scripts/windows-installer.sh $(WINDOWS_PROFILE)

# The installer under Wine: silent install, imports, data location, upgrade, uninstall. The check
# builds the same code with the release profile: dist's fat LTO of two programs would add ~25
# minutes to every `make test` on this machine's two cores.
windows:
	$(MAKE) windows-installer WINDOWS_PROFILE=release
	@scripts/install-deps.sh test
	xvfb-run -a tests/windows/installer_check.sh \
		"$$(ls "$${CARGO_TARGET_DIR:-target}"/windows/SoTay_*_x64-setup.exe | tail -1)" \
		"$${CARGO_TARGET_DIR:-target}/x86_64-pc-windows-gnu/release"

test: unit e2e windows

# A Debian package of the desktop app (works offline; the `dist` profile, xz): the UI is
# built first by `ui`.
deb: ui
	@scripts/deb.sh

bench: ui
	cargo build --release --locked -p sotay-app -p sotay
	cargo build --release --locked -p sotay-app --example empty_window
	dbus-run-session -- python3 benches/citizens_screen.py "$${CARGO_TARGET_DIR:-target}/release" 10000
	cargo bench -p sotay-core --bench store
	cargo bench -p sotay-sheets --bench sheet
	npm --prefix benches/pouchdb ci --silent
	cargo bench --bench sync_push
	SOTAY_BENCH_DATABASE_URL=$$(scripts/test-postgres.sh) cargo bench -p sotay-server --bench ingest
	@scripts/deb.sh
