//! The test message `--send` delivers: small, well formed, easy to find in a mailbox.

/// A unique Message-ID in the sender's domain.
pub fn message_id(from: &str) -> String {
    let mut random = [0u8; 12];
    if getrandom::fill(&mut random).is_err() {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        random[..12].copy_from_slice(&nanos.to_le_bytes()[..12]);
    }
    let domain = from
        .rsplit_once('@')
        .map(|(_, d)| d)
        .filter(|d| !d.is_empty())
        .unwrap_or("smtpdoctor.invalid");
    format!(
        "<smtpdoctor.{}@{}>",
        crate::tls::hex(&random),
        domain.trim_end_matches('>')
    )
}

/// The whole message, CRLF line ends, dot-stuffed, ending with the final `.` line.
pub fn build(from: &str, to: &[String], message_id: &str, helo: &str) -> Vec<u8> {
    let now = time::OffsetDateTime::now_utc();
    let date = now
        .format(&time::format_description::well_known::Rfc2822)
        .unwrap_or_default();
    let text = format!(
        "Date: {date}\r\n\
         From: <{from}>\r\n\
         To: {to}\r\n\
         Subject: smtpdoctor test message {message_id}\r\n\
         Message-ID: {message_id}\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\
         Content-Transfer-Encoding: 7bit\r\n\
         X-Mailer: smtpdoctor {version}\r\n\
         \r\n\
         This is a test message sent by smtpdoctor to check that mail can be sent\r\n\
         from {from} through this server (client name {helo}).\r\n\
         It needs no reply.\r\n",
        to = to
            .iter()
            .map(|t| format!("<{t}>"))
            .collect::<Vec<_>>()
            .join(", "),
        version = env!("CARGO_PKG_VERSION"),
    );
    let mut out = Vec::with_capacity(text.len() + 8);
    for line in text.split_inclusive("\r\n") {
        if line.starts_with('.') {
            out.push(b'.');
        }
        out.extend_from_slice(line.as_bytes());
    }
    out.extend_from_slice(b".\r\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn well_formed() {
        let id = message_id("me@example.org");
        assert!(id.starts_with("<smtpdoctor.") && id.ends_with("@example.org>"));
        let msg = String::from_utf8(build(
            "me@example.org",
            &["you@example.net".into()],
            &id,
            "client.example",
        ))
        .unwrap();
        assert!(msg.contains("\r\nMessage-ID: <smtpdoctor."));
        assert!(msg.starts_with("Date: "));
        assert!(msg.ends_with("\r\n.\r\n"));
        assert!(!msg.replace("\r\n", "").contains('\n'));
    }
}
