//! No password, token, AUTH payload (in any base64 alignment) or CRAM-MD5 response reaches any
//! output: stdout, stderr, JSON, transcript, or logs at RUST_LOG=trace — also when the server
//! echoes the payload back.

use crate::faults::TestLab;
use crate::*;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use smtpdoctor_lab::{Fault, LAB_USER};

pub(crate) const PASSWORD: &str = "Zebra-Quokka-8841-Distinct!";

/// Every form of `secret` that must never be printed.
pub(crate) fn forbidden(secret: &str, user: &str, host: &str, port: u16) -> Vec<String> {
    let mut forms = vec![secret.to_string()];
    // The payload of each mechanism, whole.
    forms.push(STANDARD.encode(format!("\0{user}\0{secret}")));
    forms.push(STANDARD.encode(secret));
    forms.push(STANDARD.encode(format!("user={user}\x01auth=Bearer {secret}\x01\x01")));
    forms.push(STANDARD.encode(format!(
        "n,a={user},\x01host={host}\x01port={port}\x01auth=Bearer {secret}\x01\x01"
    )));
    // The secret at every byte offset inside any payload: the base64 characters it alone decides.
    for offset in 0..3usize {
        let mut bytes = vec![b'x'; offset];
        bytes.extend_from_slice(secret.as_bytes());
        let encoded = STANDARD.encode(&bytes);
        let first = (8 * offset).div_ceil(6);
        let last = 8 * (offset + secret.len()) / 6;
        forms.push(encoded[first..last].to_string());
    }
    // The CRAM-MD5 answer to the lab's challenge, and its digest.
    let mut mac = Hmac::<md5::Md5>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(b"<1896.697170952@lab.test>");
    let digest: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    forms.push(STANDARD.encode(format!("{user} {digest}")));
    forms.push(digest);
    forms
}

fn assert_clean(run: &Run, forms: &[String], what: &str) {
    for form in forms {
        for (stream, text) in [("stdout", &run.stdout), ("stderr", &run.stderr)] {
            assert!(
                !text.contains(form.as_str()),
                "{what}: {stream} contains a secret form {form:?}"
            );
        }
    }
}

#[test]
fn no_secret_in_any_output_even_when_echoed() {
    let lab = TestLab::start(&[Fault::EchoAuth, Fault::Xoauth2, Fault::Healthy]);
    let echo_port: u16 = lab
        .addr(Fault::EchoAuth)
        .rsplit(':')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let forms = forbidden(PASSWORD, LAB_USER, "127.0.0.1", echo_port);
    let env = [("SECRET", PASSWORD), ("RUST_LOG", "trace")];
    let file = std::env::temp_dir().join(format!("smtpdoctor-secret-{}", std::process::id()));
    std::fs::write(&file, format!("{PASSWORD}\n")).unwrap();
    let file_arg = file.to_string_lossy().into_owned();
    let mut runs = 0;
    for format in ["json", "human"] {
        for mech in ["PLAIN", "LOGIN", "CRAM-MD5"] {
            for source in [
                ["--password-env", "SECRET"],
                ["--password-file", file_arg.as_str()],
            ] {
                let args = [
                    "--tls",
                    "implicit",
                    "--user",
                    LAB_USER,
                    source[0],
                    source[1],
                    "--auth-mech",
                    mech,
                    "--format",
                    format,
                    "--transcript",
                ];
                let run = lab.check(Fault::EchoAuth, &args, &env);
                assert_eq!(run.code, 12, "{mech}: {}{}", run.stdout, run.stderr);
                assert_clean(&run, &forms, mech);
                runs += 1;
            }
        }
        for mech in ["XOAUTH2", "OAUTHBEARER"] {
            for fault in [Fault::EchoAuth, Fault::Xoauth2] {
                let port: u16 = lab.addr(fault).rsplit(':').next().unwrap().parse().unwrap();
                let forms = forbidden(PASSWORD, LAB_USER, "127.0.0.1", port);
                let args = [
                    "--tls",
                    "implicit",
                    "--user",
                    LAB_USER,
                    "--oauth-token-env",
                    "SECRET",
                    "--auth-mech",
                    mech,
                    "--format",
                    format,
                    "--transcript",
                ];
                let run = lab.check(fault, &args, &env);
                assert_eq!(run.code, 12, "{mech}: {}{}", run.stdout, run.stderr);
                assert_clean(&run, &forms, mech);
                runs += 1;
            }
        }
        // A successful login and a wrong password on a well-behaved server.
        for mech in ["PLAIN", "LOGIN"] {
            let run = lab.check(
                Fault::Healthy,
                &[
                    "--user",
                    LAB_USER,
                    "--password-env",
                    "SECRET",
                    "--auth-mech",
                    mech,
                    "--format",
                    format,
                    "--transcript",
                ],
                &env,
            );
            assert_clean(&run, &forms, mech);
            runs += 1;
        }
    }
    let _ = std::fs::remove_file(&file);
    assert!(runs >= 20);
}

#[test]
fn no_secret_in_real_server_runs() {
    let Some(rig) = rig() else { return };
    let pass = rig["RM_PASS"].clone();
    let user = rig["RM_USER"].clone();
    let port = rig_port(&rig, "RM_SUBMISSION");
    let forms = forbidden(&pass, &user, "127.0.0.1", port);
    let sub = rig["RM_SUBMISSION"].clone();
    let ca = rig["RM_SELFSIGNED"].clone();
    let env = [
        ("SECRET", pass.as_str()),
        ("WRONG", PASSWORD),
        ("RUST_LOG", "trace"),
    ];
    let wrong = forbidden(PASSWORD, &user, "127.0.0.1", port);
    for mech in ["PLAIN", "LOGIN", "CRAM-MD5"] {
        for (var, forms) in [("SECRET", &forms), ("WRONG", &wrong)] {
            for format in ["json", "human"] {
                let run = smtpdoctor(
                    &[
                        "check",
                        &sub,
                        "--user",
                        &user,
                        "--password-env",
                        var,
                        "--auth-mech",
                        mech,
                        "--ca-file",
                        &ca,
                        "--to",
                        &user,
                        "--format",
                        format,
                        "--transcript",
                    ],
                    &env,
                );
                assert!(
                    run.code == 0 || run.code == 12,
                    "{mech}/{var}: {}",
                    run.stdout
                );
                assert_clean(&run, forms, mech);
            }
        }
    }
}

#[test]
fn redacted_lines_are_marked() {
    let lab = TestLab::start(&[Fault::Healthy]);
    let run = lab.check(
        Fault::Healthy,
        &[
            "--user",
            LAB_USER,
            "--password-env",
            "SECRET",
            "--auth-mech",
            "LOGIN",
        ],
        &[("SECRET", PASSWORD)],
    );
    let json = run.json();
    let redacted: Vec<&Value> = json["transcript"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["redacted"] == true)
        .collect();
    assert!(!redacted.is_empty());
    assert!(
        redacted
            .iter()
            .all(|e| e["text"].as_str().unwrap().contains("[redacted]"))
    );
}
