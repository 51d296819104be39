use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = trailwarden::cli::Cli::parse();
    trailwarden::cli::init_logging(&cli);
    match trailwarden::cli::run(cli) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(2)
        }
    }
}
