//! check_host(), walk() and the lint data against small in-memory zones of our own: each
//! limit at and over its edge, include/redirect semantics, explanations and traces.

use smtpdoctor_spf::dns::{Entry, Mx, QueryType, Zone};
use smtpdoctor_spf::eval::{ProblemKind, Reached, TermOutcome};
use smtpdoctor_spf::{
    Lint, Options, SpfResult, check_helo, check_mail_from, lints, lookup_counts, walk,
};
use std::net::{IpAddr, Ipv4Addr};

const CLIENT: &str = "192.0.2.10";

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

async fn check(zone: &Zone, sender: &str) -> smtpdoctor_spf::Evaluation {
    check_mail_from(
        zone,
        ip(CLIENT),
        sender,
        "mail.example.org",
        &Options::default(),
    )
    .await
}

fn a(zone: &mut Zone, name: &str, addr: [u8; 4]) {
    zone.add(name, Entry::A(Ipv4Addr::from(addr)));
}

/// A zone where `h1.example` .. `hN.example` each have an A record that is not the client.
fn hosts(n: usize) -> Zone {
    let mut z = Zone::new();
    for i in 1..=n {
        a(&mut z, &format!("h{i}.example"), [198, 51, 100, i as u8]);
    }
    z
}

fn a_terms(n: usize) -> String {
    (1..=n)
        .map(|i| format!("a:h{i}.example"))
        .collect::<Vec<_>>()
        .join(" ")
}

#[tokio::test]
async fn ten_lookups_pass_eleven_permerror() {
    let mut z = hosts(11);
    z.add_txt(
        "ten.example",
        &format!("v=spf1 {} ip4:{CLIENT} -all", a_terms(10)),
    );
    z.add_txt(
        "eleven.example",
        &format!("v=spf1 {} ip4:{CLIENT} -all", a_terms(11)),
    );
    let ev = check(&z, "x@ten.example").await;
    assert_eq!((ev.result, ev.lookups), (SpfResult::Pass, 10));
    let ev = check(&z, "x@eleven.example").await;
    assert_eq!(ev.result, SpfResult::PermError);
    assert_eq!(ev.problem.unwrap().kind, ProblemKind::TooManyLookups);
}

#[tokio::test]
async fn includes_and_redirects_count_toward_the_same_ten() {
    let mut z = hosts(9);
    z.add_txt("inc.example", &format!("v=spf1 {} ?all", a_terms(8)));
    // include (1) + 8 inside + a (10): at the limit.
    z.add_txt(
        "at.example",
        &format!("v=spf1 include:inc.example a:h9.example ip4:{CLIENT} -all"),
    );
    // include (1) + 8 inside + a + redirect (11): over.
    z.add_txt(
        "over.example",
        "v=spf1 include:inc.example a:h9.example redirect=at.example",
    );
    let ev = check(&z, "x@at.example").await;
    assert_eq!((ev.result, ev.lookups), (SpfResult::Pass, 10));
    let ev = check(&z, "x@over.example").await;
    assert_eq!(ev.result, SpfResult::PermError);
}

#[tokio::test]
async fn a_match_ends_evaluation_before_later_lookups_count() {
    let mut z = hosts(11);
    z.add_txt(
        "early.example",
        &format!("v=spf1 ip4:{CLIENT} {} -all", a_terms(11)),
    );
    let ev = check(&z, "x@early.example").await;
    assert_eq!((ev.result, ev.lookups), (SpfResult::Pass, 0));
}

#[tokio::test]
async fn two_void_lookups_are_allowed_three_are_not() {
    let mut z = Zone::new();
    z.add_txt("two.example", "v=spf1 a:nx1.example mx:nx2.example ?all");
    z.add_txt(
        "three.example",
        "v=spf1 a:nx1.example mx:nx2.example exists:nx3.example ?all",
    );
    let ev = check(&z, "x@two.example").await;
    assert_eq!((ev.result, ev.void_lookups), (SpfResult::Neutral, 2));
    let ev = check(&z, "x@three.example").await;
    assert_eq!((ev.result, ev.void_lookups), (SpfResult::PermError, 3));
    assert_eq!(ev.problem.unwrap().kind, ProblemKind::TooManyVoidLookups);
}

#[tokio::test]
async fn nodata_is_void_too_and_the_exp_lookup_is_not() {
    let mut z = Zone::new();
    z.touch("empty1.example").touch("empty2.example");
    z.add_txt(
        "nodata.example",
        "v=spf1 a:empty1.example a:empty2.example exp=nx.example -all",
    );
    let ev = check(&z, "x@nodata.example").await;
    assert_eq!((ev.result, ev.void_lookups), (SpfResult::Fail, 2));
    assert_eq!(ev.explanation, None);
}

#[tokio::test]
async fn mx_with_ten_names_is_fine_eleven_permerror() {
    let mut z = Zone::new();
    for (name, n) in [("ten.example", 10u16), ("eleven.example", 11)] {
        z.add_txt(name, "v=spf1 mx -all");
        for i in 0..n {
            z.add(
                name,
                Entry::Mx(Mx {
                    preference: i,
                    exchange: format!("mx{i}.example"),
                }),
            );
        }
    }
    a(&mut z, "mx9.example", [192, 0, 2, 10]);
    let ev = check(&z, "x@ten.example").await;
    assert_eq!(ev.result, SpfResult::Pass);
    let ev = check(&z, "x@eleven.example").await;
    assert_eq!(ev.result, SpfResult::PermError);
    assert_eq!(ev.problem.unwrap().kind, ProblemKind::TooManyMx(11));
}

#[tokio::test]
async fn ptr_checks_only_the_first_ten_names() {
    let mut z = Zone::new();
    z.add_txt("p.example", "v=spf1 ptr -all");
    z.add_txt("q.example", "v=spf1 ptr:q.example -all");
    for i in 0..10 {
        z.add(
            "10.2.0.192.in-addr.arpa",
            Entry::Ptr(format!("n{i}.p.example")),
        );
    }
    z.add(
        "10.2.0.192.in-addr.arpa",
        Entry::Ptr("host.q.example".into()),
    );
    a(&mut z, "n3.p.example", [192, 0, 2, 10]);
    a(&mut z, "host.q.example", [192, 0, 2, 10]);
    assert_eq!(check(&z, "x@p.example").await.result, SpfResult::Pass);
    // The eleventh name validates, but it is never looked at.
    assert_eq!(check(&z, "x@q.example").await.result, SpfResult::Fail);
}

#[tokio::test]
async fn include_results_map_as_rfc_7208_5_2_says() {
    let mut z = Zone::new();
    z.add_txt("pass.example", &format!("v=spf1 ip4:{CLIENT}"));
    z.add_txt("fail.example", "v=spf1 -all");
    z.add("slow.example", Entry::Timeout);
    z.add_txt("broken.example", "v=spf1 ip4:300.1.1.1");
    for (target, want) in [
        ("pass.example", SpfResult::Fail),
        ("fail.example", SpfResult::Pass),
        ("slow.example", SpfResult::TempError),
        ("broken.example", SpfResult::PermError),
        ("none.example", SpfResult::PermError),
    ] {
        let name = format!("via-{target}");
        z.add_txt(&name, &format!("v=spf1 -include:{target} +all"));
        assert_eq!(
            check(&z, &format!("x@{name}")).await.result,
            want,
            "{target}"
        );
    }
}

#[tokio::test]
async fn redirect_to_nothing_is_permerror_and_exp_follows_the_redirect() {
    let mut z = Zone::new();
    z.add_txt("r.example", "v=spf1 redirect=none.example");
    z.add_txt("s.example", "v=spf1 exp=e1.example redirect=t.example");
    z.add_txt("t.example", "v=spf1 -all exp=e2.example");
    z.add_txt("e1.example", "not this one");
    z.add_txt("e2.example", "%{i} is not %{d}'s; ask %{l}");
    assert_eq!(check(&z, "x@r.example").await.result, SpfResult::PermError);
    let ev = check(&z, "bob@s.example").await;
    assert_eq!(ev.result, SpfResult::Fail);
    assert_eq!(
        ev.explanation.as_deref(),
        Some("192.0.2.10 is not t.example's; ask bob")
    );
}

#[tokio::test]
async fn two_spf_records_and_bad_ip4_are_permerror() {
    let mut z = Zone::new();
    z.add_txt("two.example", "v=spf1 -all")
        .add_txt("two.example", "v=spf1 +all");
    z.add_txt("two.example", "google-site-verification=abc");
    z.add_txt("bad.example", "v=spf1 ip4:999.1.1.1 -all");
    let ev = check(&z, "x@two.example").await;
    assert_eq!(ev.result, SpfResult::PermError);
    assert_eq!(ev.problem.unwrap().kind, ProblemKind::MultipleRecords(2));
    let ev = check(&z, "x@bad.example").await;
    assert_eq!(ev.result, SpfResult::PermError);
    let ProblemKind::Syntax(e) = ev.problem.unwrap().kind else {
        panic!("syntax error expected")
    };
    assert_eq!(e.position, 11);
}

#[tokio::test]
async fn helo_identity_and_null_sender() {
    let mut z = Zone::new();
    z.add_txt("mail.example.org", &format!("v=spf1 ip4:{CLIENT} -all"));
    let ev = check_helo(&z, ip(CLIENT), "mail.example.org", &Options::default()).await;
    assert_eq!(ev.result, SpfResult::Pass);
    let ev = check(&z, "").await;
    assert_eq!(ev.result, SpfResult::Pass);
    // An IPv4-mapped IPv6 client is the IPv4 client.
    let ev = check_mail_from(
        &z,
        ip("::ffff:192.0.2.10"),
        "",
        "mail.example.org",
        &Options::default(),
    )
    .await;
    assert_eq!(ev.result, SpfResult::Pass);
}

#[tokio::test]
async fn the_trace_shows_the_tree_with_counts() {
    let mut z = hosts(2);
    z.add_txt(
        "top.example",
        "v=spf1 include:mid.example a:h1.example -all",
    );
    z.add_txt("mid.example", "v=spf1 a:h2.example mx:nx.example ?all");
    let ev = check(&z, "x@top.example").await;
    assert_eq!(ev.result, SpfResult::Fail);
    let t = &ev.trace;
    assert_eq!(t.terms.len(), 3);
    assert_eq!(t.terms[0].name, "include");
    assert_eq!(t.terms[0].outcome, TermOutcome::NotMatched);
    let child = t.terms[0].child.as_ref().unwrap();
    assert_eq!(child.reached, Reached::Include);
    assert_eq!(child.result, SpfResult::Neutral);
    assert_eq!(child.terms[1].void_lookups, 1);
    assert_eq!(child.terms[1].queries[0].qtype, QueryType::Mx);
    assert_eq!(t.terms[1].lookups_so_far, 4);
    let counts = lookup_counts(t);
    assert_eq!(counts[0].term, "include:mid.example");
    assert_eq!((counts[0].own, counts[0].nested), (1, 2));
}

#[tokio::test]
async fn walk_counts_the_whole_tree_and_lints_say_why() {
    let mut z = hosts(12);
    z.add_txt(
        "big.example",
        &format!("v=spf1 ip4:{CLIENT} include:a.example include:b.example ptr ?all"),
    );
    z.add_txt("a.example", &format!("v=spf1 {} +all", a_terms(6)));
    z.add_txt(
        "b.example",
        "v=spf1 a:nx1.example a:nx2.example a:nx3.example include:big.example",
    );
    // A second, long TXT record at the name pushes the answer past 512 octets.
    z.add(
        "big.example",
        Entry::Txt(vec![vec![b'x'; 255], vec![b'y'; 255]]),
    );
    let w = walk(&z, "big.example", ip(CLIENT), &Options::default()).await;
    // include a, 6 a, include b, 3 a, include big (a loop, counted, not followed), ptr.
    assert_eq!(w.lookups, 13);
    // nx1, nx2, nx3 and the PTR query for the client.
    assert_eq!(w.void_lookups, 4);
    let found = lints(&w.trace, &Options::default());
    let has = |f: &dyn Fn(&Lint) -> bool| found.iter().any(f);
    assert!(has(&|l| matches!(
        l,
        Lint::TooManyLookups { total: 13, .. }
    )));
    assert!(has(&|l| matches!(
        l,
        Lint::TooManyVoidLookups { total: 4, .. }
    )));
    assert!(has(
        &|l| matches!(l, Lint::PassAll { domain } if domain == "a.example")
    ));
    assert!(has(
        &|l| matches!(l, Lint::NeutralAll { domain } if domain == "big.example")
    ));
    assert!(has(&|l| matches!(l, Lint::Ptr { .. })));
    assert!(has(
        &|l| matches!(l, Lint::Loop { domain, .. } if domain == "b.example")
    ));
    assert!(has(
        &|l| matches!(l, Lint::TooLongForUdp { domain, .. } if domain == "big.example")
    ));
}

#[tokio::test]
async fn lints_for_missing_all_multiple_records_and_syntax() {
    let mut z = Zone::new();
    z.add_txt("noall.example", "v=spf1 mx");
    z.add_txt("two.example", "v=spf1 -all")
        .add_txt("two.example", "v=spf1 ~all");
    z.add_txt("bad.example", "v=spf1 a:example.com:8080 -all");
    let opts = Options::default();
    let l = lints(
        &walk(&z, "noall.example", ip(CLIENT), &opts).await.trace,
        &opts,
    );
    assert!(l.iter().any(|l| matches!(l, Lint::NoAll { .. })));
    let l = lints(
        &walk(&z, "two.example", ip(CLIENT), &opts).await.trace,
        &opts,
    );
    assert!(
        l.iter()
            .any(|l| matches!(l, Lint::MultipleRecords { records, .. } if records.len() == 2))
    );
    let l = lints(
        &walk(&z, "bad.example", ip(CLIENT), &opts).await.trace,
        &opts,
    );
    assert!(
        l.iter()
            .any(|l| matches!(l, Lint::Syntax { error, .. } if error.position == 9))
    );
    let l = lints(
        &walk(&z, "none.example", ip(CLIENT), &opts).await.trace,
        &opts,
    );
    assert!(l.iter().any(|l| matches!(l, Lint::NoRecord { .. })));
}
