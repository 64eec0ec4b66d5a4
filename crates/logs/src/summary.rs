//! Totals over a log, counted the way pflogsumm counts them (received, delivered, forwarded,
//! deferred, bounced, rejected, ...), plus what pflogsumm lacks: counts per client IP and per
//! login. Every table is bounded: past its cap, new keys are counted under `other_*`.

use crate::scan::Key;
use crate::track::{Message, Outcome};
use crate::{Event, Kind, Level, Server};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};

/// Most keys in the sender and recipient tables.
pub const ADDRESS_CAP: usize = 100_000;
/// Most keys in the per-IP and per-user tables.
pub const CLIENT_CAP: usize = 1_000_000;

/// Most domains in the per-domain tables.
pub const DOMAIN_CAP: usize = 10_000;
/// Most days in the per-day table.
pub const DAY_CAP: usize = 3_660;

/// Where in local time an event falls: its day and hour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct When {
    /// The calendar day.
    pub day: jiff::civil::Date,
    /// The hour of the day (0–23).
    pub hour: u8,
}

/// Deliveries to one recipient domain (pflogsumm's "Host/Domain Summary: Message Delivery").
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct DeliveredTo {
    /// Recipients delivered.
    pub delivered: u64,
    /// Bytes delivered (the message's size per recipient).
    pub bytes: u64,
    /// Deferral lines.
    pub deferrals: u64,
    /// Recipients bounced.
    pub bounced: u64,
    /// Sum of the delivered recipients' delays, in milliseconds.
    pub delay_total_ms: u64,
    /// Longest delay of a delivered recipient, in milliseconds.
    pub delay_max_ms: u64,
}

/// Messages from one sender domain (pflogsumm's "Host/Domain Summary: Messages Received").
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ReceivedFrom {
    /// Messages.
    pub messages: u64,
    /// Their bytes.
    pub bytes: u64,
}

/// Delivery delays (Postfix's `delay=`, Sendmail's `delay=`), as a histogram of logarithmic
/// buckets, each about 6% wide: percentiles are read to that precision, the longest is exact.
#[derive(Debug, Clone, PartialEq)]
pub struct Delays {
    buckets: Vec<u64>,
    /// Delays counted.
    pub count: u64,
    /// The longest, in milliseconds.
    pub max_ms: u64,
}

impl Default for Delays {
    fn default() -> Self {
        Delays {
            buckets: vec![0; 32 + 59 * 16],
            count: 0,
            max_ms: 0,
        }
    }
}

impl Delays {
    /// The bucket of a delay: exact below 32 ms, then 16 per doubling.
    fn bucket(ms: u64) -> usize {
        if ms < 32 {
            return ms as usize;
        }
        let e = 63 - ms.leading_zeros() as usize;
        32 + (e - 5) * 16 + ((ms >> (e - 4)) & 15) as usize
    }

    /// The largest delay a bucket holds.
    fn upper(i: usize) -> u64 {
        if i < 32 {
            return i as u64;
        }
        let (e, m) = (5 + (i - 32) / 16, 16 + (i - 32) % 16);
        ((m as u64 + 1) << (e - 4)) - 1
    }

    /// Counts one delay.
    pub fn add(&mut self, ms: u64) {
        self.buckets[Delays::bucket(ms)] += 1;
        self.count += 1;
        self.max_ms = self.max_ms.max(ms);
    }

    /// The delay that `q` (0–1) of the delays do not exceed, in milliseconds (to about 6%).
    pub fn quantile(&self, q: f64) -> Option<u64> {
        if self.count == 0 {
            return None;
        }
        let rank = ((q * self.count as f64).ceil() as u64).clamp(1, self.count);
        let mut seen = 0;
        for (i, n) in self.buckets.iter().enumerate() {
            seen += n;
            if seen >= rank {
                return Some(Delays::upper(i).min(self.max_ms));
            }
        }
        Some(self.max_ms)
    }
}

impl Serialize for Delays {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("count", &self.count)?;
        for (name, q) in [
            ("p50_ms", 0.5),
            ("p90_ms", 0.9),
            ("p95_ms", 0.95),
            ("p99_ms", 0.99),
        ] {
            m.serialize_entry(name, &self.quantile(q))?;
        }
        m.serialize_entry("max_ms", &(self.count > 0).then_some(self.max_ms))?;
        m.end()
    }
}

/// The outcome counts by name.
fn outcomes<S: serde::Serializer>(
    counts: &[u64; Outcome::ALL.len()],
    s: S,
) -> Result<S::Ok, S::Error> {
    s.collect_map(
        Outcome::ALL
            .iter()
            .zip(counts)
            .filter(|(_, n)| **n > 0)
            .map(|(o, n)| (o.as_str(), n)),
    )
}

/// The per-day table with ISO dates as keys.
fn days<S: serde::Serializer>(
    d: &BTreeMap<jiff::civil::Date, [u64; 5]>,
    s: S,
) -> Result<S::Ok, S::Error> {
    s.collect_map(d.iter().map(|(k, v)| (k.to_string(), v)))
}

/// A delay as written (`0.51`, `12`), in milliseconds, rounded half up. Plain decimals are
/// read by hand (one on every delivery line); anything else through `f64`.
fn delay_ms(d: &str) -> Option<u64> {
    let (int, frac) = d.split_once('.').unwrap_or((d, ""));
    let plain = |t: &str| t.len() <= 12 && t.bytes().all(|c| c.is_ascii_digit());
    if !int.is_empty() && plain(int) && plain(frac) {
        let digits = |t: &[u8]| t.iter().fold(0u64, |n, c| n * 10 + u64::from(c - b'0'));
        let f = frac.as_bytes();
        let mut ms = digits(int.as_bytes()) * 1000;
        for (i, scale) in [100, 10, 1].into_iter().enumerate() {
            ms += f.get(i).map_or(0, |c| u64::from(c - b'0') * scale);
        }
        if f.get(3).is_some_and(|&c| c >= b'5') {
            ms += 1;
        }
        return Some(ms);
    }
    let v: f64 = d.parse().ok()?;
    (v.is_finite() && v >= 0.0).then(|| (v * 1000.0).round() as u64)
}

/// The domain of an address (all of it when it has no `@`, as pflogsumm does).
fn domain(address: &str) -> &str {
    address.rsplit_once('@').map_or(address, |(_, d)| d)
}

/// Applies `f` to the stats of `key` in a table capped at [`DOMAIN_CAP`] (nothing once full
/// and the key is new): one look-up when the key is there.
fn bump<V: Default>(
    map: &mut HashMap<String, V, crate::scan::FxBuild>,
    key: &str,
    f: impl FnOnce(&mut V),
) {
    if let Some(v) = map.get_mut(key) {
        f(v);
    } else if map.len() < DOMAIN_CAP {
        f(map.entry(key.to_owned()).or_default());
    }
}

/// Counts for one client IP.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct IpStats {
    /// Connections.
    pub connections: u64,
    /// Messages received from it.
    pub received: u64,
    /// Refusals.
    pub rejected: u64,
    /// Failed logins.
    pub auth_failed: u64,
    /// Every failure event (refusals, failed logins, protocol abuse, rate limits).
    pub failures: u64,
    /// Suspicious events (lost connections, no login attempt, DNS mismatches).
    pub suspicious: u64,
    /// Logins that failed, per user (at most 8 names kept).
    pub users: Vec<String>,
}

/// Counts for one login.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct UserStats {
    /// Messages sent after logging in.
    pub received: u64,
    /// Successful logins (Dovecot).
    pub logins: u64,
    /// Failed logins.
    pub auth_failed: u64,
    /// Client IPs seen for it (at most 8 kept).
    pub ips: Vec<String>,
}

/// A counter table with a cap. Keys up to 39 bytes (most addresses) are held inline,
/// so a look-up in a table of a hundred thousand addresses compares the key where it lands
/// instead of following a pointer to it; longer ones are held as strings.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Counts {
    short: HashMap<Short, u64, crate::scan::FxBuild>,
    long: HashMap<String, u64, crate::scan::FxBuild>,
    /// Counts of keys that arrived after the cap.
    pub other: u64,
    cap: usize,
}

/// The longest key [`Counts`] holds inline.
const SHORT: usize = 39;

/// A key of at most [`SHORT`] bytes, zero-padded (so equal texts are equal keys), hashed in
/// one pass over its 40 bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Short([u8; SHORT + 1]);

impl Short {
    fn new(s: &str) -> Option<Short> {
        let mut b = [0; SHORT + 1];
        b[0] = u8::try_from(s.len())
            .ok()
            .filter(|&n| usize::from(n) <= SHORT)?;
        b[1..=s.len()].copy_from_slice(s.as_bytes());
        Some(Short(b))
    }

    fn as_str(&self) -> &str {
        // The bytes were a whole `str`.
        std::str::from_utf8(&self.0[1..=usize::from(self.0[0])]).unwrap_or("")
    }
}

impl std::hash::Hash for Short {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        h.write(&self.0);
    }
}

impl Serialize for Counts {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("Counts", 2)?;
        st.serialize_field("counts", &self.iter().collect::<BTreeMap<_, _>>())?;
        st.serialize_field("other", &self.other)?;
        st.end()
    }
}

impl Counts {
    fn with_cap(cap: usize) -> Counts {
        Counts {
            cap,
            ..Counts::default()
        }
    }

    fn add(&mut self, key: &str, n: u64) {
        let room = self.len() < self.cap;
        let slot = match Short::new(key) {
            Some(k) if room => Some(self.short.entry(k).or_default()),
            Some(k) => self.short.get_mut(&k),
            None => match self.long.get_mut(key) {
                Some(c) => Some(c),
                None if room => Some(self.long.entry(key.to_owned()).or_default()),
                None => None,
            },
        };
        match slot {
            Some(c) => *c += n,
            None => self.other += n,
        }
    }

    /// Keys held.
    pub fn len(&self) -> usize {
        self.short.len() + self.long.len()
    }

    /// Whether no key is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every key and its count, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, u64)> {
        let short = self.short.iter().map(|(k, c)| (k.as_str(), *c));
        short.chain(self.long.iter().map(|(k, c)| (k.as_str(), *c)))
    }

    /// The `n` largest, largest first (ties by key).
    pub fn top(&self, n: usize) -> Vec<(&str, u64)> {
        top_by(self.iter().collect(), n, |a, b| {
            b.1.cmp(&a.1).then(a.0.cmp(b.0))
        })
    }
}

/// Stats per key (client IP, login), with a cap. One table holds the key and its stats side
/// by side: a look-up in a table of a million addresses is a trip to main memory, and the
/// stats then sit next to the key just compared instead of in a second array.
#[derive(Debug, Clone, PartialEq)]
pub struct Table<V> {
    map: HashMap<Key, V, crate::scan::FxBuild>,
}

impl<V> Default for Table<V> {
    fn default() -> Self {
        Table {
            map: HashMap::default(),
        }
    }
}

impl<V: Default> Table<V> {
    /// The stats of `key`, added when new unless `cap` keys are held already.
    fn entry(&mut self, key: &str, cap: usize) -> Option<&mut V> {
        let k = Key::new(key);
        if self.map.len() < cap {
            return Some(self.map.entry(k).or_default());
        }
        self.map.get_mut(&k)
    }
}

impl<V> Table<V> {
    /// Keys held.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether no key is held.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// The stats of one key.
    pub fn get(&self, key: &str) -> Option<&V> {
        self.map.get(&Key::new(key))
    }

    /// Every key and its stats, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &V)> {
        self.map.iter().map(|(k, v)| (k.as_str(), v))
    }
}

impl<V: Serialize> Serialize for Table<V> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.iter())
    }
}

/// The first `n` of `v` in the order `cmp` (a total order), sorted: a selection first, so a
/// table of a million keys is not sorted whole for its top twenty.
pub fn top_by<T>(
    mut v: Vec<T>,
    n: usize,
    mut cmp: impl FnMut(&T, &T) -> std::cmp::Ordering,
) -> Vec<T> {
    if n == 0 {
        return Vec::new();
    }
    if v.len() > n {
        v.select_nth_unstable_by(n - 1, &mut cmp);
        v.truncate(n);
    }
    v.sort_by(cmp);
    v
}

/// Everything counted.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    /// Lines read.
    pub lines: u64,
    /// Lines a parser recognised.
    pub recognised: u64,
    /// Messages received (smtpd `client=`, pickup, Exim `<=`, Sendmail `from=`).
    pub received: u64,
    /// Recipient deliveries (`status=sent`), forwards included.
    pub delivered: u64,
    /// Deliveries handed on under another queue id (`sent (forwarded as ID)`), as pflogsumm
    /// counts them (not in `delivered`).
    pub forwarded: u64,
    /// Distinct messages deferred at least once.
    pub deferred: u64,
    /// Deferral log lines.
    pub deferrals: u64,
    /// Recipients bounced.
    pub bounced: u64,
    /// Messages expired.
    pub expired: u64,
    /// Refusals (smtpd, postscreen, cleanup, milters, Exim, Sendmail).
    pub rejected: u64,
    /// Warn-only refusals.
    pub reject_warnings: u64,
    /// Messages discarded or held.
    pub discarded: u64,
    /// Failed logins.
    pub auth_failed: u64,
    /// TLS failures.
    pub tls_failed: u64,
    /// Lost connections and timeouts.
    pub lost_connections: u64,
    /// Protocol abuse (pipelining, pregreeting, too many errors, command limits).
    pub protocol: u64,
    /// Warnings.
    pub warnings: u64,
    /// Fatal errors and panics.
    pub fatal: u64,
    /// Bytes received.
    pub bytes_received: u64,
    /// Bytes delivered (per recipient, as pflogsumm counts).
    pub bytes_delivered: u64,
    /// Per hour of the day (0–23): received, delivered, deferred, bounced, rejected.
    pub per_hour: [[u64; 5]; 24],
    /// Per day (at most [`DAY_CAP`] days): received, delivered, deferred, bounced, rejected.
    #[serde(serialize_with = "days")]
    pub per_day: BTreeMap<jiff::civil::Date, [u64; 5]>,
    /// Delays of the delivered recipients.
    pub delays: Delays,
    /// Deliveries per recipient domain (at most [`DOMAIN_CAP`]).
    pub recipient_domains: HashMap<String, DeliveredTo, crate::scan::FxBuild>,
    /// Messages per sender domain (at most [`DOMAIN_CAP`]).
    pub sender_domains: HashMap<String, ReceivedFrom, crate::scan::FxBuild>,
    /// Messages per sender address.
    pub senders: Counts,
    /// Deliveries per recipient address.
    pub recipients: Counts,
    /// Refusals per reason.
    pub reject_reasons: BTreeMap<&'static str, u64>,
    /// Messages per outcome (from the tracker), indexed by [`Outcome`] (see
    /// [`Summary::outcome_counts`]).
    #[serde(serialize_with = "outcomes")]
    pub outcomes: [u64; Outcome::ALL.len()],
    /// Per client IP.
    pub ips: Table<IpStats>,
    /// Per login.
    pub users: Table<UserStats>,
    /// IPs counted after the cap.
    pub other_ips: u64,
    /// Users counted after the cap.
    pub other_users: u64,
    #[serde(skip)]
    sizes: HashMap<Key, u64, crate::scan::FxBuild>,
    #[serde(skip)]
    deferred_ids: std::collections::HashSet<Key, crate::scan::FxBuild>,
}

impl Default for Summary {
    fn default() -> Self {
        Summary {
            lines: 0,
            recognised: 0,
            received: 0,
            delivered: 0,
            forwarded: 0,
            deferred: 0,
            deferrals: 0,
            bounced: 0,
            expired: 0,
            rejected: 0,
            reject_warnings: 0,
            discarded: 0,
            auth_failed: 0,
            tls_failed: 0,
            lost_connections: 0,
            protocol: 0,
            warnings: 0,
            fatal: 0,
            bytes_received: 0,
            bytes_delivered: 0,
            per_hour: [[0; 5]; 24],
            per_day: BTreeMap::new(),
            delays: Delays::default(),
            recipient_domains: HashMap::default(),
            sender_domains: HashMap::default(),
            senders: Counts::with_cap(ADDRESS_CAP),
            recipients: Counts::with_cap(ADDRESS_CAP),
            reject_reasons: BTreeMap::new(),
            outcomes: [0; Outcome::ALL.len()],
            ips: Table::default(),
            users: Table::default(),
            other_ips: 0,
            other_users: 0,
            sizes: HashMap::default(),
            deferred_ids: Default::default(),
        }
    }
}

impl Summary {
    /// Counts one event; `when` is its day and hour when known.
    pub fn add(&mut self, e: &Event<'_>, when: Option<When>) {
        self.recognised += 1;
        let Some(kind) = e.kind else { return };
        let slot = match kind {
            Kind::Received => Some(0),
            Kind::Delivered => Some(1),
            Kind::Deferred => Some(2),
            Kind::Bounced => Some(3),
            Kind::Rejected => Some(4),
            _ => None,
        };
        if let (Some(w), Some(s)) = (when, slot) {
            self.per_hour[usize::from(w.hour) % 24][s] += 1;
            if let Some(day) = self.per_day.get_mut(&w.day) {
                day[s] += 1;
            } else if self.per_day.len() < DAY_CAP {
                let mut day = [0; 5];
                day[s] = 1;
                self.per_day.insert(w.day, day);
            }
        }
        match kind {
            Kind::Received => {
                self.received += 1;
                if e.server == Server::Exim || e.server == Server::Sendmail {
                    if let Some(from) = e.from {
                        self.senders
                            .add(if from.is_empty() { "from=<>" } else { from }, 1);
                        self.received_from(from, e.size.unwrap_or(0));
                    }
                    self.bytes_received += e.size.unwrap_or(0);
                }
            }
            Kind::Queued => {
                // pflogsumm counts sizes and senders from qmgr, once per queue id.
                if let Some(qid) = e.queue_id.map(Key::new)
                    && !self.sizes.contains_key(&qid)
                {
                    let size = e.size.unwrap_or(0);
                    self.bytes_received += size;
                    if self.sizes.len() < 1_000_000 {
                        self.sizes.insert(qid, size);
                    }
                    if let Some(from) = e.from {
                        self.senders
                            .add(if from.is_empty() { "from=<>" } else { from }, 1);
                        self.received_from(from, size);
                    }
                }
            }
            Kind::Delivered => {
                if e.server == Server::Dovecot {
                    return;
                }
                // pflogsumm counts `sent (forwarded as ID)` as forwarded, not delivered.
                if e.reply
                    .is_some_and(|r| crate::scan::has(r, "forwarded as "))
                {
                    self.forwarded += 1;
                    return;
                }
                self.delivered += 1;
                if let Some(to) = e.to {
                    self.recipients.add(to, 1);
                }
                let size = e
                    .queue_id
                    .and_then(|q| self.sizes.get(&Key::new(q)))
                    .copied()
                    .unwrap_or(0);
                self.bytes_delivered += size;
                let delay = e.delay.and_then(delay_ms);
                if let Some(ms) = delay {
                    self.delays.add(ms);
                }
                if let Some(to) = e.to {
                    bump(&mut self.recipient_domains, domain(to), |d| {
                        d.delivered += 1;
                        d.bytes += size;
                        if let Some(ms) = delay {
                            d.delay_total_ms += ms;
                            d.delay_max_ms = d.delay_max_ms.max(ms);
                        }
                    });
                }
            }
            Kind::Deferred => {
                self.deferrals += 1;
                if let Some(to) = e.to {
                    bump(&mut self.recipient_domains, domain(to), |d| {
                        d.deferrals += 1
                    });
                }
                if let Some(qid) = e.queue_id
                    && self.deferred_ids.len() < 1_000_000
                    && self.deferred_ids.insert(Key::new(qid))
                {
                    self.deferred += 1;
                }
            }
            Kind::Bounced => {
                self.bounced += 1;
                if let Some(to) = e.to {
                    bump(&mut self.recipient_domains, domain(to), |d| d.bounced += 1);
                }
            }
            Kind::Expired => self.expired += 1,
            Kind::Rejected => {
                self.rejected += 1;
                let r = e.reason.map_or("other", |r| r.as_str());
                *self.reject_reasons.entry(r).or_default() += 1;
            }
            Kind::RejectWarning => self.reject_warnings += 1,
            Kind::Discarded => self.discarded += 1,
            Kind::AuthFailed => self.auth_failed += 1,
            Kind::TlsFailed => self.tls_failed += 1,
            Kind::LostConnection => self.lost_connections += 1,
            Kind::Protocol => self.protocol += 1,
            Kind::Warning => self.warnings += 1,
            Kind::Fatal => self.fatal += 1,
            Kind::Removed => {
                if let Some(q) = e.queue_id.map(Key::new) {
                    self.sizes.remove(&q);
                    self.deferred_ids.remove(&q);
                }
            }
            _ => {}
        }
        // Outbound lines name the remote server, not a client.
        let outbound = matches!(
            kind,
            Kind::Delivered | Kind::Deferred | Kind::Bounced | Kind::Expired | Kind::ConnectFailed
        ) || (e.server == Server::Postfix && matches!(e.daemon, "smtp" | "lmtp"));
        if let Some(ip) = e.ip.filter(|_| !outbound) {
            if let Some(s) = self.ips.entry(ip, CLIENT_CAP) {
                count_ip(s, e, kind);
            } else {
                self.other_ips += 1;
            }
        }
        if let Some(user) = e.user
            && matches!(kind, Kind::Received | Kind::AuthFailed | Kind::Login)
        {
            if let Some(s) = self.users.entry(user, CLIENT_CAP) {
                count_user(s, e, kind);
            } else {
                self.other_users += 1;
            }
        }
    }

    /// Counts a message from `from` (the null sender under `from=<>`, as pflogsumm lists it).
    fn received_from(&mut self, from: &str, size: u64) {
        let key = if from.is_empty() {
            "from=<>"
        } else {
            domain(from)
        };
        bump(&mut self.sender_domains, key, |d| {
            d.messages += 1;
            d.bytes += size;
        });
    }

    /// Messages per outcome seen, by name.
    pub fn outcome_counts(&self) -> BTreeMap<&'static str, u64> {
        Outcome::ALL
            .iter()
            .zip(self.outcomes)
            .filter(|(_, n)| *n > 0)
            .map(|(o, n)| (o.as_str(), n))
            .collect()
    }

    /// Counts a closed message's outcome.
    pub fn message(&mut self, m: &Message) {
        self.outcomes[m.outcome as usize] += 1;
        if m.outcome == Outcome::Unfinished {
            let q = Key::new(&m.queue_id);
            self.sizes.remove(&q);
            self.deferred_ids.remove(&q);
        }
    }
}

/// Counts one event for its client IP.
fn count_ip(s: &mut IpStats, e: &Event<'_>, kind: Kind) {
    match kind {
        Kind::Connect => s.connections += 1,
        Kind::Received => s.received += 1,
        Kind::Rejected => s.rejected += 1,
        Kind::AuthFailed => {
            s.auth_failed += 1;
            if let Some(u) = e.user
                && s.users.len() < 8
                && !s.users.iter().any(|x| x == u)
            {
                s.users.push(u.to_owned());
            }
        }
        _ => {}
    }
    match e.level {
        Level::Failure => s.failures += 1,
        Level::Suspicious => s.suspicious += 1,
        Level::Info => {}
    }
}

/// Counts one event for its login.
fn count_user(s: &mut UserStats, e: &Event<'_>, kind: Kind) {
    match kind {
        Kind::Received => s.received += 1,
        Kind::AuthFailed => s.auth_failed += 1,
        Kind::Login => s.logins += 1,
        _ => {}
    }
    if let Some(ip) = e.ip
        && s.ips.len() < 8
        && !s.ips.iter().any(|x| x == ip)
    {
        s.ips.push(ip.to_owned());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_read_and_ranked() {
        for (text, ms) in [
            ("0.51", Some(510)),
            ("12", Some(12_000)),
            ("4.6449", Some(4645)),
            ("0.0004", Some(0)),
            ("3.", Some(3000)),
            ("1e3", Some(1_000_000)),
            ("-1", None),
            ("x", None),
        ] {
            assert_eq!(delay_ms(text), ms, "{text}");
        }
        let mut d = Delays::default();
        assert_eq!(d.quantile(0.5), None);
        for ms in 1..=1000 {
            d.add(ms);
        }
        let p50 = d.quantile(0.5).unwrap();
        assert!((500..=532).contains(&p50), "{p50}");
        assert_eq!(d.quantile(1.0), Some(1000));
        assert_eq!(d.max_ms, 1000);
        for ms in [0, 1, 31, 32, 33, 63, 64, 1000, 86_400_000, u64::MAX / 2] {
            let b = Delays::bucket(ms);
            assert!(
                Delays::upper(b) >= ms && (b == 0 || Delays::upper(b - 1) < ms),
                "{ms}"
            );
        }
    }

    #[test]
    fn outcomes_are_listed_in_order() {
        for (i, o) in Outcome::ALL.iter().enumerate() {
            assert_eq!(*o as usize, i);
        }
    }

    #[test]
    fn domains_of_addresses() {
        assert_eq!(domain("a@b.example"), "b.example");
        assert_eq!(domain("\"a@b\"@c.example"), "c.example");
        assert_eq!(domain("root"), "root");
    }

    #[test]
    fn counts_short_and_long_keys_share_one_cap() {
        let long = "a-rather-long-local-part-of-forty-bytes@example.org";
        assert!(long.len() > SHORT);
        let mut c = Counts::with_cap(3);
        c.add("a@b.example", 2);
        c.add(long, 1);
        c.add(long, 4);
        c.add(&"x".repeat(SHORT), 1);
        c.add("new@b.example", 7);
        c.add(&format!("{long}.net"), 1);
        c.add("a@b.example", 1);
        assert_eq!(c.len(), 3);
        assert_eq!(c.other, 8);
        assert_eq!(
            c.top(5),
            vec![(long, 5), ("a@b.example", 3), (&*"x".repeat(SHORT), 1)]
        );
    }

    #[test]
    fn table_keeps_stats_by_key_up_to_its_cap() {
        let mut t: Table<UserStats> = Table::default();
        let long = "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff";
        t.entry("192.0.2.1", 2).unwrap().received += 1;
        t.entry(long, 2).unwrap().received += 2;
        t.entry("192.0.2.1", 2).unwrap().received += 1;
        assert!(t.entry("192.0.2.9", 2).is_none());
        assert_eq!(t.len(), 2);
        assert_eq!(t.get("192.0.2.1").map(|s| s.received), Some(2));
        assert_eq!(t.get(long).map(|s| s.received), Some(2));
        let mut all: Vec<&str> = t.iter().map(|(k, _)| k).collect();
        all.sort();
        assert_eq!(all, ["192.0.2.1", long]);
    }
}
