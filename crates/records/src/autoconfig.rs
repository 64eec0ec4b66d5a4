//! The autoconfig file of Thunderbird (config-v1.1.xml, also what its ISP database serves),
//! parsed: everything it says about outgoing SMTP servers, as written, then read as settings
//! for one address (placeholders filled in, unusable servers left out with a reason). Pure: the
//! fetch is the session layer's. The file comes from the network, so the parser refuses
//! DOCTYPEs and unknown entities, bounds nesting and the number of servers, and never panics
//! (a fuzz target in `fuzz/` checks that).

use quick_xml::events::{BytesStart, Event};
use smtpdoctor_report::check::TlsMode;
use smtpdoctor_report::setup::{AutoconfigFile, AutoconfigServer, Setting};

/// More outgoing servers than any real file lists.
const MAX_SERVERS: usize = 16;

/// The settings an autoconfig file names for `address`, in file order, and what could not be
/// used (unknown socket types, bad ports).
pub fn settings(file: &AutoconfigFile, address: &str) -> (Vec<Setting>, Vec<String>) {
    let mut out = Vec::new();
    let mut problems = Vec::new();
    for s in &file.outgoing {
        // Exactly Thunderbird's three values: a file it would not read is not followed here.
        let security = match s.socket_type.trim() {
            "SSL" => TlsMode::Implicit,
            "STARTTLS" => TlsMode::Starttls,
            "plain" => TlsMode::None,
            other => {
                problems.push(format!(
                    "{}: socketType {other:?} is not one Thunderbird reads (plain, SSL, STARTTLS): server left out",
                    s.hostname
                ));
                continue;
            }
        };
        let port = match s.port.trim().parse::<u16>() {
            Ok(p) if p > 0 => p,
            _ => {
                problems.push(format!(
                    "{}: port {:?} is not a port: server left out",
                    s.hostname, s.port
                ));
                continue;
            }
        };
        // Thunderbird fills the placeholders in host names too (`mail.%EMAILDOMAIN%`).
        let Some(host) = host_name(&expand(s.hostname.trim(), address)) else {
            problems.push(format!(
                "hostname {:?} is not a host name: server left out",
                s.hostname
            ));
            continue;
        };
        let username = (!s.username.trim().is_empty()).then(|| expand(s.username.trim(), address));
        out.push(Setting {
            host,
            port,
            security,
            username,
            auth: s.authentication.clone(),
            note: None,
        });
    }
    (out, problems)
}

/// A host name as the settings and redirects may name one: LDH labels (no underscore), lower
/// case, without the root's dot; None when it is not one.
pub fn host_name(name: &str) -> Option<String> {
    crate::normalize_host(name).filter(|h| !h.contains('_'))
}

/// Whether `host` is `domain` or a name inside it (RFC 6186 section 6: an SRV target outside the
/// queried domain is not trusted without DNSSEC; a redirect may lead only there).
pub fn on_domain(host: &str, domain: &str) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    let domain = domain.trim_end_matches('.').to_ascii_lowercase();
    host == domain || host.ends_with(&format!(".{domain}"))
}

/// An address's domain as DNS names it: A-labels (UTS 46: `bücher.de` is `xn--bcher-kva.de`),
/// lower case, without the root's dot, every label a host-name label. The error says what is
/// wrong, in words for the person who typed it.
pub fn mail_domain(domain: &str) -> Result<String, String> {
    if domain.starts_with('[') {
        return Err(format!(
            "{domain} is an address literal: it names no domain whose settings could be looked up"
        ));
    }
    let name = domain.strip_suffix('.').unwrap_or(domain);
    if name.is_empty() {
        return Err("the domain after @ is empty".into());
    }
    let ascii = idna::domain_to_ascii(name)
        .map_err(|_| format!("'{domain}' is not a valid international domain name"))?;
    host_name(&ascii).ok_or_else(|| {
            format!(
                "'{domain}' is not a domain name (labels of letters, digits and hyphens, separated by single dots)"
            )
        })
}

/// Thunderbird's placeholders (`%EMAILADDRESS%`, `%EMAILLOCALPART%`, `%EMAILDOMAIN%`) filled in
/// for `address`; other text is kept as it is. Autoconfig files and the presets use the same.
pub fn expand(template: &str, address: &str) -> String {
    let (local, domain) = address.rsplit_once('@').unwrap_or((address, ""));
    template
        .replace("%EMAILADDRESS%", address)
        .replace("%EMAILLOCALPART%", local)
        .replace("%EMAILDOMAIN%", domain)
}

/// Parses a config-v1.1.xml file. Everything the file says about outgoing SMTP servers is kept
/// as written (interpretation is [`settings`]'s job); incoming servers are skipped.
pub fn parse(xml: &str) -> Result<AutoconfigFile, String> {
    let mut reader = quick_xml::Reader::from_str(xml);
    // Text is trimmed when its element closes: trimming each piece would eat the spaces around
    // an entity (`Example &amp; Co`).
    let mut file = AutoconfigFile::default();
    let mut stack: Vec<String> = Vec::new();
    let mut text = String::new();
    let mut root_seen = false;
    let mut provider_seen = false;
    loop {
        let event = reader
            .read_event()
            .map_err(|e| format!("XML error at byte {}: {e}", reader.error_position()))?;
        match event {
            Event::Start(e) => {
                let name = local(&e);
                if stack.is_empty() {
                    if name != "clientConfig" {
                        return Err(format!("the root element is <{name}>, not <clientConfig>"));
                    }
                    root_seen = true;
                }
                if stack.len() >= 32 {
                    return Err("elements nest too deep".into());
                }
                open(&mut file, &stack, &name, &e, &mut provider_seen)?;
                stack.push(name);
                text.clear();
            }
            Event::Empty(e) => {
                let name = local(&e);
                if stack.is_empty() {
                    return Err(format!("the root element is <{name}/>, empty"));
                }
                open(&mut file, &stack, &name, &e, &mut provider_seen)?;
                if name == "outgoingServer" {
                    // An empty server names nothing; dropping it keeps the list honest.
                    if let Some(last) = file.outgoing.last()
                        && last.hostname.is_empty()
                    {
                        file.outgoing.pop();
                    }
                }
            }
            Event::Text(t) => text.push_str(&t.xml10_content()),
            Event::CData(t) => text.push_str(&t.xml10_content()),
            Event::GeneralRef(r) => {
                if r.is_char_ref() {
                    match r.resolve_char_ref() {
                        Ok(Some(c)) => text.push(c),
                        _ => return Err(format!("bad character reference &{};", &*r)),
                    }
                } else {
                    text.push_str(match &*r {
                        "amp" => "&",
                        "lt" => "<",
                        "gt" => ">",
                        "quot" => "\"",
                        "apos" => "'",
                        other => return Err(format!("unknown entity &{other};")),
                    });
                }
            }
            Event::End(_) => {
                let name = stack.pop().unwrap_or_default();
                close(&mut file, &stack, &name, text.trim());
                text.clear();
            }
            Event::DocType(_) => {
                return Err("a DOCTYPE is not allowed (no entity definitions)".into());
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if !root_seen {
        return Err("no <clientConfig> element".into());
    }
    if !stack.is_empty() {
        return Err(format!("<{}> is not closed", stack.join("><")));
    }
    if !provider_seen {
        return Err("no <emailProvider> element".into());
    }
    Ok(file)
}

fn local(e: &BytesStart<'_>) -> String {
    e.local_name().as_ref().to_string()
}

fn attribute(e: &BytesStart<'_>, name: &str) -> Option<String> {
    e.attributes().flatten().find_map(|a| {
        (a.key.local_name().as_ref() == name)
            .then(|| {
                a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
                    .map(|v| v.into_owned())
                    .ok()
            })
            .flatten()
    })
}

fn inside(stack: &[String], name: &str) -> bool {
    stack.iter().any(|s| s == name)
}

fn open(
    file: &mut AutoconfigFile,
    stack: &[String],
    name: &str,
    e: &BytesStart<'_>,
    provider_seen: &mut bool,
) -> Result<(), String> {
    match name {
        "emailProvider" if stack.len() == 1 => {
            *provider_seen = true;
            file.provider_id = attribute(e, "id").unwrap_or_default();
        }
        "outgoingServer" if inside(stack, "emailProvider") => {
            if attribute(e, "type").is_some_and(|t| t.eq_ignore_ascii_case("smtp")) {
                if file.outgoing.len() >= MAX_SERVERS {
                    return Err(format!("more than {MAX_SERVERS} outgoing servers"));
                }
                file.outgoing.push(AutoconfigServer::default());
            } else {
                file.problems.push(format!(
                    "an outgoingServer of type {:?} is not SMTP: skipped",
                    attribute(e, "type").unwrap_or_default()
                ));
            }
        }
        "documentation" => {
            if let Some(u) = attribute(e, "url") {
                file.documentation.push(u);
            }
        }
        "enable" => {
            if let Some(u) = attribute(e, "visiturl") {
                file.documentation.push(u);
            }
        }
        _ => {}
    }
    Ok(())
}

fn close(file: &mut AutoconfigFile, stack: &[String], name: &str, text: &str) {
    let parent = stack.last().map(String::as_str).unwrap_or("");
    if parent == "outgoingServer" {
        // Only an SMTP server opened an entry; a skipped one has none to fill.
        let smtp = file.outgoing.last_mut();
        let Some(server) = smtp else { return };
        match name {
            "hostname" => server.hostname = text.to_string(),
            "port" => server.port = text.to_string(),
            "socketType" => server.socket_type = text.to_string(),
            "username" => server.username = text.to_string(),
            "authentication" => server.authentication.push(text.to_string()),
            _ => {}
        }
        return;
    }
    match (parent, name) {
        ("emailProvider", "domain") => file.domains.push(text.to_ascii_lowercase()),
        ("emailProvider", "displayName") => file.display_name = text.to_string(),
        ("enable", "instruction") => file.instructions.push(text.to_string()),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAILBOX_ORG: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<clientConfig version="1.1">
  <emailProvider id="example.test">
    <domain>Example.test</domain>
    <displayName>Example &amp; Co</displayName>
    <incomingServer type="imap">
      <hostname>imap.example.test</hostname><port>993</port><socketType>SSL</socketType>
      <username>%EMAILADDRESS%</username><authentication>password-cleartext</authentication>
    </incomingServer>
    <outgoingServer type="smtp">
      <hostname>smtp.example.test</hostname>
      <port>465</port>
      <socketType>SSL</socketType>
      <username>%EMAILLOCALPART%</username>
      <authentication>OAuth2</authentication>
      <authentication>password-cleartext</authentication>
    </outgoingServer>
    <outgoingServer type="smtp">
      <hostname>smtp.example.test</hostname><port>587</port><socketType>STARTTLS</socketType>
      <username>%EMAILADDRESS%</username><authentication>password-cleartext</authentication>
    </outgoingServer>
    <enable visiturl="https://example.test/app-passwords">
      <instruction lang="en">Create an app password first.</instruction>
    </enable>
    <documentation url="https://example.test/help"><descr>Help</descr></documentation>
  </emailProvider>
</clientConfig>"#;

    #[test]
    fn a_full_file_is_read_and_its_placeholders_filled() {
        let file = parse(MAILBOX_ORG).unwrap();
        assert_eq!(file.provider_id, "example.test");
        assert_eq!(file.display_name, "Example & Co");
        assert_eq!(file.domains, ["example.test"]);
        assert_eq!(file.outgoing.len(), 2);
        assert_eq!(
            file.outgoing[0].authentication,
            ["OAuth2", "password-cleartext"]
        );
        assert_eq!(file.instructions, ["Create an app password first."]);
        assert_eq!(
            file.documentation,
            [
                "https://example.test/app-passwords",
                "https://example.test/help"
            ]
        );
        let (settings, problems) = settings(&file, "me@example.test");
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(settings[0].security, TlsMode::Implicit);
        assert_eq!(settings[0].username.as_deref(), Some("me"));
        assert_eq!(settings[1].security, TlsMode::Starttls);
        assert_eq!(settings[1].port, 587);
        assert_eq!(settings[1].username.as_deref(), Some("me@example.test"));
    }

    #[test]
    fn mail_domains_become_a_labels_or_say_what_is_wrong() {
        assert_eq!(mail_domain("Bücher.DE.").unwrap(), "xn--bcher-kva.de");
        assert_eq!(mail_domain("mail.test").unwrap(), "mail.test");
        for (bad, why) in [
            ("", "empty"),
            (".", "empty"),
            ("x/y", "not a domain name"),
            ("a..b", "not a domain name"),
            ("[127.0.0.1]", "address literal"),
            ("-a.test", "not a domain name"),
        ] {
            let e = mail_domain(bad).unwrap_err();
            assert!(e.contains(why), "{bad}: {e}");
        }
    }

    #[test]
    fn username_placeholders() {
        assert_eq!(
            expand("%EMAILLOCALPART%+%EMAILDOMAIN%", "me@ex.test"),
            "me+ex.test"
        );
        assert_eq!(expand("%EMAILADDRESS%", "me@ex.test"), "me@ex.test");
        assert_eq!(expand("apikey", "me@ex.test"), "apikey");
    }

    #[test]
    fn placeholders_in_host_names_and_strict_socket_types() {
        let xml = r#"<clientConfig><emailProvider id="x">
            <outgoingServer type="smtp"><hostname>mail.%EMAILDOMAIN%</hostname><port>465</port><socketType>SSL</socketType></outgoingServer>
            <outgoingServer type="smtp"><hostname>b.test</hostname><port>465</port><socketType>TLS</socketType></outgoingServer>
            <outgoingServer type="smtp"><hostname>%EMAILLOCALPART%.test</hostname><port>465</port><socketType>SSL</socketType></outgoingServer>
        </emailProvider></clientConfig>"#;
        let (settings, problems) = settings(&parse(xml).unwrap(), "a b@x.test");
        assert_eq!(settings.len(), 1, "{problems:?}");
        assert_eq!(settings[0].host, "mail.x.test");
        assert!(problems[0].contains("Thunderbird"), "{problems:?}");
        assert!(problems[1].contains("not a host name"), "{problems:?}");
    }

    #[test]
    fn bad_values_are_left_out_with_a_reason() {
        let xml = r#"<clientConfig><emailProvider id="x">
            <outgoingServer type="smtp"><hostname>a.test</hostname><port>99999</port><socketType>SSL</socketType></outgoingServer>
            <outgoingServer type="smtp"><hostname>b.test</hostname><port>25</port><socketType>weird</socketType></outgoingServer>
            <outgoingServer type="smtp"><hostname>c.test</hostname><port>25</port><socketType>plain</socketType></outgoingServer>
            <outgoingServer type="exchange"><hostname>d.test</hostname></outgoingServer>
        </emailProvider></clientConfig>"#;
        let file = parse(xml).unwrap();
        assert_eq!(file.outgoing.len(), 3);
        assert_eq!(file.problems.len(), 1, "{:?}", file.problems);
        let (settings, problems) = settings(&file, "me@x.test");
        assert_eq!(settings.len(), 1);
        assert_eq!(settings[0].security, TlsMode::None);
        assert_eq!(problems.len(), 2, "{problems:?}");
    }

    #[test]
    fn what_is_not_an_autoconfig_file_is_refused() {
        for (xml, why) in [
            ("", "no <clientConfig>"),
            ("<html><body>hi</body></html>", "root element"),
            ("<clientConfig></clientConfig>", "no <emailProvider>"),
            ("<clientConfig><emailProvider>", "not closed"),
            (
                "<clientConfig><emailProvider></x></clientConfig>",
                "XML error",
            ),
            ("<!DOCTYPE x [<!ENTITY a \"b\">]><clientConfig/>", "DOCTYPE"),
            (
                "<clientConfig><emailProvider><displayName>&bogus;</displayName></emailProvider></clientConfig>",
                "unknown entity",
            ),
        ] {
            let err = parse(xml).expect_err(xml);
            assert!(err.contains(why), "{xml}: {err}");
        }
    }

    /// Every prefix of a real file, and every one-byte change to it, parses or is refused with
    /// a reason: never a panic (the parser reads untrusted input from the network).
    #[test]
    fn damaged_files_never_panic() {
        let bytes = MAILBOX_ORG.as_bytes();
        for end in 0..bytes.len() {
            if let Ok(text) = std::str::from_utf8(&bytes[..end]) {
                let _ = parse(text).map(|f| settings(&f, "a@b.test"));
            }
        }
        for i in 0..bytes.len() {
            for b in [b'<', b'>', b'&', b'"', b'/', b'x', b';', b'#'] {
                let mut copy = bytes.to_vec();
                copy[i] = b;
                if let Ok(text) = std::str::from_utf8(&copy) {
                    let _ = parse(text).map(|f| settings(&f, "a@b.test"));
                }
            }
        }
    }
}
