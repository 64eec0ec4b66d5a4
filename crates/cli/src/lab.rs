//! `smtpdoctor lab`: practice servers with known faults, and a demo that diagnoses each.

use crate::args::{CheckArgs, Format, LabArgs, NetArgs, TlsArg};
use crate::{UsageError, build_report};
use smtpdoctor_lab::{Fault, LAB_PASSWORD, LAB_USER, Lab};
use smtpdoctor_render::Palette;
use smtpdoctor_report::{Category, ExitCode, Status};
use smtpdoctor_session::{Credential, Secret, run_check};
use std::path::PathBuf;

/// What the demo runs against each server, and the diagnosis it expects.
struct DemoCase {
    fault: Fault,
    tls: TlsArg,
    credentials: bool,
    expect: Option<Category>,
    story: &'static str,
}

const DEMO: [DemoCase; 7] = [
    DemoCase {
        fault: Fault::Healthy,
        tls: TlsArg::Auto,
        credentials: true,
        expect: None,
        story: "a healthy server, automatic TLS mode",
    },
    DemoCase {
        fault: Fault::ImplicitTlsOnly,
        tls: TlsArg::Starttls,
        credentials: true,
        expect: Some(Category::TlsMismatch),
        story: "a client set to STARTTLS against an implicit-TLS port",
    },
    DemoCase {
        fault: Fault::StarttlsRequired,
        tls: TlsArg::None,
        credentials: true,
        expect: Some(Category::TlsMismatch),
        story: "a client set to no encryption where STARTTLS is required",
    },
    DemoCase {
        fault: Fault::Tarpit,
        tls: TlsArg::Auto,
        credentials: false,
        expect: Some(Category::ServerUnavailable),
        story: "a server that never greets",
    },
    DemoCase {
        fault: Fault::Greeting421,
        tls: TlsArg::Auto,
        credentials: false,
        expect: Some(Category::ServerUnavailable),
        story: "a server that refuses at the greeting",
    },
    DemoCase {
        fault: Fault::UntrustedCert,
        tls: TlsArg::Auto,
        credentials: true,
        expect: Some(Category::TlsCertificate),
        story: "a self-signed certificate",
    },
    DemoCase {
        fault: Fault::DropMidSession,
        tls: TlsArg::Auto,
        credentials: false,
        expect: Some(Category::ServerUnavailable),
        story: "a server that hangs up mid-session",
    },
];

pub async fn run(args: LabArgs, palette: Palette) -> Result<ExitCode, UsageError> {
    let lab = Lab::start(&Fault::LAB)
        .await
        .map_err(|e| UsageError(format!("cannot start the lab on 127.0.0.1: {e}")))?;
    let ca_file =
        std::env::temp_dir().join(format!("smtpdoctor-lab-{}-ca.pem", std::process::id()));
    std::fs::write(&ca_file, &lab.certs.ca_pem)
        .map_err(|e| UsageError(format!("cannot write {}: {e}", ca_file.display())))?;
    let result = if args.demo {
        demo(&lab, &ca_file, palette).await
    } else {
        serve(&lab, &ca_file, args.duration).await
    };
    let _ = std::fs::remove_file(&ca_file);
    result
}

async fn serve(
    lab: &Lab,
    ca_file: &std::path::Path,
    duration: Option<u64>,
) -> Result<ExitCode, UsageError> {
    println!(
        "smtpdoctor lab: practice servers on loopback (login {LAB_USER}, password in SMTPDOCTOR_LAB_PASSWORD below)"
    );
    println!("  export SMTPDOCTOR_LAB_PASSWORD={LAB_PASSWORD}   # a public practice value");
    for s in &lab.servers {
        println!(
            "  {:<18} {:<16} {}",
            s.fault.name(),
            s.addr,
            s.fault.describe()
        );
    }
    let healthy = lab
        .server(Fault::Healthy)
        .map(|s| s.addr.to_string())
        .unwrap_or_default();
    println!(
        "\nTry: smtpdoctor check {healthy} --ca-file {} --user {LAB_USER} --password-env SMTPDOCTOR_LAB_PASSWORD --to friend@lab.test",
        ca_file.display()
    );
    println!("Stop with Ctrl-C.");
    match duration {
        Some(secs) => tokio::time::sleep(std::time::Duration::from_secs(secs)).await,
        None => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
    Ok(ExitCode::Ok)
}

async fn demo(
    lab: &Lab,
    ca_file: &std::path::Path,
    palette: Palette,
) -> Result<ExitCode, UsageError> {
    let mut all_as_expected = true;
    for case in &DEMO {
        let Some(server) = lab.server(case.fault) else {
            continue;
        };
        let args = CheckArgs {
            target: server.addr.to_string(),
            port: None,
            ports: None,
            mx: false,
            control: None,
            proxy: None,
            tls: case.tls,
            user: case.credentials.then(|| LAB_USER.to_string()),
            password_env: None,
            password_file: None,
            oauth_token_env: None,
            oauth_token_file: None,
            auth_mech: None,
            from: Some(LAB_USER.to_string()),
            to: vec!["friend@lab.test".to_string()],
            send: false,
            helo: Some("demo.lab.test".into()),
            insecure: false,
            transcript: false,
            format: Format::Human,
            report: None,
            redact_identity: false,
            public_ip: None,
            tls_probe_after: 1.0,
            password_argv: None,
            net: NetArgs {
                dns: None,
                resolve: vec![],
                connect_to: vec![],
                ca_file: Some(PathBuf::from(ca_file)),
                trust_anchor: None,
                ipv4: false,
                ipv6: false,
                timeout: 3.0,
                deadline: 30.0,
            },
        };
        // The lab's password is built in; it goes through the same Secret handling as any other.
        let credential = case
            .credentials
            .then(|| Credential::Password(Secret::new(LAB_PASSWORD.to_string())));
        let opts = crate::check_options(&args, credential)?;
        println!(
            "{}",
            palette.bold(&format!(
                "━━ lab server '{}': {} ━━",
                case.fault.name(),
                case.story
            ))
        );
        let shown = format!(
            "$ smtpdoctor check {} --tls {}{} --from {LAB_USER} --to friend@lab.test --ca-file lab-ca.pem",
            server.addr,
            format!("{:?}", case.tls).to_lowercase(),
            if case.credentials {
                format!(" --user {LAB_USER} --password-env SMTPDOCTOR_LAB_PASSWORD")
            } else {
                String::new()
            }
        );
        println!("{}", palette.dim(&shown));
        let run = run_check(&opts, &|_: &str| {}).await;
        let (report, _) = build_report(&opts, run, None);
        print!(
            "{}",
            smtpdoctor_render::human::check(&report, palette, false)
        );
        println!();
        let as_expected = match case.expect {
            None => report.verdict.status == Status::Ok,
            Some(c) => report.verdict.category == Some(c),
        };
        all_as_expected &= as_expected;
    }
    Ok(if all_as_expected {
        ExitCode::Ok
    } else {
        ExitCode::Problem
    })
}
