//! RFC 3464 delivery-status fields: the per-message block and one block per recipient, read
//! leniently (missing blank lines, folded values, type prefixes such as `rfc822;` and `smtp;`).

/// The fields of one DSN, as written.
#[derive(Debug, Default, Clone)]
pub struct DeliveryStatus {
    /// Reporting-MTA, without its type prefix.
    pub reporting_mta: Option<String>,
    /// Arrival-Date.
    pub arrival_date: Option<String>,
    /// One entry per recipient block.
    pub recipients: Vec<RecipientFields>,
}

/// The fields of one recipient block.
#[derive(Debug, Default, Clone)]
pub struct RecipientFields {
    /// The address to report: Original-Recipient when it is a usable address (the one the
    /// sender wrote), else Final-Recipient (or X-Actual-Recipient).
    pub final_recipient: Option<String>,
    /// Original-Recipient address.
    pub original_recipient: Option<String>,
    /// Action (`failed`, `delayed`, ...), lower case.
    pub action: Option<String>,
    /// Status, only the code.
    pub status: Option<String>,
    /// Remote-MTA, without its type prefix.
    pub remote_mta: Option<String>,
    /// Diagnostic-Code, without its type prefix, unfolded.
    pub diagnostic: Option<String>,
    /// The Diagnostic-Code names the local delivery program (`X-Unix;`, `X-Postfix;`), not SMTP.
    pub from_mailer: bool,
    /// Last-Attempt-Date.
    pub last_attempt_date: Option<String>,
    /// Per-recipient Reporting-MTA, when a block repeats it.
    pub reporting_mta: Option<String>,
    /// Per-recipient Arrival-Date, when a block repeats it.
    pub arrival_date: Option<String>,
}

/// Strips an RFC 3464 type prefix (`rfc822;`, `dns;`, `smtp;`, `X-Postfix;`).
fn untyped(value: &str) -> &str {
    match value.split_once(';') {
        Some((kind, rest))
            if !kind.is_empty()
                && kind.len() <= 16
                && kind
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b' ') =>
        {
            rest.trim()
        }
        _ => value.trim(),
    }
}

/// Cleans an address value: type prefix, angle brackets, quotes.
pub fn address_value(value: &str) -> Option<String> {
    let v = untyped(value);
    let v = v.trim().trim_start_matches('<');
    let v = v
        .split(['>', ' ', '\t'])
        .next()
        .unwrap_or("")
        .trim_matches(['"', '\'', ',']);
    (v.contains('@') || !v.is_empty())
        .then(|| v.to_string())
        .filter(|s| !s.is_empty())
}

/// Reads the text of a message/delivery-status part.
pub fn parse(text: &str) -> DeliveryStatus {
    let mut out = DeliveryStatus::default();
    let mut current: Option<RecipientFields> = None;
    let mut lines = unfold(text);
    lines.push(String::new());
    for line in lines {
        if line.trim().is_empty() {
            if let Some(r) = current.take()
                && (r.final_recipient.is_some() || r.original_recipient.is_some())
            {
                out.recipients.push(r);
            }
            continue;
        }
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let name = name.trim().to_ascii_lowercase();
        let value = value.trim();
        let r = current.get_or_insert_with(RecipientFields::default);
        match name.as_str() {
            "final-recipient" | "x-actual-recipient" => {
                if name == "final-recipient" && r.final_recipient.is_some() {
                    // Two recipients without a blank line between them.
                    let done = std::mem::take(r);
                    out.recipients.push(done);
                }
                let r = current.get_or_insert_with(RecipientFields::default);
                if r.final_recipient.is_none() || name == "final-recipient" {
                    r.final_recipient = address_value(value);
                }
            }
            "original-recipient" => {
                if r.original_recipient.is_some() && r.final_recipient.is_some() {
                    let done = std::mem::take(r);
                    out.recipients.push(done);
                }
                let r = current.get_or_insert_with(RecipientFields::default);
                r.original_recipient = address_value(value);
            }
            "action" => {
                r.action = Some(
                    value
                        .split_whitespace()
                        .next()
                        .unwrap_or("")
                        .to_ascii_lowercase(),
                )
            }
            "status" => r.status = status_value(value),
            "remote-mta" => {
                r.remote_mta = Some(untyped(value).to_string()).filter(|s| !s.is_empty())
            }
            "diagnostic-code" => {
                r.diagnostic = Some(untyped(value).to_string()).filter(|s| !s.is_empty());
                let kind = value
                    .split_once(';')
                    .map(|(k, _)| k.trim().to_ascii_lowercase());
                r.from_mailer = matches!(kind.as_deref(), Some("x-unix" | "x-postfix"));
            }
            "last-attempt-date" => r.last_attempt_date = Some(value.to_string()),
            "reporting-mta" => {
                let v = Some(untyped(value).to_string());
                if out.reporting_mta.is_none() {
                    out.reporting_mta = v.clone();
                }
                r.reporting_mta = v;
            }
            "arrival-date" => {
                if out.arrival_date.is_none() {
                    out.arrival_date = Some(value.to_string());
                }
                r.arrival_date = Some(value.to_string());
            }
            _ => {}
        }
    }
    for r in &mut out.recipients {
        // The address the sender used (Original-Recipient, RFC 3464 2.3.1) is the one to report:
        // Final-Recipient is where an alias or forward led, which the sender never wrote.
        // X.400 forms, names without a real domain and Exchange-encapsulated (IMCEA...) names
        // are not addresses anyone can act on, so the other field is kept then.
        if r.final_recipient.is_none()
            || (usable(r.original_recipient.as_deref())
                && !r
                    .original_recipient
                    .as_deref()
                    .zip(r.final_recipient.as_deref())
                    .is_some_and(|(o, f)| o.eq_ignore_ascii_case(f)))
        {
            r.final_recipient = r.original_recipient.clone();
        }
    }
    out
}

/// Whether an address value is a real mail address someone can act on.
pub fn usable(address: Option<&str>) -> bool {
    address.is_some_and(|a| {
        a.rsplit_once('@').is_some_and(|(l, d)| {
            !l.is_empty()
                && !l.starts_with('/')
                && !l.get(..5).is_some_and(|p| p.eq_ignore_ascii_case("imcea"))
                && d.contains('.')
                && !d.starts_with('.')
                && !d.ends_with('.')
        })
    })
}

/// The status code at the start of a Status value (`5.1.1 (bad mailbox)` → `5.1.1`).
fn status_value(value: &str) -> Option<String> {
    let code = value.split_whitespace().next()?;
    let code = code.trim_matches(|c: char| !c.is_ascii_digit());
    smtpdoctor_knowledge::enhanced_in(code).filter(|c| c == code)
}

/// Joins folded lines (continuations start with white space).
fn unfold(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for line in text.lines() {
        if (line.starts_with(' ') || line.starts_with('\t'))
            && !line.trim().is_empty()
            && let Some(last) = out.last_mut()
            && !last.trim().is_empty()
        {
            last.push(' ');
            last.push_str(line.trim());
        } else {
            out.push(line.trim_end().to_string());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_recipients_and_folded_diagnostic() {
        let d = parse(
            "Reporting-MTA: dns; mx.example.org\nArrival-Date: Mon, 1 Jan 2024 00:00:00 +0000\n\n\
             Final-Recipient: rfc822; a@example.net\nAction: failed\nStatus: 5.1.1\n\
             Diagnostic-Code: smtp; 550 5.1.1 <a@example.net>: Recipient address\n  rejected: User unknown\n\n\
             Final-Recipient: rfc822;b@example.net\nAction: delayed\nStatus: 4.4.1 (no answer)\n",
        );
        assert_eq!(d.reporting_mta.as_deref(), Some("mx.example.org"));
        assert_eq!(d.recipients.len(), 2);
        assert_eq!(
            d.recipients[0].final_recipient.as_deref(),
            Some("a@example.net")
        );
        assert_eq!(
            d.recipients[0].diagnostic.as_deref(),
            Some("550 5.1.1 <a@example.net>: Recipient address rejected: User unknown")
        );
        assert_eq!(d.recipients[1].status.as_deref(), Some("4.4.1"));
        assert_eq!(d.recipients[1].action.as_deref(), Some("delayed"));
    }

    #[test]
    fn recipients_without_blank_lines() {
        let d = parse(
            "Final-Recipient: rfc822; a@x.org\nStatus: 5.0.0\nFinal-Recipient: rfc822; b@x.org\nStatus: 5.0.0\n",
        );
        assert_eq!(d.recipients.len(), 2);
    }

    #[test]
    fn the_address_the_sender_wrote_is_reported() {
        let d = parse(
            "Final-Recipient: rfc822; someone@mailhost.example.net\n\
             Original-Recipient: rfc822;Some.One@example.org\nAction: failed\nStatus: 5.2.2\n",
        );
        assert_eq!(
            d.recipients[0].final_recipient.as_deref(),
            Some("Some.One@example.org")
        );
        // Forms nobody can write to leave Final-Recipient in place.
        for original in [
            "rfc822;someone",
            "rfc822;IMCEAEX-_O=ORG_OU=SITE_CN=RECIPIENTS_CN=someone@example.org",
            "x400;/c=us/o=org/s=one/@example.org",
        ] {
            let d = parse(&format!(
                "Final-Recipient: rfc822; someone@example.net\nOriginal-Recipient: {original}\n"
            ));
            assert_eq!(
                d.recipients[0].final_recipient.as_deref(),
                Some("someone@example.net"),
                "{original}"
            );
        }
    }
}
