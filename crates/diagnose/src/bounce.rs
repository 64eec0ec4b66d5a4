//! The rules of `bounce`: from the records of every message read to a verdict and findings.
//!
//! Records stream through a [`Tally`], which keeps counts and a few examples per cause, never
//! the records themselves, so a mailbox of any size is judged in bounded memory.

use smtpdoctor_report::bounce::{BounceBody, BounceKind, BounceRecord, BounceSummary};
use smtpdoctor_report::{Category, Confidence, Finding, Retry, Severity, Status, Verdict};
use std::collections::BTreeMap;

/// Most record references a finding lists in its evidence.
const EVIDENCE_PER_FINDING: usize = 10;
/// Most `bounce.truncated` and `bounce.unreadable` findings, one per message or path; the rest
/// are counted in one more finding of the same id (the body lists them all).
const FINDINGS_PER_ID: usize = 20;

/// The records sharing one cause (or one kind, for the kinds without a cause).
#[derive(Debug, Clone, Default)]
struct Group {
    count: usize,
    /// Indexes of the first records (`record:N`).
    first: Vec<usize>,
    temporary: usize,
    permanent: usize,
    /// The distinct fixes of its records, first seen first (at most three).
    fixes: Vec<String>,
    /// The first record's recipient and what the bounce said about it.
    example: Option<(Option<String>, String)>,
    reasons: BTreeMap<String, usize>,
}

impl Group {
    fn add(&mut self, index: usize, r: &BounceRecord) {
        self.count += 1;
        if self.first.len() < EVIDENCE_PER_FINDING {
            self.first.push(index);
        }
        match r.retry {
            Some(Retry::Temporary) => self.temporary += 1,
            Some(Retry::Permanent) => self.permanent += 1,
            None => {}
        }
        if let Some(fix) = &r.fix
            && self.fixes.len() < 3
            && !self.fixes.contains(fix)
        {
            self.fixes.push(fix.clone());
        }
        if self.example.is_none() {
            let said = r
                .diagnostic
                .clone()
                .or_else(|| r.status.clone())
                .unwrap_or_default();
            self.example = Some((r.recipient.clone(), said));
        }
        match self.reasons.get_mut(&r.reason) {
            Some(n) => *n += 1,
            None => {
                self.reasons.insert(r.reason.clone(), 1);
            }
        }
    }

    fn retry(&self) -> Retry {
        if self.temporary > self.permanent {
            Retry::Temporary
        } else {
            Retry::Permanent
        }
    }

    fn evidence(&self) -> Vec<String> {
        self.first.iter().map(|i| format!("record:{i}")).collect()
    }

    fn reasons(&self) -> String {
        let mut list: Vec<(&String, &usize)> = self.reasons.iter().collect();
        list.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        list.iter()
            .map(|(r, n)| format!("{r} {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Running totals of a `bounce` run.
#[derive(Debug, Clone, Default)]
pub struct Tally {
    /// Messages read.
    pub messages: usize,
    /// The counts printed in the report.
    pub summary: BounceSummary,
    failed: BTreeMap<Category, Group>,
    delayed: BTreeMap<Category, Group>,
    others: BTreeMap<BounceKind, Group>,
}

impl Tally {
    /// Counts one message.
    pub fn message(&mut self) {
        self.messages += 1;
    }

    /// Counts one record and returns its index (the `N` of `record:N`).
    pub fn add(&mut self, record: &BounceRecord) -> usize {
        let index = self.summary.records;
        self.summary.add(record);
        let category = record.category.unwrap_or(Category::Other);
        let group = match record.kind {
            BounceKind::Bounce => self.failed.entry(category).or_default(),
            BounceKind::Delay => self.delayed.entry(category).or_default(),
            kind => self.others.entry(kind).or_default(),
        };
        group.add(index, record);
        index
    }
}

/// Failed (or delayed) groups, the largest first; ties in category order.
fn largest_first(groups: &BTreeMap<Category, Group>) -> Vec<(Category, &Group)> {
    let mut list: Vec<(Category, &Group)> = groups.iter().map(|(c, g)| (*c, g)).collect();
    list.sort_by(|a, b| b.1.count.cmp(&a.1.count).then(a.0.cmp(&b.0)));
    list
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn clip(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut s: String = text.chars().take(max - 1).collect();
    s.push('…');
    s
}

/// The verdict and findings of a run, from its tally and what could not be read. `body` gives
/// the truncated and unreadable lists; its records are not looked at.
pub fn judge(tally: &Tally, body: &BounceBody) -> (Verdict, Vec<Finding>) {
    let mut findings = Vec::new();
    let failed = largest_first(&tally.failed);
    let delayed = largest_first(&tally.delayed);
    for (category, g) in &failed {
        let retry = g.retry();
        let mut f = Finding::new(
            "bounce.failed",
            Severity::Problem,
            Some(*category),
            format!(
                "{} bounced: {category} ({})",
                plural(g.count, "recipient", "recipients"),
                category.describe()
            ),
        )
        .detail(group_detail(g))
        .retry(retry);
        if *category == Category::Other {
            f = f.confidence(Confidence::Low, &[]);
        }
        f.fix = g.fixes.clone();
        f.evidence = g.evidence();
        findings.push(f);
    }
    for (category, g) in &delayed {
        let mut f = Finding::new(
            "bounce.delayed",
            Severity::Warning,
            Some(*category),
            format!(
                "{} delayed, still being retried: {category} ({})",
                plural(g.count, "recipient", "recipients"),
                category.describe()
            ),
        )
        .detail(format!(
            "{} The sending server keeps trying; a bounce follows if it gives up.",
            group_detail(g)
        ));
        f.fix = g.fixes.clone();
        f.evidence = g.evidence();
        findings.push(f);
    }
    for (i, name) in body.truncated.iter().enumerate() {
        if i == FINDINGS_PER_ID {
            findings.push(
                Finding::new(
                    "bounce.truncated",
                    Severity::Warning,
                    None,
                    format!(
                        "{} more over the size cap were cut too (listed in `truncated`)",
                        plural(body.truncated.len() - i, "message", "messages")
                    ),
                )
                .detail("Only the first 4 MiB of each message was read."),
            );
            break;
        }
        findings.push(
            Finding::new(
                "bounce.truncated",
                Severity::Warning,
                None,
                format!("{name}: over 4 MiB, only its first 4 MiB were read"),
            )
            .detail("A bounce's own report is near its start, so the records are usually complete; a message this large is mostly the returned original or an attachment.")
            .evidence(format!("input:{name}")),
        );
    }
    for (i, u) in body.unreadable.iter().enumerate() {
        if i == FINDINGS_PER_ID {
            findings.push(Finding::new(
                "bounce.unreadable",
                Severity::Warning,
                None,
                format!(
                    "{} more could not be read (listed in `unreadable`)",
                    plural(body.unreadable.len() - i, "path", "paths")
                ),
            ));
            break;
        }
        findings.push(
            Finding::new(
                "bounce.unreadable",
                Severity::Warning,
                None,
                format!("Cannot read {}: {}", u.path, u.error),
            )
            .detail("The other paths were read; the verdict covers only what was read.")
            .fix("Check the path and its permissions.")
            .evidence(format!("input:{}", u.path)),
        );
    }
    for name in &body.internal_errors {
        findings.push(
            Finding::new(
                "bounce.internal_error",
                Severity::Warning,
                None,
                format!("{name}: reading this message hit a bug in smtpdoctor; it was skipped"),
            )
            .detail("The other messages were read. Please report the bug with this message if you can share it.")
            .evidence(format!("input:{name}")),
        );
    }
    let others = |kind| tally.others.get(&kind);
    if let Some(g) = others(BounceKind::Success) {
        findings.push(info(
            "bounce.delivered",
            format!(
                "{} reported as delivered (success notices)",
                plural(g.count, "recipient", "recipients")
            ),
            "A DSN with Action delivered, relayed or expanded: nothing failed.",
            g,
        ));
    }
    if let Some(g) = others(BounceKind::Feedback) {
        let mut f = info(
            "bounce.feedback",
            plural(
                g.count,
                "feedback report (a complaint, not a bounce)",
                "feedback reports (complaints, not bounces)",
            ),
            "A feedback report (ARF, RFC 5965) says a recipient marked a message as spam or abuse; the message was delivered.",
            g,
        );
        f.fix = vec!["Stop mailing the recipients who complained, and find out why they did (unexpected mail, no easy unsubscribe).".into()];
        findings.push(f);
    }
    if let Some(g) = others(BounceKind::Autoreply) {
        findings.push(info(
            "bounce.autoreply",
            plural(
                g.count,
                "auto-reply (out of office and the like), not a bounce",
                "auto-replies (out of office and the like), not bounces",
            ),
            "An automatic answer (RFC 3834): the message was delivered, nothing to fix.",
            g,
        ));
    }
    if let Some(g) = others(BounceKind::NotBounce) {
        findings.push(info(
            "bounce.not_bounce",
            plural(
                g.count,
                "message is not a bounce",
                "messages are not bounces",
            ),
            "No delivery report, failure notice, feedback report or auto-reply could be found in it.",
            g,
        ));
    }
    let verdict = verdict(tally, &failed, &delayed);
    (verdict, findings)
}

fn info(id: &str, summary: String, detail: &str, g: &Group) -> Finding {
    let mut f = Finding::new(id, Severity::Info, None, summary).detail(detail);
    f.evidence = g.evidence();
    f
}

/// What the first record of a group said, and its reasons.
fn group_detail(g: &Group) -> String {
    let mut detail = String::new();
    if let Some((recipient, said)) = &g.example {
        let who = recipient.as_deref().unwrap_or("(recipient unknown)");
        if said.is_empty() {
            detail.push_str(&format!("First: {who}."));
        } else {
            detail.push_str(&format!("First: {who}: {}.", clip(said, 300)));
        }
    }
    detail.push_str(&format!(" Reasons: {}.", g.reasons()));
    detail.trim().to_string()
}

fn verdict(
    tally: &Tally,
    failed: &[(Category, &Group)],
    delayed: &[(Category, &Group)],
) -> Verdict {
    let bounced: usize = failed.iter().map(|(_, g)| g.count).sum();
    let late: usize = delayed.iter().map(|(_, g)| g.count).sum();
    let messages = plural(tally.messages, "message", "messages");
    let (primary, id) = match (failed.first(), delayed.first()) {
        (Some(p), _) => (Some(*p), "bounce.failed"),
        (None, Some(p)) => (Some(*p), "bounce.delayed"),
        (None, None) => (None, ""),
    };
    if let Some((category, g)) = primary {
        let retry = if id == "bounce.delayed" {
            Retry::Temporary
        } else {
            g.retry()
        };
        let summary = if bounced + late == 1 {
            let (recipient, said) = g.example.clone().unwrap_or_default();
            let who = recipient.unwrap_or_else(|| "The recipient".into());
            let what = if bounced == 1 {
                "bounced"
            } else {
                "is delayed"
            };
            if said.is_empty() {
                format!("{who} {what}: {category} ({})", category.describe())
            } else {
                format!("{who} {what}: {}", clip(&said, 160))
            }
        } else {
            let mut s = if bounced > 0 {
                format!("{} bounced", plural(bounced, "recipient", "recipients"))
            } else {
                format!("{} delayed", plural(late, "recipient", "recipients"))
            };
            if bounced > 0 && late > 0 {
                s.push_str(&format!(" and {late} delayed"));
            }
            s.push_str(&format!(" in {messages}: "));
            let groups = if bounced > 0 { failed } else { delayed };
            if groups.len() == 1 {
                s.push_str(&format!("{category} ({})", category.describe()));
            } else {
                let mut list: Vec<String> = groups
                    .iter()
                    .take(3)
                    .map(|(c, g)| format!("{c} {}", g.count))
                    .collect();
                if groups.len() > 3 {
                    list.push(format!("{} more", groups.len() - 3));
                }
                s.push_str(&list.join(", "));
            }
            s
        };
        let mut evidence = g
            .first
            .first()
            .map(|i| vec![format!("record:{i}")])
            .unwrap_or_default();
        evidence.push(format!("finding:{id}"));
        return Verdict {
            status: Status::Problem,
            category: Some(category),
            retry: Some(retry),
            confidence: if category == Category::Other {
                Confidence::Low
            } else {
                Confidence::High
            },
            alternatives: Vec::new(),
            summary,
            fix: g.fixes.clone(),
            evidence,
        };
    }
    let counts = &tally.summary.by_kind;
    if counts.success > 0 {
        return Verdict {
            status: Status::Ok,
            category: None,
            retry: None,
            confidence: Confidence::High,
            alternatives: Vec::new(),
            summary: format!(
                "No failure: {} reported as delivered in {messages}",
                plural(counts.success, "recipient", "recipients")
            ),
            fix: Vec::new(),
            evidence: vec!["finding:bounce.delivered".into()],
        };
    }
    // Nothing bounced, nothing was delayed: the input holds no bounce (exit 1, docs/exit-codes.md).
    let mut parts = Vec::new();
    if counts.feedback > 0 {
        parts.push(plural(
            counts.feedback,
            "feedback report",
            "feedback reports",
        ));
    }
    if counts.autoreply > 0 {
        parts.push(plural(counts.autoreply, "auto-reply", "auto-replies"));
    }
    if counts.not_bounce > 0 {
        parts.push(plural(
            counts.not_bounce,
            "message that is not a bounce",
            "messages that are not bounces",
        ));
    }
    let (summary, fix, evidence) = if tally.messages == 0 {
        (
            "No message found in the input".to_string(),
            vec!["Give a bounce message: an .eml file, an mbox file or a Maildir folder, or - for standard input.".to_string()],
            Vec::new(),
        )
    } else {
        let first = [
            ("bounce.feedback", counts.feedback),
            ("bounce.autoreply", counts.autoreply),
            ("bounce.not_bounce", counts.not_bounce),
        ]
        .iter()
        .find(|(_, n)| *n > 0)
        .map(|(id, _)| vec![format!("finding:{id}")])
        .unwrap_or_default();
        let fix = if counts.not_bounce > 0 {
            vec!["Give the bounce itself: the message from MAILER-DAEMON or postmaster that says delivery failed.".to_string()]
        } else {
            Vec::new()
        };
        (
            format!("No bounce in {messages}: {}", parts.join(", ")),
            fix,
            first,
        )
    };
    Verdict {
        status: Status::Problem,
        category: None,
        retry: None,
        confidence: Confidence::High,
        alternatives: Vec::new(),
        summary,
        fix,
        evidence,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use smtpdoctor_report::bounce::OriginalMessage;

    fn record(kind: BounceKind, category: Option<Category>, retry: Option<Retry>) -> BounceRecord {
        BounceRecord {
            file: "x.eml".into(),
            kind,
            recipient: Some("a@example.org".into()),
            action: None,
            status: Some("5.1.1".into()),
            reply_code: Some(550),
            reason: "userunknown".into(),
            category,
            retry,
            fix: Some("Check the recipient address.".into()),
            diagnostic: Some("550 5.1.1 User unknown".into()),
            command: None,
            remote_mta: None,
            reporting_mta: None,
            arrival_date: None,
            last_attempt_date: None,
            feedback_type: None,
            detector: "rfc3464".into(),
            original: OriginalMessage::default(),
        }
    }

    fn judge_all(records: &[BounceRecord]) -> (Verdict, Vec<Finding>) {
        let mut t = Tally::default();
        for r in records {
            t.message();
            t.add(r);
        }
        judge(&t, &BounceBody::default())
    }

    #[test]
    fn the_most_frequent_failure_is_the_verdict() {
        let unknown = record(
            BounceKind::Bounce,
            Some(Category::RecipientUnknown),
            Some(Retry::Permanent),
        );
        let full = record(
            BounceKind::Bounce,
            Some(Category::MailboxFull),
            Some(Retry::Temporary),
        );
        let late = record(
            BounceKind::Delay,
            Some(Category::GreylistingOrRateLimit),
            Some(Retry::Temporary),
        );
        let (v, f) = judge_all(&[full.clone(), unknown.clone(), unknown, late]);
        assert_eq!(v.status, Status::Problem);
        assert_eq!(v.category, Some(Category::RecipientUnknown));
        assert_eq!(v.retry, Some(Retry::Permanent));
        assert_eq!(v.evidence, ["record:1", "finding:bounce.failed"]);
        assert_eq!(
            v.summary,
            "3 recipients bounced and 1 delayed in 4 messages: recipient_unknown 2, mailbox_full 1"
        );
        let ids: Vec<_> = f.iter().map(|f| (f.id.as_str(), f.category)).collect();
        assert_eq!(
            ids,
            [
                ("bounce.failed", Some(Category::RecipientUnknown)),
                ("bounce.failed", Some(Category::MailboxFull)),
                ("bounce.delayed", Some(Category::GreylistingOrRateLimit)),
            ]
        );
        assert_eq!(f[1].retry, Some(Retry::Temporary));
    }

    #[test]
    fn delays_alone_are_temporary() {
        let late = record(
            BounceKind::Delay,
            Some(Category::TimeoutOrBlockedPort),
            Some(Retry::Temporary),
        );
        let (v, _) = judge_all(&[late]);
        assert_eq!(v.category, Some(Category::TimeoutOrBlockedPort));
        assert_eq!(v.retry, Some(Retry::Temporary));
        assert!(v.summary.contains("is delayed"), "{}", v.summary);
    }

    #[test]
    fn no_bounce_is_a_problem_without_a_category() {
        let (v, f) = judge_all(&[record(BounceKind::Autoreply, None, None)]);
        assert_eq!((v.status, v.category), (Status::Problem, None));
        assert!(
            v.summary
                .starts_with("No bounce in 1 message: 1 auto-reply")
        );
        assert_eq!(f[0].id, "bounce.autoreply");
        let (v, _) = judge_all(&[]);
        assert_eq!(v.summary, "No message found in the input");
        let (v, _) = judge_all(&[record(BounceKind::Success, None, None)]);
        assert_eq!(v.status, Status::Ok);
    }
}
