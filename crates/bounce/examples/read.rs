//! Prints the records of the given files as JSON lines (a development aid).

fn main() {
    let paths: Vec<std::path::PathBuf> = std::env::args().skip(1).map(Into::into).collect();
    for item in smtpdoctor_bounce::input::Messages::new(&paths) {
        match item {
            Ok(item) => {
                for r in smtpdoctor_bounce::read(&item.bytes, &item.name) {
                    println!("{}", serde_json::to_string(&r).unwrap());
                }
            }
            Err(e) => eprintln!("{e}"),
        }
    }
}
