//! `check --report FILE`: writes the support report, atomically and readable by the owner only,
//! after a last check that no form of the secret is in it.

use smtpdoctor_render::report::{self, Format, Options};
use smtpdoctor_report::check::CheckBody;
use smtpdoctor_report::{ExitCode, Report};
use smtpdoctor_session::Credential;
use smtpdoctor_session::redact::{Redactor, Secret};
use std::io::Write;
use std::path::Path;

/// Checks before the run that the report can be written where asked (the directory exists).
pub fn check_path(path: &Path) -> Result<(), String> {
    let dir = parent(path);
    if path.file_name().is_none() || !dir.is_dir() {
        return Err(format!(
            "--report {}: no such directory to write the report into",
            path.display()
        ));
    }
    if path.is_dir() {
        return Err(format!("--report {}: that is a directory", path.display()));
    }
    Ok(())
}

fn parent(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Renders and writes the report. Refuses (and writes nothing) when the text holds the secret
/// in any form the redactor knows: the transcript was scrubbed when it was recorded, so this
/// only fires on a bug, and then nothing leaks.
pub fn write(
    path: &Path,
    report: &Report<CheckBody>,
    credential: Option<&Credential>,
    redact_identity: bool,
) -> Result<(), (ExitCode, String)> {
    let format = Format::for_path(path);
    let text = report::check(
        report,
        &Options {
            format,
            redact_identity,
            public_hosts: smtpdoctor_knowledge::hosts::WELL_KNOWN_HOSTS,
        },
    );
    if let Some(credential) = credential {
        let mut redactor = Redactor::default();
        let secret = credential.secret();
        redactor.add_secret(secret);
        // The forms the writers make of it: HTML escaping, Markdown's backslashes.
        redactor.add_secret(&Secret::new(report::escape_html(secret.expose())));
        redactor.add_secret(&Secret::new(markdown_escaped(secret.expose())));
        if redactor.occurs_in(text.as_bytes()) {
            return Err((
                ExitCode::Internal,
                format!(
                    "refusing to write the report {}: it would contain the password or token (or an encoding of it). This is a bug in smtpdoctor; please report it",
                    path.display()
                ),
            ));
        }
    }
    atomic_write(path, text.as_bytes()).map_err(|e| {
        (
            ExitCode::Usage,
            format!("cannot write the report {}: {e}", path.display()),
        )
    })
}

fn markdown_escaped(secret: &str) -> String {
    secret
        .chars()
        .flat_map(|c| {
            let escape = "\\`*_[]<>|#!~".contains(c);
            escape.then_some('\\').into_iter().chain(std::iter::once(c))
        })
        .collect()
}

/// Writes to a new file beside the target (mode 0600 from its creation), then renames it over
/// the target: a reader sees the old report or the whole new one, never half.
fn atomic_write(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = parent(path);
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let mut last = None;
    for attempt in 0..16u32 {
        let tmp = dir.join(format!(".{name}.{}.{attempt}.tmp", std::process::id()));
        let mut open = std::fs::OpenOptions::new();
        open.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut open, 0o600);
        let mut file = match open.open(&tmp) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                last = Some(e);
                continue;
            }
            Err(e) => return Err(e),
        };
        let result = file
            .write_all(bytes)
            .and_then(|()| file.sync_all())
            .and_then(|()| std::fs::rename(&tmp, path));
        if result.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        return result;
    }
    Err(last.unwrap_or_else(|| std::io::Error::other("no temporary name free")))
}
