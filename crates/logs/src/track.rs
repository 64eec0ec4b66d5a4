//! Follows each message by its queue id from arrival to removal: who sent it and from where,
//! for whom, every delivery attempt with its status, and the outcome.
//!
//! Queue ids are reused (Postfix's short ids, after a restart): an arrival under an id whose
//! message is still open closes that message as unfinished and starts a new one. A delivery
//! that hands the message to a content filter which queues it again (`queued as ID` naming a
//! message of this log) links the two, and only the last one's deliveries count. Messages with
//! no news for [`Tracker::idle`] seconds of log time, or the oldest ones past
//! [`Tracker::limit`], are closed as unfinished, so memory is bounded by the open messages.

use crate::scan::Key;
use crate::{Event, Kind, Server};
use jiff::Timestamp;
use serde::Serialize;
use std::collections::HashMap;

/// Longest reply text kept per attempt.
const REPLY_CAP: usize = 400;
/// Most attempts kept per message (the counts go on).
const ATTEMPTS_CAP: usize = 64;

/// What became of a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Every recipient was delivered.
    Delivered,
    /// Some recipients were delivered and some failed.
    Partial,
    /// Every recipient failed permanently.
    Bounced,
    /// The message was returned after staying in the queue too long.
    Expired,
    /// The whole message was refused (milter, header or body checks).
    Rejected,
    /// Handed to a content filter that queued it again under another id.
    HandedOn,
    /// Discarded or held.
    Discarded,
    /// Still deferred when it was closed out.
    Deferred,
    /// No outcome seen: the log ended, the id was reused, or it was closed out.
    Unfinished,
}

impl Outcome {
    /// Every outcome, in declaration order (`ALL[o as usize] == o`).
    pub const ALL: [Outcome; 9] = [
        Outcome::Delivered,
        Outcome::Partial,
        Outcome::Bounced,
        Outcome::Expired,
        Outcome::Rejected,
        Outcome::HandedOn,
        Outcome::Discarded,
        Outcome::Deferred,
        Outcome::Unfinished,
    ];

    /// The name used in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Delivered => "delivered",
            Outcome::Partial => "partial",
            Outcome::Bounced => "bounced",
            Outcome::Expired => "expired",
            Outcome::Rejected => "rejected",
            Outcome::HandedOn => "handed_on",
            Outcome::Discarded => "discarded",
            Outcome::Deferred => "deferred",
            Outcome::Unfinished => "unfinished",
        }
    }
}

/// One delivery attempt for one recipient.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Attempt {
    /// When.
    #[serde(skip)]
    pub time: Option<Timestamp>,
    /// Where in the input (file index, 1-based line).
    #[serde(skip)]
    pub at: (usize, u64),
    /// The recipient.
    pub to: String,
    /// The recipient before rewriting.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub orig_to: Option<String>,
    /// `delivered`, `deferred`, `bounced` or `expired`.
    pub status: Kind,
    /// The enhanced status code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dsn: Option<String>,
    /// The next hop.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub relay: Option<String>,
    /// Total delay in seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delay: Option<String>,
    /// Postfix's delay breakdown.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delays: Option<String>,
    /// The reply (cut to a few hundred bytes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reply: Option<String>,
    /// The message was handed to a content filter that queued it as this id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub handed_to: Option<String>,
}

/// One message's life.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Message {
    /// The queue id.
    pub queue_id: String,
    /// The server software.
    pub server: Server,
    /// Where in the input it was first seen (file index, 1-based line).
    #[serde(skip)]
    pub at: (usize, u64),
    /// When it was first seen.
    #[serde(skip)]
    pub first: Option<Timestamp>,
    /// When it was last seen.
    #[serde(skip)]
    pub last: Option<Timestamp>,
    /// The client's IP address.
    pub ip: Option<String>,
    /// The client's host name.
    pub host: Option<String>,
    /// The login that sent it.
    pub user: Option<String>,
    /// The envelope sender.
    pub from: Option<String>,
    /// The Message-ID.
    pub message_id: Option<String>,
    /// Size in bytes.
    pub size: Option<u64>,
    /// Number of recipients, as the queue manager counted them.
    pub nrcpt: Option<u32>,
    /// Every delivery attempt, in order (at most 64 kept).
    pub attempts: Vec<Attempt>,
    /// Attempts seen, kept or not.
    pub attempt_count: u32,
    /// The message it was queued from (a content filter's re-injection).
    pub parent: Option<String>,
    /// The refusal, when the whole message was refused.
    pub rejected: Option<String>,
    /// The outcome, set when the message is closed.
    pub outcome: Outcome,
    /// Closed because the id came back while it was still open.
    pub reused: bool,
    #[serde(skip)]
    removed: bool,
    #[serde(skip)]
    seq: u64,
}

impl Message {
    fn new(
        queue_id: &str,
        server: Server,
        at: (usize, u64),
        time: Option<Timestamp>,
        seq: u64,
    ) -> Message {
        Message {
            queue_id: queue_id.to_owned(),
            server,
            at,
            first: time,
            last: time,
            ip: None,
            host: None,
            user: None,
            from: None,
            message_id: None,
            size: None,
            nrcpt: None,
            attempts: Vec::new(),
            attempt_count: 0,
            parent: None,
            rejected: None,
            outcome: Outcome::Unfinished,
            reused: false,
            removed: false,
            seq,
        }
    }

    /// Whether nothing but the id has been seen yet.
    fn is_fresh(&self) -> bool {
        self.from.is_none() && self.attempts.is_empty() && self.ip.is_none()
    }

    /// The final status per recipient (the last attempt of each), in first-attempt order,
    /// leaving out hand-offs to a content filter.
    pub fn final_attempts(&self) -> Vec<&Attempt> {
        let mut out: Vec<&Attempt> = Vec::new();
        for a in &self.attempts {
            if a.handed_to.is_some() {
                continue;
            }
            if let Some(slot) = out.iter_mut().find(|x| x.to == a.to) {
                *slot = a;
            } else {
                out.push(a);
            }
        }
        out
    }

    fn decide(&mut self) {
        if self.rejected.is_some() {
            self.outcome = Outcome::Rejected;
            return;
        }
        if !self.attempts.is_empty() && self.attempts.iter().all(|a| a.handed_to.is_some()) {
            self.outcome = Outcome::HandedOn;
            return;
        }
        let finals = self.final_attempts();
        if finals.is_empty() {
            self.outcome = Outcome::Unfinished;
            return;
        }
        let count = |k: Kind| finals.iter().filter(|a| a.status == k).count();
        let (d, b, x, f) = (
            count(Kind::Delivered),
            count(Kind::Bounced),
            count(Kind::Expired),
            count(Kind::Deferred),
        );
        self.outcome = if x > 0 && d == 0 {
            Outcome::Expired
        } else if f > 0 && !self.removed {
            Outcome::Deferred
        } else if d == finals.len() {
            Outcome::Delivered
        } else if d == 0 && b + x > 0 {
            Outcome::Bounced
        } else if d > 0 {
            Outcome::Partial
        } else {
            Outcome::Unfinished
        };
    }
}

/// Follows messages; closed ones are handed to a callback.
#[derive(Debug)]
pub struct Tracker {
    open: HashMap<Key, Message, crate::scan::FxBuild>,
    /// Seconds of log time without news after which a message is closed out.
    pub idle: i64,
    /// Most messages kept open at once.
    pub limit: usize,
    /// Keep only what the outcome needs (the recipients and their statuses; whether a sender,
    /// a client, a login, a hand-off were seen, not their text), not the replies, relays and
    /// delays: for totals, where no message is shown or filtered on.
    pub lean: bool,
    seq: u64,
    events: u64,
    latest: Option<Timestamp>,
}

impl Default for Tracker {
    fn default() -> Self {
        Tracker::new()
    }
}

impl Tracker {
    /// A tracker closing messages after 5 days without news (Postfix's default queue lifetime)
    /// and keeping at most 200,000 open.
    pub fn new() -> Tracker {
        Tracker {
            open: HashMap::default(),
            idle: 5 * 86400,
            limit: 200_000,
            lean: false,
            seq: 0,
            events: 0,
            latest: None,
        }
    }

    /// Messages open now.
    pub fn open_count(&self) -> usize {
        self.open.len()
    }

    /// Takes one event (at position `at`, time `time`); `closed` receives every message it
    /// closes.
    pub fn feed(
        &mut self,
        e: &Event<'_>,
        at: (usize, u64),
        time: Option<Timestamp>,
        closed: &mut impl FnMut(Message),
    ) {
        self.events += 1;
        if let Some(t) = time
            && self.latest.is_none_or(|l| t > l)
        {
            self.latest = Some(t);
        }
        if self.events.is_multiple_of(1 << 16) || self.open.len() > self.limit {
            self.sweep(closed);
        }
        let Some(qid) = e.queue_id else { return };
        let Some(kind) = e.kind else { return };
        let tracked = matches!(
            kind,
            Kind::Received
                | Kind::MessageId
                | Kind::Queued
                | Kind::Delivered
                | Kind::Deferred
                | Kind::Bounced
                | Kind::Expired
                | Kind::Removed
                | Kind::Rejected
                | Kind::Discarded
        );
        if !tracked {
            return;
        }
        let handed = match (kind, e.queued_as) {
            (Kind::Delivered, Some(child))
                if child != qid && self.open.contains_key(&Key::new(child)) =>
            {
                Some(child)
            }
            _ => None,
        };
        if let Some(child) = handed {
            // The re-queued copy came from the content filter on localhost: the client that
            // sent the message is the parent's.
            let origin = self
                .open
                .get(&Key::new(qid))
                .map(|p| (p.ip.clone(), p.host.clone(), p.user.clone()));
            if let Some(c) = self.open.get_mut(&Key::new(child)) {
                c.parent = Some(qid.to_owned());
                if let Some((ip, host, user)) = origin
                    && ip.is_some()
                {
                    c.ip = ip;
                    c.host = host;
                    c.user = user.or(c.user.take());
                }
            }
        }
        // One look-up for the common case (a line about an open message).
        let key = Key::new(qid);
        let mut found = self.open.get_mut(&key);
        if kind == Kind::Received
            && let Some(old) = found.as_deref()
            && (!old.is_fresh() || old.removed)
        {
            // The id came back: the old message ends here.
            let mut old = self.open.remove(&key).unwrap_or_else(|| unreachable!());
            old.reused = true;
            old.decide();
            closed(old);
            found = None;
        }
        let m = match found {
            Some(m) => m,
            None => {
                if matches!(kind, Kind::Rejected | Kind::Removed) {
                    return;
                }
                self.seq += 1;
                let fresh = Message::new(qid, e.server, at, time, self.seq);
                self.open.entry(key).or_insert(fresh)
            }
        };
        if time.is_some() {
            m.last = time;
        }
        let lean = self.lean;
        // Lean: whether a field was seen is kept (it decides whether an id was reused), not
        // its text (an empty string needs no allocation).
        let set = |slot: &mut Option<String>, v: Option<&str>| {
            if slot.is_none()
                && let Some(v) = v
            {
                *slot = Some(if lean { String::new() } else { v.to_owned() });
            }
        };
        match kind {
            Kind::Received | Kind::MessageId | Kind::Queued => {
                if kind != Kind::Queued || m.ip.is_none() {
                    set(&mut m.ip, e.ip);
                    set(&mut m.host, e.host);
                }
                set(&mut m.user, e.user);
                set(&mut m.from, e.from);
                set(&mut m.message_id, e.message_id);
                if e.size.is_some() {
                    m.size = e.size;
                }
                if e.nrcpt.is_some() {
                    m.nrcpt = e.nrcpt;
                }
            }
            Kind::Delivered | Kind::Deferred | Kind::Bounced | Kind::Expired => {
                m.attempt_count += 1;
                if kind == Kind::Expired && e.to.is_none() {
                    // qmgr's `status=expired, returned to sender`: every recipient still
                    // deferred has expired.
                    let deferred: Vec<String> = m
                        .final_attempts()
                        .into_iter()
                        .filter(|a| a.status == Kind::Deferred)
                        .map(|a| a.to.clone())
                        .collect();
                    for to in deferred {
                        if m.attempts.len() < ATTEMPTS_CAP {
                            m.attempts.push(Attempt {
                                time,
                                at,
                                to,
                                orig_to: None,
                                status: Kind::Expired,
                                dsn: None,
                                relay: None,
                                delay: None,
                                delays: None,
                                reply: e.reply.map(cap),
                                handed_to: None,
                            });
                        }
                    }
                } else if m.attempts.len() < ATTEMPTS_CAP {
                    let keep = |v: Option<&str>| v.filter(|_| !lean).map(str::to_owned);
                    m.attempts.push(Attempt {
                        time,
                        at,
                        to: e.to.unwrap_or("").to_owned(),
                        orig_to: keep(e.orig_to),
                        status: kind,
                        dsn: keep(e.dsn),
                        relay: keep(e.relay),
                        delay: keep(e.delay),
                        delays: keep(e.delays),
                        reply: e.reply.filter(|_| !lean).map(cap),
                        handed_to: handed.map(|h| if lean { String::new() } else { h.to_owned() }),
                    });
                }
                if e.server == Server::Sendmail && kind != Kind::Deferred {
                    let finals = m
                        .final_attempts()
                        .iter()
                        .filter(|a| a.status != Kind::Deferred)
                        .count();
                    if m.nrcpt.is_some_and(|n| finals >= n as usize) {
                        m.removed = true;
                        self.close(qid, closed);
                    }
                }
            }
            // A refused recipient leaves the message going; a refused message ends it.
            Kind::Rejected
                if !matches!(
                    e.stage,
                    Some("RCPT")
                        | Some("MAIL")
                        | Some("VRFY")
                        | Some("CONNECT")
                        | Some("EHLO")
                        | Some("HELO")
                ) =>
            {
                m.rejected = Some(e.reply.map(cap).unwrap_or_default());
                self.close(qid, closed);
            }
            Kind::Discarded => {
                m.outcome = Outcome::Discarded;
            }
            Kind::Removed => {
                m.removed = true;
                self.close(qid, closed);
            }
            _ => {}
        }
    }

    fn close(&mut self, qid: &str, closed: &mut impl FnMut(Message)) {
        if let Some(mut m) = self.open.remove(&Key::new(qid)) {
            if m.outcome != Outcome::Discarded {
                m.decide();
            }
            closed(m);
        }
    }

    /// Closes messages idle past [`Tracker::idle`], and the oldest ones while more than
    /// [`Tracker::limit`] are open.
    fn sweep(&mut self, closed: &mut impl FnMut(Message)) {
        let Some(now) = self.latest else {
            if self.open.len() > self.limit {
                self.evict(closed);
            }
            return;
        };
        let idle = self.idle;
        // Oldest first, as at the end of the input (not in the table's order).
        let mut stale: Vec<(u64, Key)> = self
            .open
            .iter()
            .filter(|(_, m)| {
                m.last
                    .is_some_and(|l| now.as_second() - l.as_second() > idle)
            })
            .map(|(k, m)| (m.seq, k.clone()))
            .collect();
        stale.sort_unstable_by_key(|(seq, _)| *seq);
        for (_, k) in stale {
            self.close(k.as_str(), closed);
        }
        if self.open.len() > self.limit {
            self.evict(closed);
        }
    }

    /// Closes the oldest tenth of the open messages.
    fn evict(&mut self, closed: &mut impl FnMut(Message)) {
        let mut seqs: Vec<u64> = self.open.values().map(|m| m.seq).collect();
        let cut = seqs.len() / 10 + 1;
        let last = seqs.len() - 1;
        let (_, nth, _) = seqs.select_nth_unstable(cut.min(last));
        let nth = *nth;
        let mut old: Vec<(u64, Key)> = self
            .open
            .iter()
            .filter(|(_, m)| m.seq <= nth)
            .map(|(k, m)| (m.seq, k.clone()))
            .collect();
        old.sort_unstable_by_key(|(seq, _)| *seq);
        for (_, k) in old {
            self.close(k.as_str(), closed);
        }
    }

    /// Closes every message still open (the end of the input), oldest first.
    pub fn finish(&mut self, closed: &mut impl FnMut(Message)) {
        let mut all: Vec<Message> = self.open.drain().map(|(_, m)| m).collect();
        all.sort_by_key(|m| m.seq);
        for mut m in all {
            if m.outcome != Outcome::Discarded {
                m.decide();
            }
            closed(m);
        }
    }
}

fn cap(s: &str) -> String {
    if s.len() <= REPLY_CAP {
        return s.to_owned();
    }
    let mut end = REPLY_CAP;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}
