//! `trailwarden console hash-password`: the `password_hash` of a `[console]` user, from a
//! password read on stdin (never from the command line, where `ps` shows it).

use std::io::BufRead;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::Subcommand;

use super::auth::{PasswordHash, PBKDF2_ROUNDS};

#[derive(Debug, Subcommand)]
pub enum ConsoleCommand {
    /// Read a password on stdin (one line) and print its `password_hash` for `[[console.users]]`.
    HashPassword,
}

/// # Errors
/// stdin cannot be read, the password is shorter than 12 characters, or no randomness.
pub fn run(command: ConsoleCommand) -> Result<ExitCode> {
    match command {
        ConsoleCommand::HashPassword => {
            let mut line = String::new();
            std::io::stdin()
                .lock()
                .read_line(&mut line)
                .context("cannot read the password from stdin")?;
            let password = line.trim_end_matches(['\r', '\n']);
            if password.chars().count() < 12 {
                bail!("a console password has at least 12 characters");
            }
            println!("{}", PasswordHash::new(password, PBKDF2_ROUNDS)?);
            Ok(ExitCode::SUCCESS)
        }
    }
}
