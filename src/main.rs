//! `sotay`: the command line of Sổ Tay. Everything lives in `cli/`, one module per noun; each
//! unpacks its arguments, calls the application layer (or, for the central server, the server
//! crate) and prints the result for a person (Vietnamese) or, with `--json`, for a program.

mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
