//! The real resolver: [`Resolver`] over a hickory-resolver the caller builds (the project builds
//! them in one place, `session::target::resolver`, honouring `--dns` and the timeout).

use crate::dns::{Lookup, Mx, Resolver};
use hickory_resolver::TokioResolver;
use hickory_resolver::net::NetError;
use hickory_resolver::proto::rr::{RData, RecordType};
use std::net::{Ipv4Addr, Ipv6Addr};

/// A [`Resolver`] that asks real DNS servers through hickory.
#[derive(Clone)]
pub struct HickoryResolver {
    inner: TokioResolver,
}

impl HickoryResolver {
    /// Wraps a resolver built elsewhere.
    pub fn from_resolver(inner: TokioResolver) -> Self {
        Self { inner }
    }

    async fn query<T>(
        &self,
        name: &str,
        rtype: RecordType,
        pick: impl Fn(&RData) -> Option<T>,
    ) -> Lookup<T> {
        // Fully qualified, so that no search domain is tried.
        let fqdn = format!("{}.", name.trim_end_matches('.'));
        match self.inner.lookup(fqdn.as_str(), rtype).await {
            Ok(lookup) => {
                let found: Vec<T> = lookup
                    .answers()
                    .iter()
                    .filter_map(|r| pick(&r.data))
                    .collect();
                if found.is_empty() {
                    Lookup::NoData
                } else {
                    Lookup::Found(found)
                }
            }
            Err(e) => failure(&e),
        }
    }
}

/// NXDOMAIN and NODATA apart, then timeout; everything else is a failure with its words.
fn failure<T>(e: &NetError) -> Lookup<T> {
    if e.is_nx_domain() {
        Lookup::NxDomain
    } else if e.is_no_records_found() {
        Lookup::NoData
    } else if matches!(e, NetError::Timeout)
        || e.to_string().to_ascii_lowercase().contains("timed out")
    {
        Lookup::Timeout
    } else {
        Lookup::Failed(e.to_string())
    }
}

fn host(name: &hickory_resolver::proto::rr::Name) -> String {
    name.to_ascii().trim_end_matches('.').to_string()
}

impl Resolver for HickoryResolver {
    async fn txt(&self, name: &str) -> Lookup<Vec<Vec<u8>>> {
        self.query(name, RecordType::TXT, |d| match d {
            RData::TXT(t) => Some(t.txt_data.iter().map(|s| s.to_vec()).collect()),
            _ => None,
        })
        .await
    }

    async fn a(&self, name: &str) -> Lookup<Ipv4Addr> {
        self.query(name, RecordType::A, |d| match d {
            RData::A(a) => Some(a.0),
            _ => None,
        })
        .await
    }

    async fn aaaa(&self, name: &str) -> Lookup<Ipv6Addr> {
        self.query(name, RecordType::AAAA, |d| match d {
            RData::AAAA(a) => Some(a.0),
            _ => None,
        })
        .await
    }

    async fn mx(&self, name: &str) -> Lookup<Mx> {
        self.query(name, RecordType::MX, |d| match d {
            RData::MX(m) => Some(Mx {
                preference: m.preference,
                exchange: host(&m.exchange),
            }),
            _ => None,
        })
        .await
    }

    async fn ptr(&self, name: &str) -> Lookup<String> {
        self.query(name, RecordType::PTR, |d| match d {
            RData::PTR(p) => Some(host(&p.0)),
            _ => None,
        })
        .await
    }
}
