#!/usr/bin/env python3
"""Where a whole `sotay sync` spends its CPU, from a profile the sync bench recorded.

    SOTAY_BENCH_LOOPBACK_ONLY=1 SOTAY_BENCH_PROFILE_TO=/tmp/sync.perf \
        cargo bench --bench sync_push
    perf script -i /tmp/sync.perf -F comm,pid,tid,ip,sym | python3 benches/sync_profile.py

Prints, for the laptop (the `sotay` process) and the server (the bench's own process), the
milliseconds of CPU in each step, as a Markdown table. A sample counts for the first step
(in the order below) that any frame of its call stack names.
"""

import collections
import re
import sys

# The bench's `perf record -F 2000` (benches/sync_push.rs).
SAMPLES_PER_SECOND = 2000

# (step, pattern over a frame's symbol), first match wins.
STEPS = [
    # Argon2id since the eighth session; PBKDF2 when a store keyed the old way is opened.
    ("unlocking the store (key derivation)", r"argon2::|PBKDF2|cipher_ctx_key_derive"),
    # OpenSSL's SHA-512 and AES are hand-written assembly without unwind tables: their samples
    # carry no caller. SQLCipher uses them for the key (above, when unwound) and for every page.
    ("SQLCipher page and key crypto (callers not unwound)", r"^(sha512_|SHA512_|aesni_|EVP_)"),
    ("reading the outbox", r"sotay_core::outbox::pending"),
    ("writing acknowledgements", r"mark_acked|note_refused"),
    ("zstd compression", r"ZSTD_compress|compress_json|compress_body"),
    ("encoding push JSON", r"EncodedPush::new"),
    ("pulling and applying", r"sotay_sync::engine::pull|apply_pulled_page"),
    ("server: decompressing and decoding the push", r"decompress_body|decode_push|from_slice"),
    ("server: checking and merging (plan_batch)", r"sotay_server::apply::plan_batch"),
    ("server: reading and writing SQLite", r"sotay_server::store|sotay_server::apply"),
    ("server: other", r"sotay_server::"),
    ("SQLite (WAL checkpoints, other)", r"^sqlite3|walCheckpoint|sqlite3WalCheckpoint"),
    ("HTTP and the async runtime", r"hyper::|reqwest::|tokio::|axum::"),
]
COMPILED = [(step, re.compile(pattern)) for step, pattern in STEPS]


def samples(lines):
    """Yields (command, pid, frames leaf first) for each sample of `perf script`."""
    header = re.compile(r"^(\S.*?)\s+(\d+)/(\d+)\s*$")
    current = None
    for line in lines:
        if not line.strip():
            if current:
                yield current
            current = None
            continue
        match = header.match(line)
        if match:
            current = (match.group(1), match.group(2), [])
        elif current is not None:
            parts = line.strip().split(None, 1)
            current[2].append(parts[1] if len(parts) > 1 else parts[0])
    if current:
        yield current


def step_of(frames):
    for step, pattern in COMPILED:
        if any(pattern.search(frame) for frame in frames):
            return step
    if frames and re.search(r"clear_page|page_fault|do_anonymous_page", frames[0]):
        return "the kernel zeroing and mapping memory"
    return "other"


def main():
    by_process = collections.defaultdict(collections.Counter)
    commands = collections.defaultdict(set)
    for command, pid, frames in samples(sys.stdin):
        if pid == "0":
            continue
        by_process[pid][step_of(frames)] += 1
        commands[pid].add(command)
    ms = lambda n: n * 1000 / SAMPLES_PER_SECOND
    busiest = sorted(by_process, key=lambda p: -sum(by_process[p].values()))[:2]
    for pid in busiest:
        who = "laptop (`sotay sync`)" if "sotay" in commands[pid] else "server (bench process)"
        steps = by_process[pid]
        print(f"\n{who}: {ms(sum(steps.values())):.0f} ms of CPU\n")
        print("| step | CPU ms |")
        print("| --- | --- |")
        for step, count in steps.most_common():
            if ms(count) >= 5:
                print(f"| {step} | {ms(count):.0f} |")


if __name__ == "__main__":
    main()
