//! Amazon SES notifications (bounce, complaint, delivery) mailed as JSON, directly or wrapped in
//! an SNS envelope: they carry everything a DSN would, in their own shape.

use crate::Finding;
use serde_json::Value;
use smtpdoctor_report::bounce::OriginalMessage;

/// What one notification says.
#[derive(Debug, Default)]
pub struct Notification {
    /// `Bounce`, `Complaint` or `Delivery`.
    pub kind: String,
    /// One entry per recipient concerned.
    pub recipients: Vec<Finding>,
    /// For complaints: the feedback type (`abuse`, ...).
    pub feedback_type: Option<String>,
    /// The message it is about.
    pub original: OriginalMessage,
}

/// Reads a notification from a message body, when the body is one.
pub fn read(body: &str) -> Option<Notification> {
    if !body.contains("notificationType") {
        return None;
    }
    let start = body.find('{')?;
    // Mail transport folds long lines: the JSON is one logical line broken by "\n" (and a space).
    let joined: String = body[start..].replace("\n ", "").replace('\n', "");
    let value: Value = serde_json::Deserializer::from_str(&joined)
        .into_iter::<Value>()
        .next()?
        .ok()?;
    // SNS wraps the notification as a JSON string in "Message".
    let value = match value.get("Message").and_then(Value::as_str) {
        Some(inner) => serde_json::from_str(inner).ok()?,
        None => value,
    };
    let kind = value.get("notificationType")?.as_str()?.to_string();
    let text = |v: &Value, key: &str| v.get(key).and_then(Value::as_str).map(str::to_string);
    let mail = value.get("mail").cloned().unwrap_or(Value::Null);
    let common = mail.get("commonHeaders").cloned().unwrap_or(Value::Null);
    let list = |v: &Value, key: &str| {
        v.get(key).and_then(Value::as_array).map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(", ")
        })
    };
    let mut out = Notification {
        kind: kind.clone(),
        original: OriginalMessage {
            message_id: text(&mail, "messageId"),
            from: list(&common, "from").or_else(|| text(&mail, "source")),
            to: list(&common, "to"),
            subject: text(&common, "subject"),
        },
        ..Notification::default()
    };
    match kind.as_str() {
        "Bounce" => {
            let bounce = value.get("bounce")?;
            let transient = text(bounce, "bounceType").is_some_and(|t| t == "Transient");
            for r in bounce.get("bouncedRecipients")?.as_array()? {
                out.recipients.push(Finding {
                    recipient: text(r, "emailAddress"),
                    action: text(r, "action").or(Some("failed".into())),
                    status: text(r, "status"),
                    diagnostic: text(r, "diagnosticCode").map(|d| {
                        d.split_once(';')
                            .filter(|(kind, _)| kind.eq_ignore_ascii_case("smtp"))
                            .map_or(d.as_str(), |(_, rest)| rest)
                            .trim()
                            .to_string()
                    }),
                    reporting_mta: text(bounce, "reportingMTA").map(|m| {
                        m.split_once(';')
                            .map_or(m.as_str(), |(_, name)| name)
                            .trim()
                            .to_string()
                    }),
                    last_attempt_date: text(bounce, "timestamp"),
                    delayed: transient,
                    ..Finding::default()
                });
            }
        }
        "Complaint" => {
            let complaint = value.get("complaint")?;
            out.feedback_type = text(complaint, "complaintFeedbackType");
            for r in complaint.get("complainedRecipients")?.as_array()? {
                out.recipients.push(Finding {
                    recipient: text(r, "emailAddress"),
                    ..Finding::default()
                });
            }
        }
        "Delivery" => {
            let delivery = value.get("delivery")?;
            let response = text(delivery, "smtpResponse");
            for r in delivery.get("recipients")?.as_array()? {
                out.recipients.push(Finding {
                    recipient: r.as_str().map(str::to_string),
                    action: Some("delivered".into()),
                    diagnostic: response.clone(),
                    reporting_mta: text(delivery, "reportingMTA"),
                    last_attempt_date: text(delivery, "timestamp"),
                    ..Finding::default()
                });
            }
        }
        _ => return None,
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_folded_bounce_notification() {
        let body = "{\"notificationType\":\"Bounce\",\"bounce\":{\"bounceType\":\"Permanent\",\"bouncedRecipients\":[{\"emailAddress\":\"a@example.net\",\"action\":\"failed\",\"status\":\"5.1.1\",\"diagnosticCode\":\"smtp; 550 5.1.1 user unk\n nown\"}],\"reportingMTA\":\"dns; mta.example.org\"},\"mail\":{\"messageId\":\"m1\",\"source\":\"s@example.com\",\"commonHeaders\":{\"subject\":\"Hi\",\"to\":[\"a@example.net\"]}}}\n\n--\nunsubscribe text";
        let n = read(body).unwrap();
        assert_eq!(n.kind, "Bounce");
        assert_eq!(n.recipients.len(), 1);
        assert_eq!(
            n.recipients[0].diagnostic.as_deref(),
            Some("550 5.1.1 user unknown")
        );
        assert_eq!(
            n.recipients[0].reporting_mta.as_deref(),
            Some("mta.example.org")
        );
        assert_eq!(n.original.subject.as_deref(), Some("Hi"));
    }

    #[test]
    fn an_sns_wrapped_delivery() {
        let inner = "{\\\"notificationType\\\":\\\"Delivery\\\",\\\"delivery\\\":{\\\"recipients\\\":[\\\"b@example.net\\\"],\\\"smtpResponse\\\":\\\"250 2.6.0 ok\\\"}}";
        let body = format!("{{\"Type\":\"Notification\",\"Message\":\"{inner}\"}}");
        let n = read(&body).unwrap();
        assert_eq!(n.kind, "Delivery");
        assert_eq!(n.recipients[0].recipient.as_deref(), Some("b@example.net"));
    }

    #[test]
    fn plain_text_is_not_a_notification() {
        assert!(read("hello {\"a\": 1}").is_none());
    }
}
