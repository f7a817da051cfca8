# The two commands of the README's quick start, and the checks CI runs.
#   make run                     — Sổ Tay on its embedded default: a local SQLite file, no server
#   make run ARGS='citizen list' — any CLI command
#   make test                    — every check and test (starts PostgreSQL for the sync suite)
.PHONY: run test deps lint bench

ARGS ?= --help

deps:
	@scripts/install-deps.sh

run: deps
	cargo run --quiet --release --bin sotay -- $(ARGS)

lint: deps
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets --locked -- -D warnings

# The sync suite runs on SQLite and, through SOTAY_TEST_DATABASE_URL, on PostgreSQL; with
# SOTAY_REQUIRE_POSTGRES set a missing PostgreSQL fails the run instead of being skipped.
test: lint
	@scripts/install-deps.sh test
	SOTAY_TEST_DATABASE_URL="$$(scripts/test-postgres.sh)" SOTAY_REQUIRE_POSTGRES=1 \
		cargo test --workspace --locked

bench: deps
	cargo bench -p sotay-core --bench store
