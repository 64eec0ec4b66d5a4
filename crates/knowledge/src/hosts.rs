//! Well-known submission hosts, to catch a mistyped server name ("smtp.gmial.com").

/// Submission and relay hosts of large providers, as their help pages give them.
pub const WELL_KNOWN_HOSTS: &[&str] = &[
    "smtp.gmail.com",
    "smtp-relay.gmail.com",
    "smtp.office365.com",
    "smtp-mail.outlook.com",
    "smtp.mail.yahoo.com",
    "smtp.aol.com",
    "smtp.mail.me.com",
    "smtp.zoho.com",
    "smtp.zoho.eu",
    "smtppro.zoho.com",
    "smtp.fastmail.com",
    "smtp.gmx.com",
    "mail.gmx.net",
    "smtp.gmx.net",
    "smtp.web.de",
    "smtp.mail.com",
    "smtp.ionos.com",
    "smtp.ionos.de",
    "smtpout.secureserver.net",
    "smtp.comcast.net",
    "smtp.orange.fr",
    "smtp.free.fr",
    "smtp.yandex.com",
    "smtp.qq.com",
    "smtp.163.com",
    "smtp.sendgrid.net",
    "smtp.mailgun.org",
    "smtp.eu.mailgun.org",
    "smtp.postmarkapp.com",
    "smtp-relay.brevo.com",
    "smtp.sparkpostmail.com",
    "smtp.mandrillapp.com",
    "email-smtp.us-east-1.amazonaws.com",
    "email-smtp.eu-west-1.amazonaws.com",
];

/// A well-known host within two edits (insert, delete, substitute, swap) of `host`, when `host`
/// is not itself one: the likely intended name.
pub fn did_you_mean(host: &str) -> Option<&'static str> {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    if WELL_KNOWN_HOSTS.contains(&host.as_str()) {
        return None;
    }
    WELL_KNOWN_HOSTS
        .iter()
        .map(|known| (distance(&host, known), *known))
        .filter(|(d, _)| *d <= 2)
        .min_by_key(|(d, _)| *d)
        .map(|(_, known)| known)
}

/// Optimal string alignment distance (Damerau-Levenshtein without repeated edits of a substring).
fn distance(a: &str, b: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    if a.len().abs_diff(b.len()) > 2 {
        return 3;
    }
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            d[i][j] = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d[i][j] = d[i][j].min(d[i - 2][j - 2] + 1);
            }
        }
    }
    d[a.len()][b.len()]
}

/// Host names standing in free text (`Could not resolve host: smtp.gmial.com`).
pub fn hosts_in(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '.' || c == '-'))
        .map(|w| w.trim_matches('.'))
        .filter(|w| {
            w.contains('.')
                && w.len() >= 4
                && w.chars().any(|c| c.is_ascii_alphabetic())
                && !w.contains("..")
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typos_of_well_known_hosts() {
        assert_eq!(did_you_mean("smtp.gmial.com"), Some("smtp.gmail.com"));
        assert_eq!(did_you_mean("smtp.gmail.co"), Some("smtp.gmail.com"));
        assert_eq!(
            did_you_mean("SMTP.Office356.com"),
            Some("smtp.office365.com")
        );
        assert_eq!(did_you_mean("smtp.gmail.com"), None);
        assert_eq!(did_you_mean("mail.example.org"), None);
        let found: Vec<&str> =
            hosts_in("curl: (6) Could not resolve host: smtp.gmial.com").collect();
        assert_eq!(found, vec!["smtp.gmial.com"]);
    }
}
