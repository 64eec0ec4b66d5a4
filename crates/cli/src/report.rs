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
    write_text(path, &text, credential)
}

/// Writes a rendered report (of any command), after the same last check for the secret.
pub fn write_text(
    path: &Path,
    text: &str,
    credential: Option<&Credential>,
) -> Result<(), (ExitCode, String)> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use smtpdoctor_report::{Confidence, Direction, Entry, Status, Verdict};

    const SECRET: &str = "Pelican<&>-Vortex-5512";

    /// A report whose transcript line is given (as a bug in redaction would leave it).
    fn report_with(line: &str) -> Report<CheckBody> {
        let mut body = CheckBody::default();
        body.transcript.entries.push(Entry {
            t_ms: 1,
            conn: 1,
            dir: Direction::Sent,
            tls: true,
            text: line.to_string(),
            bytes_b64: None,
            redacted: false,
        });
        Report {
            schema_version: 1,
            command: "check".into(),
            tool_version: "0".into(),
            knowledge_version: "0".into(),
            target: serde_json::json!({ "host": "mail.test", "port": 587, "tls": "starttls", "user": "me@mail.test" }),
            started_at: "2026-11-28T00:00:00Z".into(),
            duration_ms: 1,
            verdict: Verdict {
                status: Status::Ok,
                category: None,
                retry: None,
                confidence: Confidence::High,
                alternatives: vec![],
                summary: "ok".into(),
                fix: vec![],
                evidence: vec![],
            },
            findings: vec![],
            body,
        }
    }

    #[test]
    fn refuses_a_report_holding_the_secret() {
        let dir = std::env::temp_dir().join(format!("smtpdoctor-refuse-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let credential = Credential::Password(Secret::new(SECRET.into()));
        let plain =
            base64::engine::general_purpose::STANDARD.encode(format!("\0me@mail.test\0{SECRET}"));
        for line in [format!("echo {SECRET}"), format!("AUTH PLAIN {plain}")] {
            for name in ["r.md", "r.html"] {
                let path = dir.join(name);
                let err = write(&path, &report_with(&line), Some(&credential), false)
                    .expect_err("refused");
                assert_eq!(err.0, ExitCode::Internal);
                assert!(err.1.contains("refusing"), "{}", err.1);
                assert!(!err.1.contains(SECRET));
                assert!(!path.exists(), "nothing written");
            }
        }
        // A clean report is written, owner-only.
        let path = dir.join("ok.md");
        write(
            &path,
            &report_with("AUTH PLAIN [redacted]"),
            Some(&credential),
            false,
        )
        .unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        assert_eq!(
            std::fs::read_dir(&dir).unwrap().count(),
            1,
            "no temporary file left"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
