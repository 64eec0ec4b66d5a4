//! Times the first `explain` call (which builds the phrase index) against later ones.
fn main() {
    let t = std::time::Instant::now();
    let _ = smtpdoctor_knowledge::explain("535 5.7.8 bad");
    let first = t.elapsed();
    let t = std::time::Instant::now();
    for _ in 0..1000 {
        let _ = smtpdoctor_knowledge::explain(
            "550 5.1.1 <a@b.example>: Recipient address rejected: User unknown",
        );
    }
    println!(
        "first call {:?}, then {:?} per call",
        first,
        t.elapsed() / 1000
    );
}
