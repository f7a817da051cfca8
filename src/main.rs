//! `sotay`: the command line of Sổ Tay. Everything lives in `cli/`, one module per noun; each
//! unpacks its arguments, calls the application layer (or, for the central server, the server
//! crate) and prints the result for a person (Vietnamese) or, with `--json`, for a program.

mod cli;

// `sotay serve` allocates and frees a merged state per record it ingests (see Cargo.toml).
#[cfg(not(windows))]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    cli::main()
}

/// For a command that exits within seconds (all but `serve`): no transparent huge pages.
/// mimalloc asks for them, and the kernel then zeroes a whole 2 MiB page on its first touch, so
/// a process that lives for one sync pays for clearing memory it never uses (a whole first sync:
/// 0.75 → 0.72 s, docs/benchmarks.md). A server that runs for weeks reuses its pages and keeps
/// them.
pub(crate) fn short_lived() {
    #[cfg(target_os = "linux")]
    // A kernel without the switch only runs the command a little slower.
    let _ = rustix::thread::disable_transparent_huge_pages(true);
}
