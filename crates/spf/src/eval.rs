//! check_host() as RFC 7208 sections 4 to 7 define it: record selection, every mechanism,
//! include and redirect, macro expansion, the explanation, the limits of 10 DNS-querying
//! terms and 2 void lookups, and a trace of what was asked and found, for a linter to show.
//!
//! The same evaluator also *walks* a policy: every term is evaluated and every include and
//! redirect followed without stopping at the first match, so that lookup counts cover the
//! whole tree rather than one client's path through it.

use crate::dns::{Lookup, Outcome, QueryType, Resolver};
use crate::macros::{self, MacroContext, MacroString, Place, Token};
use crate::record::{self, Directive, Mechanism, Qualifier, Record, SyntaxError, TermKind};
use std::fmt;
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::ops::Range;
use std::pin::Pin;

/// The results of check_host() (RFC 7208 2.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SpfResult {
    /// No SPF record, or no usable domain.
    None,
    /// The domain states nothing about the client (`?`, or no match).
    Neutral,
    /// The client is authorised.
    Pass,
    /// The client is not authorised.
    Fail,
    /// The client is probably not authorised (`~`).
    SoftFail,
    /// A transient DNS failure.
    TempError,
    /// The policy cannot be interpreted (syntax, limits, missing include targets).
    PermError,
}

impl SpfResult {
    /// The lower-case name RFC 7208 uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Neutral => "neutral",
            Self::Pass => "pass",
            Self::Fail => "fail",
            Self::SoftFail => "softfail",
            Self::TempError => "temperror",
            Self::PermError => "permerror",
        }
    }

    fn from_qualifier(q: Qualifier) -> Self {
        match q {
            Qualifier::Pass => Self::Pass,
            Qualifier::Fail => Self::Fail,
            Qualifier::SoftFail => Self::SoftFail,
            Qualifier::Neutral => Self::Neutral,
        }
    }
}

impl fmt::Display for SpfResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Limits and facts that are not part of the message.
#[derive(Debug, Clone)]
pub struct Options {
    /// Terms that query DNS (include, a, mx, ptr, exists, redirect): RFC 7208 says 10.
    pub lookup_limit: u32,
    /// Look-ups answered NXDOMAIN or NODATA: RFC 7208 recommends 2.
    pub void_limit: u32,
    /// MX names one `mx` may return before it is a permerror: 10.
    pub mx_limit: usize,
    /// PTR names one `ptr` (or `%{p}`) checks: 10.
    pub ptr_limit: usize,
    /// The receiving host, for `%{r}` in explanations.
    pub receiver: String,
    /// Seconds since the epoch for `%{t}`; the clock when `None`.
    pub timestamp: Option<u64>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            lookup_limit: 10,
            void_limit: 2,
            mx_limit: 10,
            ptr_limit: 10,
            receiver: "unknown".into(),
            timestamp: None,
        }
    }
}

/// Why a check ended in permerror or temperror (or, in a walk, what went wrong where).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// What sort of problem.
    pub kind: ProblemKind,
    /// The domain whose record it is in (or whose look-up failed).
    pub domain: String,
    /// The term, as written, when one is to blame.
    pub term: Option<String>,
    /// What happened, in plain words.
    pub message: String,
}

/// The sorts of problem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProblemKind {
    /// The record does not parse.
    Syntax(SyntaxError),
    /// More than one `v=spf1` TXT record at one name.
    MultipleRecords(usize),
    /// More DNS-querying terms than the limit.
    TooManyLookups,
    /// More void look-ups than the limit.
    TooManyVoidLookups,
    /// An `mx` returned more names than the limit.
    TooManyMx(usize),
    /// An include target has no SPF record.
    IncludeNone,
    /// A redirect target has no SPF record.
    RedirectNone,
    /// A DNS query timed out or failed.
    Dns(Outcome),
    /// (Walks only.) An include or redirect leads back to a domain already being evaluated.
    Loop,
}

/// How a record was reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reached {
    /// The domain check_host() was asked about.
    Start,
    /// Through `include:`.
    Include,
    /// Through `redirect=`.
    Redirect,
}

/// One DNS query made while evaluating a term.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryTrace {
    /// The name asked.
    pub name: String,
    /// The type asked.
    pub qtype: QueryType,
    /// What came back.
    pub outcome: Outcome,
    /// Whether it counted as a void look-up.
    pub void: bool,
}

/// What a term came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TermOutcome {
    /// The mechanism matched.
    Matched,
    /// It did not match.
    NotMatched,
    /// Its target name is not a usable DNS name, so nothing was asked and it did not match.
    InvalidTarget,
    /// It ended the check with this error result.
    Error(SpfResult),
    /// (Redirects.) Followed; the result is the target's.
    Followed,
}

/// One evaluated term (a mechanism, or `redirect=`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TermTrace {
    /// Index into the record's terms.
    pub index: usize,
    /// The term as written.
    pub text: String,
    /// Where it stands in the record.
    pub span: Range<usize>,
    /// `include`, `a`, ..., or `redirect`.
    pub name: &'static str,
    /// Whether it counted toward the DNS-querying term limit.
    pub counted: bool,
    /// The running count of DNS-querying terms after this one.
    pub lookups_so_far: u32,
    /// The expanded target domain, when the term has one.
    pub target: Option<String>,
    /// Whether the target uses macros, so that it varies with the message.
    pub uses_macros: bool,
    /// The queries made, in order.
    pub queries: Vec<QueryTrace>,
    /// Void look-ups charged to this term.
    pub void_lookups: u32,
    /// What it came to.
    pub outcome: TermOutcome,
    /// A problem met here (in a walk, problems are kept and evaluation goes on).
    pub problem: Option<Problem>,
    /// The included or redirected-to record.
    pub child: Option<Box<RecordTrace>>,
}

/// One record in the evaluation tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordTrace {
    /// The domain.
    pub domain: String,
    /// How it was reached.
    pub reached: Reached,
    /// Whether the domain is a usable DNS name; when not, nothing was asked.
    pub name_valid: bool,
    /// What the TXT query came to.
    pub txt: Option<Outcome>,
    /// Every TXT record at the name, each as its character-strings.
    pub txt_records: Vec<Vec<Vec<u8>>>,
    /// The `v=spf1` ones among them, joined.
    pub spf_records: Vec<String>,
    /// The record evaluated, when exactly one parsed.
    pub record: Option<Record>,
    /// The terms evaluated, in order; `redirect=` comes last when followed.
    pub terms: Vec<TermTrace>,
    /// This record's result.
    pub result: SpfResult,
    /// Why it is an error, when it is.
    pub problem: Option<Problem>,
}

impl RecordTrace {
    fn new(domain: &str, reached: Reached) -> Self {
        Self {
            domain: domain.to_string(),
            reached,
            name_valid: true,
            txt: None,
            txt_records: Vec::new(),
            spf_records: Vec::new(),
            record: None,
            terms: Vec::new(),
            result: SpfResult::None,
            problem: None,
        }
    }

    /// The record whose terms decided the result: this one, or the end of its redirects.
    pub fn deciding(&self) -> &RecordTrace {
        match self.terms.last() {
            Some(t) if t.name == "redirect" => t.child.as_deref().map_or(self, |c| c.deciding()),
            _ => self,
        }
    }

    /// Every record in the tree, depth first, with its depth.
    pub fn walk(&self) -> Vec<(usize, &RecordTrace)> {
        let mut out = Vec::new();
        self.collect(0, &mut out);
        out
    }

    fn collect<'a>(&'a self, depth: usize, out: &mut Vec<(usize, &'a RecordTrace)>) {
        out.push((depth, self));
        for t in &self.terms {
            if let Some(c) = &t.child {
                c.collect(depth + 1, out);
            }
        }
    }
}

/// The outcome of check_host().
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evaluation {
    /// The result.
    pub result: SpfResult,
    /// The explanation from `exp=`, when the result is fail and one could be had.
    pub explanation: Option<String>,
    /// Why the result is permerror or temperror.
    pub problem: Option<Problem>,
    /// DNS-querying terms evaluated.
    pub lookups: u32,
    /// Void look-ups met.
    pub void_lookups: u32,
    /// The tree of records evaluated.
    pub trace: RecordTrace,
}

/// The outcome of [`walk`]: the whole tree and its totals.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Walk {
    /// Every record reachable, every term evaluated.
    pub trace: RecordTrace,
    /// DNS-querying terms in the whole tree.
    pub lookups: u32,
    /// Void look-ups in the whole tree.
    pub void_lookups: u32,
}

/// check_host() for a MAIL FROM: an empty `mail_from` is the null sender, checked as
/// `postmaster@helo` (RFC 7208 2.4).
pub async fn check_mail_from<R: Resolver>(
    resolver: &R,
    ip: IpAddr,
    mail_from: &str,
    helo: &str,
    options: &Options,
) -> Evaluation {
    let sender = if mail_from.is_empty() {
        format!("postmaster@{helo}")
    } else {
        mail_from.to_string()
    };
    let domain = match sender.rfind('@') {
        Some(at) => sender[at + 1..].to_string(),
        None => sender.clone(),
    };
    check_host(resolver, ip, &domain, &sender, helo, options).await
}

/// check_host() for the HELO identity (RFC 7208 2.3).
pub async fn check_helo<R: Resolver>(
    resolver: &R,
    ip: IpAddr,
    helo: &str,
    options: &Options,
) -> Evaluation {
    let sender = format!("postmaster@{helo}");
    check_host(resolver, ip, helo, &sender, helo, options).await
}

/// check_host(`ip`, `domain`, `sender`) with `helo` for `%{h}` (RFC 7208 section 4).
pub async fn check_host<R: Resolver>(
    resolver: &R,
    ip: IpAddr,
    domain: &str,
    sender: &str,
    helo: &str,
    options: &Options,
) -> Evaluation {
    let domain = domain.strip_suffix('.').unwrap_or(domain);
    let mut ev = Evaluator::new(resolver, options, false, ip, sender, helo, domain);
    if !valid_start_domain(domain) {
        let mut trace = RecordTrace::new(domain, Reached::Start);
        trace.name_valid = false;
        return Evaluation {
            result: SpfResult::None,
            explanation: None,
            problem: None,
            lookups: 0,
            void_lookups: 0,
            trace,
        };
    }
    let trace = ev.record(domain.to_string(), Reached::Start).await;
    let explanation = if trace.result == SpfResult::Fail {
        ev.explanation(trace.deciding()).await
    } else {
        None
    };
    Evaluation {
        result: trace.result,
        explanation,
        problem: trace.problem.clone(),
        lookups: ev.lookups,
        void_lookups: ev.voids,
        trace,
    }
}

/// Evaluates every term of `domain`'s policy and follows every include and redirect, for a
/// linter. `ip` only picks the address family for `a` and `mx` (and the PTR name); sender
/// and HELO are `postmaster@domain` and `domain`. Limits are counted, not enforced.
pub async fn walk<R: Resolver>(resolver: &R, domain: &str, ip: IpAddr, options: &Options) -> Walk {
    let domain = domain.strip_suffix('.').unwrap_or(domain);
    let sender = format!("postmaster@{domain}");
    let mut ev = Evaluator::new(resolver, options, true, ip, &sender, domain, domain);
    let trace = if valid_start_domain(domain) {
        ev.record(domain.to_string(), Reached::Start).await
    } else {
        let mut t = RecordTrace::new(domain, Reached::Start);
        t.name_valid = false;
        t
    };
    Walk {
        trace,
        lookups: ev.lookups,
        void_lookups: ev.voids,
    }
}

/// How deep a walk follows includes and redirects; a check is bounded by the lookup limit.
const WALK_DEPTH: usize = 20;

type Failure = (SpfResult, Problem);
type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

struct Evaluator<'a, R: Resolver> {
    resolver: &'a R,
    opts: &'a Options,
    walk: bool,
    ctx: MacroContext,
    lookups: u32,
    voids: u32,
    stack: Vec<String>,
    validated: Option<Vec<String>>,
}

impl<'a, R: Resolver> Evaluator<'a, R> {
    #[allow(clippy::too_many_arguments)]
    fn new(
        resolver: &'a R,
        opts: &'a Options,
        walk: bool,
        ip: IpAddr,
        sender: &str,
        helo: &str,
        domain: &str,
    ) -> Self {
        // An IPv4-mapped IPv6 client is an IPv4 client (RFC 7208 section 5).
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
            v4 => v4,
        };
        let (local, sender_domain) = match sender.rfind('@') {
            Some(at) => (&sender[..at], &sender[at + 1..]),
            None => ("", sender),
        };
        let local = if local.is_empty() {
            "postmaster"
        } else {
            local
        };
        let timestamp = opts.timestamp.unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs())
        });
        Self {
            resolver,
            opts,
            walk,
            ctx: MacroContext {
                sender: format!("{local}@{sender_domain}"),
                local: local.to_string(),
                sender_domain: sender_domain.to_string(),
                domain: domain.to_string(),
                ip,
                helo: helo.to_string(),
                validated: None,
                receiver: opts.receiver.clone(),
                timestamp,
            },
            lookups: 0,
            voids: 0,
            stack: Vec::new(),
            validated: None,
        }
    }

    /// Fetches, selects, parses and evaluates the record at `domain`.
    fn record(&mut self, domain: String, reached: Reached) -> BoxFuture<'_, RecordTrace> {
        Box::pin(async move {
            let mut node = RecordTrace::new(&domain, reached);
            if !valid_name(&domain) {
                node.name_valid = false;
                return node;
            }
            let txt = self.resolver.txt(&domain).await;
            node.txt = Some(txt.outcome());
            let rrs = match txt {
                Lookup::Found(rrs) => rrs,
                Lookup::NxDomain | Lookup::NoData => return node,
                Lookup::Timeout | Lookup::Failed(_) => {
                    node.result = SpfResult::TempError;
                    node.problem = Some(Problem {
                        message: format!(
                            "the TXT query for {domain} failed: {}",
                            describe(&txt_outcome(&node))
                        ),
                        kind: ProblemKind::Dns(txt_outcome(&node)),
                        domain: domain.clone(),
                        term: None,
                    });
                    return node;
                }
            };
            let joined: Vec<Vec<u8>> = rrs.iter().map(|r| r.concat()).collect();
            node.txt_records = rrs;
            let spf: Vec<&Vec<u8>> = joined.iter().filter(|t| record::is_spf(t)).collect();
            node.spf_records = spf
                .iter()
                .map(|t| String::from_utf8_lossy(t).into_owned())
                .collect();
            match spf.len() {
                0 => return node,
                1 => {}
                n => {
                    node.result = SpfResult::PermError;
                    node.problem = Some(Problem {
                        kind: ProblemKind::MultipleRecords(n),
                        domain: domain.clone(),
                        term: None,
                        message: format!("{domain} has {n} SPF records; there must be exactly one"),
                    });
                    return node;
                }
            }
            let parsed = match record::parse_bytes(spf[0]) {
                Ok(r) => r,
                Err(e) => {
                    node.result = SpfResult::PermError;
                    node.problem = Some(Problem {
                        message: format!("the SPF record of {domain} is invalid {e}"),
                        kind: ProblemKind::Syntax(e),
                        domain: domain.clone(),
                        term: None,
                    });
                    return node;
                }
            };
            self.stack.push(domain.to_ascii_lowercase());
            self.evaluate(&mut node, &parsed).await;
            self.stack.pop();
            node.record = Some(parsed);
            node
        })
    }

    async fn evaluate(&mut self, node: &mut RecordTrace, rec: &Record) {
        let domain = node.domain.clone();
        let mut decided: Option<(SpfResult, Option<Problem>)> = None;
        for (index, term) in rec.terms.iter().enumerate() {
            let TermKind::Directive(d) = &term.kind else {
                continue;
            };
            let mut tt = TermTrace {
                index,
                text: term.text.clone(),
                span: term.span.clone(),
                name: d.mechanism.name(),
                counted: false,
                lookups_so_far: self.lookups,
                target: None,
                uses_macros: false,
                queries: Vec::new(),
                void_lookups: 0,
                outcome: TermOutcome::NotMatched,
                problem: None,
                child: None,
            };
            let outcome = self.mechanism(&mut tt, d, &domain).await;
            let stop = match outcome {
                Ok(true) => {
                    tt.outcome = TermOutcome::Matched;
                    if decided.is_none() {
                        decided = Some((SpfResult::from_qualifier(d.qualifier), None));
                    }
                    true
                }
                Ok(false) => {
                    if tt.outcome != TermOutcome::InvalidTarget {
                        tt.outcome = TermOutcome::NotMatched;
                    }
                    false
                }
                Err((result, problem)) => {
                    tt.outcome = TermOutcome::Error(result);
                    tt.problem = Some(problem.clone());
                    if decided.is_none() {
                        decided = Some((result, Some(problem)));
                    }
                    true
                }
            };
            node.terms.push(tt);
            if stop && !self.walk {
                break;
            }
        }
        // A walk follows the redirect whenever check_host() could: when no `all` ends the record.
        let follow = if self.walk {
            rec.all().is_none()
        } else {
            decided.is_none()
        };
        let redirect = rec
            .terms
            .iter()
            .enumerate()
            .find_map(|(i, t)| match &t.kind {
                TermKind::Modifier(record::Modifier::Redirect(s)) => Some((i, s)),
                _ => None,
            })
            .filter(|_| follow);
        if let Some((index, spec)) = redirect {
            let term = &rec.terms[index];
            let mut tt = TermTrace {
                index,
                text: term.text.clone(),
                span: term.span.clone(),
                name: "redirect",
                counted: false,
                lookups_so_far: self.lookups,
                target: None,
                uses_macros: spec.has_macros(),
                queries: Vec::new(),
                void_lookups: 0,
                outcome: TermOutcome::Followed,
                problem: None,
                child: None,
            };
            let r = self.redirect(&mut tt, spec, &domain).await;
            if let Err((result, problem)) = &r {
                tt.outcome = TermOutcome::Error(*result);
                tt.problem = Some(problem.clone());
            }
            node.terms.push(tt);
            if decided.is_none() {
                decided = Some(match r {
                    Ok(result) => (result, None),
                    Err((result, problem)) => (result, Some(problem)),
                });
            }
        }
        let (result, problem) = decided.unwrap_or((SpfResult::Neutral, None));
        node.result = result;
        node.problem = problem;
    }

    async fn redirect(
        &mut self,
        tt: &mut TermTrace,
        spec: &MacroString,
        domain: &str,
    ) -> Result<SpfResult, Failure> {
        self.count(tt, domain)?;
        let target = self.target(Some(spec), domain).await;
        tt.target = Some(target.clone());
        if let Some(f) = self.loop_check(tt, &target, domain) {
            return Err(f);
        }
        let child = self.record(target.clone(), Reached::Redirect).await;
        let result = child.result;
        let child_problem = child.problem.clone();
        tt.child = Some(Box::new(child));
        match result {
            SpfResult::None => Err((
                SpfResult::PermError,
                problem(
                    ProblemKind::RedirectNone,
                    domain,
                    tt,
                    format!("redirect target {target} has no SPF record"),
                ),
            )),
            SpfResult::TempError | SpfResult::PermError => Err((
                result,
                child_problem.unwrap_or_else(|| {
                    problem(ProblemKind::RedirectNone, domain, tt, "error".into())
                }),
            )),
            r => Ok(r),
        }
    }

    /// In a walk, a target already on the stack (or too deep) is a loop, not followed.
    fn loop_check(&self, tt: &TermTrace, target: &str, domain: &str) -> Option<Failure> {
        if !self.walk {
            return None;
        }
        let lower = target.to_ascii_lowercase();
        if self.stack.contains(&lower) || self.stack.len() >= WALK_DEPTH {
            return Some((
                SpfResult::PermError,
                problem(
                    ProblemKind::Loop,
                    domain,
                    tt,
                    format!("{target} leads back to a record already being evaluated"),
                ),
            ));
        }
        None
    }

    /// Counts a DNS-querying term; over the limit it is a permerror (a walk only notes it).
    fn count(&mut self, tt: &mut TermTrace, domain: &str) -> Result<(), Failure> {
        self.lookups += 1;
        tt.counted = true;
        tt.lookups_so_far = self.lookups;
        if self.lookups > self.opts.lookup_limit {
            let p = problem(
                ProblemKind::TooManyLookups,
                domain,
                tt,
                format!(
                    "more than {} DNS-querying terms (include, a, mx, ptr, exists, redirect)",
                    self.opts.lookup_limit
                ),
            );
            if self.walk {
                tt.problem.get_or_insert(p);
            } else {
                return Err((SpfResult::PermError, p));
            }
        }
        Ok(())
    }

    /// Records a query in the trace, charging a void look-up when asked.
    fn note<T>(
        &mut self,
        tt: &mut TermTrace,
        domain: &str,
        name: &str,
        qtype: QueryType,
        answer: &Lookup<T>,
        charge_void: bool,
    ) -> Result<(), Failure> {
        let void = charge_void && answer.is_void();
        tt.queries.push(QueryTrace {
            name: name.to_string(),
            qtype,
            outcome: answer.outcome(),
            void,
        });
        if void {
            self.voids += 1;
            tt.void_lookups += 1;
            if self.voids > self.opts.void_limit {
                let p = problem(
                    ProblemKind::TooManyVoidLookups,
                    domain,
                    tt,
                    format!(
                        "more than {} look-ups found nothing (NXDOMAIN or no records)",
                        self.opts.void_limit
                    ),
                );
                if self.walk {
                    tt.problem.get_or_insert(p);
                } else {
                    return Err((SpfResult::PermError, p));
                }
            }
        }
        Ok(())
    }

    async fn mechanism(
        &mut self,
        tt: &mut TermTrace,
        d: &Directive,
        domain: &str,
    ) -> Result<bool, Failure> {
        let ip = self.ctx.ip;
        match &d.mechanism {
            Mechanism::All => Ok(true),
            Mechanism::Ip4 { addr, prefix } => Ok(match ip {
                IpAddr::V4(c) => in_net4(c, *addr, prefix.unwrap_or(32)),
                IpAddr::V6(_) => false,
            }),
            Mechanism::Ip6 { addr, prefix } => Ok(match ip {
                IpAddr::V6(c) => in_net6(c, *addr, prefix.unwrap_or(128)),
                IpAddr::V4(_) => false,
            }),
            Mechanism::Include(spec) => {
                self.count(tt, domain)?;
                tt.uses_macros = spec.has_macros();
                let target = self.target(Some(spec), domain).await;
                tt.target = Some(target.clone());
                if let Some(f) = self.loop_check(tt, &target, domain) {
                    return Err(f);
                }
                let child = self.record(target.clone(), Reached::Include).await;
                let result = child.result;
                let child_problem = child.problem.clone();
                tt.child = Some(Box::new(child));
                match result {
                    SpfResult::Pass => Ok(true),
                    SpfResult::Fail | SpfResult::SoftFail | SpfResult::Neutral => Ok(false),
                    SpfResult::None => Err((
                        SpfResult::PermError,
                        problem(
                            ProblemKind::IncludeNone,
                            domain,
                            tt,
                            format!("include target {target} has no SPF record"),
                        ),
                    )),
                    SpfResult::TempError | SpfResult::PermError => Err((
                        result,
                        child_problem.unwrap_or_else(|| {
                            problem(ProblemKind::IncludeNone, domain, tt, "error".into())
                        }),
                    )),
                }
            }
            Mechanism::A { domain: spec, cidr } => {
                self.count(tt, domain)?;
                let Some(target) = self.checked_target(tt, spec.as_ref(), domain).await else {
                    return Ok(false);
                };
                self.addresses_match(tt, domain, &target, cidr.v4, cidr.v6, true)
                    .await
            }
            Mechanism::Mx { domain: spec, cidr } => {
                self.count(tt, domain)?;
                let Some(target) = self.checked_target(tt, spec.as_ref(), domain).await else {
                    return Ok(false);
                };
                let answer = self.resolver.mx(&target).await;
                self.note(tt, domain, &target, QueryType::Mx, &answer, true)?;
                let mut mxs = match answer {
                    Lookup::Found(v) => v,
                    Lookup::NxDomain | Lookup::NoData => return Ok(false),
                    other => return Err(dns_failure(domain, tt, &target, QueryType::Mx, &other)),
                };
                if mxs.len() > self.opts.mx_limit {
                    let p = problem(
                        ProblemKind::TooManyMx(mxs.len()),
                        domain,
                        tt,
                        format!(
                            "{target} has {} MX records; 'mx' may look up at most {}",
                            mxs.len(),
                            self.opts.mx_limit
                        ),
                    );
                    if !self.walk {
                        return Err((SpfResult::PermError, p));
                    }
                    tt.problem.get_or_insert(p);
                    mxs.truncate(self.opts.mx_limit);
                }
                mxs.sort_by_key(|m| m.preference);
                let mut matched = false;
                for mx in mxs {
                    let host = mx.exchange.trim_end_matches('.');
                    // A null MX (RFC 7505) names no host.
                    if host.is_empty() || !valid_name(host) {
                        continue;
                    }
                    if self
                        .addresses_match(tt, domain, host, cidr.v4, cidr.v6, false)
                        .await?
                    {
                        matched = true;
                        if !self.walk {
                            break;
                        }
                    }
                }
                Ok(matched)
            }
            Mechanism::Ptr(spec) => {
                self.count(tt, domain)?;
                tt.uses_macros = spec.as_ref().is_some_and(|s| s.has_macros());
                let target = self.target(spec.as_ref(), domain).await;
                tt.target = Some(target.clone());
                let names = self.validated_names(tt, domain, true).await?;
                let t = target.to_ascii_lowercase();
                Ok(names.iter().any(|n| {
                    let n = n.to_ascii_lowercase();
                    n == t || n.ends_with(&format!(".{t}"))
                }))
            }
            Mechanism::Exists(spec) => {
                self.count(tt, domain)?;
                let Some(target) = self.checked_target(tt, Some(spec), domain).await else {
                    return Ok(false);
                };
                // Always an A query, whatever the client's family (RFC 7208 5.7).
                let answer = self.resolver.a(&target).await;
                self.note(tt, domain, &target, QueryType::A, &answer, true)?;
                match answer {
                    Lookup::Found(v) => Ok(!v.is_empty()),
                    Lookup::NxDomain | Lookup::NoData => Ok(false),
                    other => Err(dns_failure(domain, tt, &target, QueryType::A, &other)),
                }
            }
        }
    }

    /// Expands the target and checks it is a usable DNS name; `None` (no match) when not.
    async fn checked_target(
        &mut self,
        tt: &mut TermTrace,
        spec: Option<&MacroString>,
        domain: &str,
    ) -> Option<String> {
        tt.uses_macros = spec.is_some_and(|s| s.has_macros());
        let target = self.target(spec, domain).await;
        tt.target = Some(target.clone());
        if valid_name(&target) {
            Some(target)
        } else {
            // RFC 7208 leaves such names undefined; like an unanswerable query, they match nothing.
            tt.outcome = TermOutcome::InvalidTarget;
            None
        }
    }

    /// A or AAAA (by the client's family) for `name`, matched under the prefix lengths.
    async fn addresses_match(
        &mut self,
        tt: &mut TermTrace,
        domain: &str,
        name: &str,
        v4: Option<u8>,
        v6: Option<u8>,
        charge_void: bool,
    ) -> Result<bool, Failure> {
        match self.ctx.ip {
            IpAddr::V4(c) => {
                let answer = self.resolver.a(name).await;
                self.note(tt, domain, name, QueryType::A, &answer, charge_void)?;
                match answer {
                    Lookup::Found(v) => Ok(v.iter().any(|a| in_net4(c, *a, v4.unwrap_or(32)))),
                    Lookup::NxDomain | Lookup::NoData => Ok(false),
                    other => Err(dns_failure(domain, tt, name, QueryType::A, &other)),
                }
            }
            IpAddr::V6(c) => {
                let answer = self.resolver.aaaa(name).await;
                self.note(tt, domain, name, QueryType::Aaaa, &answer, charge_void)?;
                match answer {
                    Lookup::Found(v) => Ok(v.iter().any(|a| in_net6(c, *a, v6.unwrap_or(128)))),
                    Lookup::NxDomain | Lookup::NoData => Ok(false),
                    other => Err(dns_failure(domain, tt, name, QueryType::Aaaa, &other)),
                }
            }
        }
    }

    /// The client's validated names (RFC 7208 5.5): PTR names, at most the PTR limit of them,
    /// whose addresses include the client. Errors only skip names.
    async fn validated_names(
        &mut self,
        tt: &mut TermTrace,
        domain: &str,
        charge_void: bool,
    ) -> Result<Vec<String>, Failure> {
        let ip = self.ctx.ip;
        let rev = reverse_name(ip);
        let answer = self.resolver.ptr(&rev).await;
        self.note(tt, domain, &rev, QueryType::Ptr, &answer, charge_void)?;
        let Lookup::Found(names) = answer else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for name in names.into_iter().take(self.opts.ptr_limit) {
            if !valid_name(&name) {
                continue;
            }
            let ok = match ip {
                IpAddr::V4(c) => {
                    let a = self.resolver.a(&name).await;
                    self.note(tt, domain, &name, QueryType::A, &a, false)?;
                    matches!(a, Lookup::Found(v) if v.contains(&c))
                }
                IpAddr::V6(c) => {
                    let a = self.resolver.aaaa(&name).await;
                    self.note(tt, domain, &name, QueryType::Aaaa, &a, false)?;
                    matches!(a, Lookup::Found(v) if v.contains(&c))
                }
            };
            if ok {
                out.push(name);
            }
        }
        Ok(out)
    }

    /// Expands a domain-spec (the current domain when absent), computing `%{p}` when used.
    async fn target(&mut self, spec: Option<&MacroString>, domain: &str) -> String {
        let Some(spec) = spec else {
            return domain.to_string();
        };
        self.expand(spec, domain, true).await
    }

    async fn expand(&mut self, ms: &MacroString, domain: &str, as_domain: bool) -> String {
        self.ctx.domain = domain.to_string();
        let uses_p = ms
            .tokens
            .iter()
            .any(|t| matches!(t, Token::Macro(m) if m.letter == 'p'));
        if uses_p {
            if self.validated.is_none() {
                // %{p} look-ups are not terms: they count toward no limit.
                let mut scratch = TermTrace {
                    index: 0,
                    text: String::new(),
                    span: 0..0,
                    name: "p",
                    counted: false,
                    lookups_so_far: 0,
                    target: None,
                    uses_macros: true,
                    queries: Vec::new(),
                    void_lookups: 0,
                    outcome: TermOutcome::NotMatched,
                    problem: None,
                    child: None,
                };
                let names = self
                    .validated_names(&mut scratch, domain, false)
                    .await
                    .unwrap_or_default();
                self.validated = Some(names);
            }
            self.ctx.validated = self
                .validated
                .as_deref()
                .and_then(|names| pick_p(names, domain));
        }
        macros::expand(ms, &self.ctx, as_domain)
    }

    /// The `exp=` text of `node`'s record, when one can be had (RFC 7208 6.2): any failure
    /// (DNS, not exactly one record, bad syntax, non-ASCII) means no explanation.
    async fn explanation(&mut self, node: &RecordTrace) -> Option<String> {
        let spec = node.record.as_ref()?.exp()?;
        let name = self.expand(spec, &node.domain, true).await;
        if !valid_name(&name) {
            return None;
        }
        let Lookup::Found(rrs) = self.resolver.txt(&name).await else {
            return None;
        };
        if rrs.len() != 1 {
            return None;
        }
        let text = String::from_utf8(rrs[0].concat()).ok()?;
        if !text.is_ascii() {
            return None;
        }
        let ms = macros::parse(&text, 0, Place::Explanation).ok()?;
        Some(self.expand(&ms, &node.domain, false).await)
    }
}

/// `%{p}`: the domain itself if validated, else a validated subdomain of it, else any.
fn pick_p(names: &[String], domain: &str) -> Option<String> {
    let d = domain.to_ascii_lowercase();
    let suffix = format!(".{d}");
    names
        .iter()
        .find(|n| n.to_ascii_lowercase() == d)
        .or_else(|| {
            names
                .iter()
                .find(|n| n.to_ascii_lowercase().ends_with(&suffix))
        })
        .or_else(|| names.first())
        .cloned()
}

fn problem(kind: ProblemKind, domain: &str, tt: &TermTrace, message: String) -> Problem {
    Problem {
        kind,
        domain: domain.to_string(),
        term: (!tt.text.is_empty()).then(|| tt.text.clone()),
        message,
    }
}

fn dns_failure<T>(
    domain: &str,
    tt: &TermTrace,
    name: &str,
    qtype: QueryType,
    answer: &Lookup<T>,
) -> Failure {
    let outcome = answer.outcome();
    (
        SpfResult::TempError,
        problem(
            ProblemKind::Dns(outcome.clone()),
            domain,
            tt,
            format!(
                "the {qtype} query for {name} failed: {}",
                describe(&outcome)
            ),
        ),
    )
}

fn txt_outcome(node: &RecordTrace) -> Outcome {
    node.txt.clone().unwrap_or(Outcome::NoData)
}

/// An outcome in plain words.
pub fn describe(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Answers(n) => format!("{n} record(s)"),
        Outcome::NxDomain => "no such domain (NXDOMAIN)".into(),
        Outcome::NoData => "no records of that type".into(),
        Outcome::Timeout => "no answer in time".into(),
        Outcome::Failed(why) => why.clone(),
    }
}

/// A target name that can be asked: labels of 1 to 63 octets, 253 octets in all.
fn valid_name(name: &str) -> bool {
    let name = name.strip_suffix('.').unwrap_or(name);
    !name.is_empty() && name.len() <= 253 && name.split('.').all(|l| !l.is_empty() && l.len() <= 63)
}

/// The domain check_host() starts from must be a well-formed multi-label name, not an
/// address literal (RFC 7208 4.3); otherwise the result is none.
fn valid_start_domain(name: &str) -> bool {
    valid_name(name)
        && name.contains('.')
        && !name.starts_with('[')
        && name.bytes().all(|b| b.is_ascii_graphic())
}

fn in_net4(client: Ipv4Addr, net: Ipv4Addr, prefix: u8) -> bool {
    let mask = if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(prefix.min(32)))
    };
    u32::from(client) & mask == u32::from(net) & mask
}

fn in_net6(client: Ipv6Addr, net: Ipv6Addr, prefix: u8) -> bool {
    let mask = if prefix == 0 {
        0
    } else {
        u128::MAX << (128 - u32::from(prefix.min(128)))
    };
    u128::from(client) & mask == u128::from(net) & mask
}

/// The reverse-lookup name for an address.
pub fn reverse_name(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            format!("{}.{}.{}.{}.in-addr.arpa", o[3], o[2], o[1], o[0])
        }
        IpAddr::V6(v6) => {
            let mut out = String::with_capacity(72);
            for byte in v6.octets().iter().rev() {
                for nibble in [byte & 0xf, byte >> 4] {
                    out.push(char::from_digit(u32::from(nibble), 16).unwrap_or('0'));
                    out.push('.');
                }
            }
            out.push_str("ip6.arpa");
            out
        }
    }
}
