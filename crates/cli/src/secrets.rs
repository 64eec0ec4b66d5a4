//! Reading secrets: from an environment variable, a file, or a no-echo prompt — never from argv.

use crate::UsageError;
use crate::args::CheckArgs;
use smtpdoctor_session::{Credential, Secret};
use std::io::IsTerminal;
use std::path::Path;

/// The credential the options name, if any. A `--user` without any source prompts, and only on
/// a terminal: without one it is an error, never a hang.
pub fn credential(args: &CheckArgs) -> Result<Option<Credential>, UsageError> {
    read(
        &Sources {
            password_env: args.password_env.as_deref(),
            password_file: args.password_file.as_deref(),
            oauth_token_env: args.oauth_token_env.as_deref(),
            oauth_token_file: args.oauth_token_file.as_deref(),
        },
        args.user.as_deref(),
    )
}

/// Where a command's options say a secret is.
pub struct Sources<'a> {
    /// `--password-env`.
    pub password_env: Option<&'a str>,
    /// `--password-file`.
    pub password_file: Option<&'a Path>,
    /// `--oauth-token-env`.
    pub oauth_token_env: Option<&'a str>,
    /// `--oauth-token-file`.
    pub oauth_token_file: Option<&'a Path>,
}

/// The credential the sources name; with none, a prompt for `prompt_for` (only on a terminal),
/// or no credential when `prompt_for` is None.
pub fn read(
    args: &Sources<'_>,
    prompt_for: Option<&str>,
) -> Result<Option<Credential>, UsageError> {
    if let Some(var) = args.password_env {
        return Ok(Some(Credential::Password(from_env(var, "--password-env")?)));
    }
    if let Some(path) = args.password_file {
        return Ok(Some(Credential::Password(from_file(
            path,
            "--password-file",
        )?)));
    }
    if let Some(var) = args.oauth_token_env {
        return Ok(Some(Credential::Token(from_env(var, "--oauth-token-env")?)));
    }
    if let Some(path) = args.oauth_token_file {
        return Ok(Some(Credential::Token(from_file(
            path,
            "--oauth-token-file",
        )?)));
    }
    let Some(user) = prompt_for else {
        return Ok(None);
    };
    if !std::io::stdin().is_terminal() {
        return Err(UsageError(format!(
            "--user {user} needs a password, and stdin is not a terminal to prompt on: use --password-env VAR or --password-file FILE"
        )));
    }
    let password = rpassword::prompt_password(format!("Password for {user}: "))
        .map_err(|e| UsageError(format!("cannot read the password from the terminal: {e}")))?;
    let secret = Secret::new(password);
    if secret.is_empty() {
        return Err(UsageError("the password is empty".into()));
    }
    Ok(Some(Credential::Password(secret)))
}

fn from_env(var: &str, option: &str) -> Result<Secret, UsageError> {
    let value = std::env::var(var).map_err(|e| match e {
        std::env::VarError::NotPresent => UsageError(format!(
            "{option} {var}: that environment variable is not set"
        )),
        std::env::VarError::NotUnicode(_) => {
            UsageError(format!("{option} {var}: the value is not valid UTF-8"))
        }
    })?;
    let secret = Secret::new(value);
    if secret.is_empty() {
        return Err(UsageError(format!("{option} {var}: the variable is empty")));
    }
    Ok(secret)
}

fn from_file(path: &Path, option: &str) -> Result<Secret, UsageError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| UsageError(format!("{option} {}: {e}", path.display())))?;
    // The first line only: files made with `echo` end in a newline, and nothing else belongs there.
    let first = text.lines().next().unwrap_or("").to_string();
    let secret = Secret::new(first);
    if secret.is_empty() {
        return Err(UsageError(format!(
            "{option} {}: the file's first line is empty",
            path.display()
        )));
    }
    Ok(secret)
}
