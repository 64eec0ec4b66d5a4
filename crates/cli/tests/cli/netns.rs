//! Where the connection dies: refused, dropped or unreachable, made real with network namespaces,
//! a veth pair and iptables rules inside the client's namespace (never the host's). Each test
//! makes its own pair of namespaces and removes them, even when it fails. Needs root.

use crate::*;
use std::io::BufRead;
use std::sync::atomic::{AtomicU32, Ordering};

static NEXT: AtomicU32 = AtomicU32::new(0);
/// Namespace and firewall tests run one at a time: iptables and the kernel's namespace set-up are
/// shared machinery, and a failing test is easier to read alone.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// A small SMTP server for the server namespace: greets, answers EHLO and QUIT.
const SERVER: &str = r#"
import socket, socketserver, sys, threading
class H(socketserver.StreamRequestHandler):
    def handle(self):
        self.wfile.write(b"220 netns.test ESMTP\r\n")
        for line in self.rfile:
            verb = line[:4].upper()
            if verb in (b"EHLO", b"HELO"):
                self.wfile.write(b"250-netns.test\r\n250 PIPELINING\r\n")
            elif verb == b"QUIT":
                self.wfile.write(b"221 bye\r\n")
                return
            else:
                self.wfile.write(b"250 ok\r\n")
class S(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True
servers = [S((a.rsplit(":", 1)[0], int(a.rsplit(":", 1)[1])), H) for a in sys.argv[1:]]
for s in servers:
    threading.Thread(target=s.serve_forever, daemon=True).start()
print("ready", flush=True)
sys.stdin.read()
"#;

/// A client and a server namespace joined by a veth pair: the client is 10.77.0.1, the server
/// 10.77.0.2 and, as an independent "control" host, 10.77.0.3.
struct Net {
    client: String,
    server: String,
    listener: Option<std::process::Child>,
    _turn: std::sync::MutexGuard<'static, ()>,
}

fn ip(args: &[&str]) -> bool {
    Command::new("ip")
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

impl Net {
    /// None (test skipped) when namespaces cannot be made here, unless the rig is required.
    fn new(listen: &[u16]) -> Option<Net> {
        let on: Vec<String> = listen.iter().map(|p| format!("10.77.0.2:{p}")).collect();
        Self::with(&on)
    }

    /// Listens on ADDR:PORT pairs in the server namespace.
    fn with(listen: &[String]) -> Option<Net> {
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        let id = format!("{}{n}", std::process::id() % 100_000);
        let turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
        let net = Net {
            client: format!("sdc{id}"),
            server: format!("sds{id}"),
            listener: None,
            _turn: turn,
        };
        let (vc, vs) = (format!("vc{id}"), format!("vs{id}"));
        let ok = ip(&["netns", "add", &net.client])
            && ip(&["netns", "add", &net.server])
            && ip(&["link", "add", &vc, "type", "veth", "peer", "name", &vs])
            && ip(&["link", "set", &vc, "netns", &net.client])
            && ip(&["link", "set", &vs, "netns", &net.server])
            && ip(&["-n", &net.client, "addr", "add", "10.77.0.1/29", "dev", &vc])
            && ip(&["-n", &net.server, "addr", "add", "10.77.0.2/29", "dev", &vs])
            && ip(&["-n", &net.server, "addr", "add", "10.77.0.3/29", "dev", &vs])
            && ip(&["-n", &net.client, "link", "set", &vc, "up"])
            && ip(&["-n", &net.server, "link", "set", &vs, "up"])
            && ip(&["-n", &net.client, "link", "set", "lo", "up"])
            && ip(&["-n", &net.server, "link", "set", "lo", "up"]);
        if !ok {
            assert!(
                std::env::var("SMTPDOCTOR_REQUIRE_RIG").is_err(),
                "cannot create network namespaces (root and iproute2 needed)"
            );
            eprintln!("skipped: cannot create network namespaces here");
            return None;
        }
        let mut net = net;
        let ports = listen;
        let mut child = Command::new("ip")
            .args(["netns", "exec", &net.server, "python3", "-c", SERVER])
            .args(ports)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 runs in the server namespace");
        let mut ready = String::new();
        let _ = std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut ready);
        assert_eq!(ready.trim(), "ready", "the namespace server started");
        net.listener = Some(child);
        Some(net)
    }

    /// Adds an iptables rule to the client's OUTPUT chain (its own namespace only).
    fn block(&self, port: u16, target: &[&str]) {
        self.rule(&self.client, &["OUTPUT"], port, target);
    }

    /// Adds an iptables rule in one of the test's namespaces: chain (and match), port, target.
    fn rule(&self, netns: &str, chain: &[&str], port: u16, target: &[&str]) {
        let port = port.to_string();
        let mut args = vec!["netns", "exec", netns, "iptables", "-A"];
        args.extend_from_slice(chain);
        args.extend_from_slice(&["-p", "tcp", "--dport", &port, "-j"]);
        args.extend_from_slice(target);
        let ok = Command::new("ip")
            .args(&args)
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "iptables {args:?}");
    }

    fn check(&self, args: &[&str]) -> Run {
        let started = Instant::now();
        let out = Command::new("ip")
            .args([
                "netns",
                "exec",
                &self.client,
                env!("CARGO_BIN_EXE_smtpdoctor"),
                "check",
            ])
            .args(args)
            .args(["--format", "json", "--timeout", "2"])
            .stdin(Stdio::null())
            .output()
            .expect("runs");
        Run::from_output(out, started)
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        if let Some(mut child) = self.listener.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        // Deleting the namespaces removes the veth pair and their iptables rules with them.
        ip(&["netns", "del", &self.client]);
        ip(&["netns", "del", &self.server]);
    }
}

#[test]
fn a_dropped_port_times_out() {
    let Some(net) = Net::new(&[25]) else { return };
    net.block(25, &["DROP"]);
    let run = net.check(&["10.77.0.2:25"]);
    assert!(
        run.elapsed < Duration::from_secs(8),
        "took {:?}",
        run.elapsed
    );
    let json = assert_verdict(&run, "problem", Some("timeout_or_blocked_port"), 10);
    assert_finding(&json, "net.connect.timeout");
}

#[test]
fn a_reset_is_refused() {
    let Some(net) = Net::new(&[587]) else { return };
    net.block(587, &["REJECT", "--reject-with", "tcp-reset"]);
    let json = assert_verdict(
        &net.check(&["10.77.0.2:587"]),
        "problem",
        Some("connection_refused"),
        10,
    );
    assert_finding(&json, "net.connect.refused");
}

#[test]
fn admin_prohibited_is_no_route() {
    let Some(net) = Net::new(&[587]) else { return };
    net.block(587, &["REJECT", "--reject-with", "icmp-admin-prohibited"]);
    let json = assert_verdict(
        &net.check(&["10.77.0.2:587"]),
        "problem",
        Some("network_unreachable"),
        10,
    );
    assert_finding(&json, "net.connect.unreachable");
}

#[test]
fn port_25_dropped_while_submission_answers() {
    let Some(net) = Net::new(&[25, 587]) else {
        return;
    };
    net.block(25, &["DROP"]);
    net.block(2525, &["REJECT", "--reject-with", "icmp-admin-prohibited"]);
    let run = net.check(&["10.77.0.2", "--ports", "25,587,2525"]);
    // Every port at once: about one timeout in all, not one per port.
    assert!(
        run.elapsed < Duration::from_secs(6),
        "took {:?}",
        run.elapsed
    );
    let json = assert_verdict(&run, "ok", None, 0);
    assert_eq!(json["working_settings"]["port"], 587);
    assert_finding(&json, "net.port25.blocked");
    let rejected = json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == "net.port.closed")
        .expect("2525 reported");
    assert_eq!(
        rejected["category"], "connection_refused",
        "unreachable on one port while others answer is a firewall"
    );
}

#[test]
fn a_control_host_tells_an_outbound_block() {
    let on = ["10.77.0.2:25", "10.77.0.2:587", "10.77.0.3:25"].map(String::from);
    let Some(net) = Net::with(&on) else { return };
    net.block(25, &["DROP"]);
    let args = ["10.77.0.2", "--ports", "25,587", "--control", "10.77.0.3"];
    let json = assert_verdict(&net.check(&args), "ok", None, 0);
    assert_finding(&json, "net.port25.blocked_outbound");
}

#[test]
fn a_control_host_tells_the_server_firewall() {
    let on = ["10.77.0.2:25", "10.77.0.2:587", "10.77.0.3:25"].map(String::from);
    let Some(net) = Net::with(&on) else { return };
    net.rule(&net.server, &["INPUT", "-d", "10.77.0.2"], 25, &["DROP"]);
    let args = ["10.77.0.2", "--ports", "25,587", "--control", "10.77.0.3"];
    let json = assert_verdict(&net.check(&args), "ok", None, 0);
    assert_finding(&json, "net.port25.server_firewall");
}
