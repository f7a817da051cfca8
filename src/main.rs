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
