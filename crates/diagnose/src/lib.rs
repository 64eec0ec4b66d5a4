//! Rules: pure functions from evidence to findings and a verdict. No I/O here.

pub mod bounce;
pub mod check;
pub mod dane;
pub mod domain;
pub mod explain;
pub mod setup;

pub use check::{CheckDiagnosis, CheckInput, diagnose_check, diagnose_mx, mta_sts_covers};
pub use dane::{DaneInput, dane_status};
pub use domain::{DomainDiagnosis, Unfinished, diagnose_domain, diagnose_unfinished};
pub use smtpdoctor_knowledge::{KNOWLEDGE_VERSION, Stage, classify};
