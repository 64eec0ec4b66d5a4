//! DNS failures a real authoritative server does not give on demand: SERVFAIL and silence, from a
//! tiny in-process DNS responder on loopback (UDP, and TCP that accepts and says nothing).

use crate::*;
use std::net::{TcpListener, UdpSocket};

/// How the fake server answers every query.
#[derive(Clone, Copy)]
pub(crate) enum Answer {
    ServFail,
    Silence,
}

/// Starts the responder on 127.0.0.1 (UDP and TCP on one port); it lives as long as the test.
pub(crate) fn fake_dns(answer: Answer) -> String {
    let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = udp.local_addr().unwrap().port();
    // TCP on the same port: accept and hold, so a retry over TCP gets no answer either.
    let tcp = TcpListener::bind(("127.0.0.1", port)).ok();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        if let Some(tcp) = tcp {
            tcp.set_nonblocking(true).ok();
            std::thread::spawn(move || {
                loop {
                    if let Ok((s, _)) = tcp.accept() {
                        held.push(s);
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
            });
        }
        let mut buf = [0u8; 512];
        while let Ok((n, from)) = udp.recv_from(&mut buf) {
            if n < 12 {
                continue;
            }
            if let Answer::ServFail = answer {
                // The query back, as a response (QR), recursion available, RCODE 2.
                let mut reply = buf[..n].to_vec();
                reply[2] = 0x80 | (buf[2] & 0x01);
                reply[3] = 0x80 | 0x02;
                reply[6..12].fill(0);
                let _ = udp.send_to(&reply, from);
            }
        }
    });
    format!("127.0.0.1:{port}")
}

#[test]
fn servfail_and_silence_are_told_apart() {
    let dns = fake_dns(Answer::ServFail);
    let json = assert_verdict(
        &smtpdoctor(
            &[
                "check",
                "mail.example.test:587",
                "--dns",
                &dns,
                "--format",
                "json",
                "--timeout",
                "2",
            ],
            &[],
        ),
        "problem",
        Some("dns"),
        10,
    );
    assert_finding(&json, "dns.server_failure");
    assert_eq!(json["verdict"]["retry"], "temporary");
    let dns = fake_dns(Answer::Silence);
    let run = smtpdoctor(
        &[
            "check",
            "mail.example.test:587",
            "--dns",
            &dns,
            "--format",
            "json",
            "--timeout",
            "2",
        ],
        &[],
    );
    assert!(
        run.elapsed < Duration::from_secs(10),
        "took {:?}",
        run.elapsed
    );
    let json = assert_verdict(&run, "problem", Some("dns"), 10);
    assert_finding(&json, "dns.timeout");
}
