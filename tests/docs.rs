//! The README and the tutorial stay true: the two commands are there verbatim, and every example they tell
//! the reader to run is declared in `examples/Cargo.toml`. (Their Rust blocks run as doc-tests of this crate.)

const README: &str = include_str!("../README.md");
const TUTORIAL: &str = include_str!("../docs/tutorial.md");
const EXAMPLES_MANIFEST: &str = include_str!("../examples/Cargo.toml");

#[test]
fn readme_gives_the_two_fresh_machine_commands_verbatim() {
    assert!(README.contains("\ncargo run --release -p tapegrad-examples --example digits\n"));
    assert!(README.contains("\ncargo test --workspace --release\n"));
}

#[test]
fn every_example_the_docs_name_is_declared() {
    for (doc, text) in [("README.md", README), ("docs/tutorial.md", TUTORIAL)] {
        let mut named = 0;
        for part in text.split("--example ").skip(1) {
            let name: String = part.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
            if name.is_empty() || name == "NAME" {
                continue;
            }
            named += 1;
            let declared = format!("name = \"{name}\"");
            assert!(EXAMPLES_MANIFEST.contains(&declared), "{doc} runs example {name:?}, which is not declared");
        }
        assert!(named >= 2, "{doc} names only {named} examples");
    }
}

#[test]
fn every_picture_the_readme_shows_exists() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut shown = 0;
    for part in README.split("](docs/img/").skip(1) {
        let file: String = part.chars().take_while(|&c| c != ')').collect();
        assert!(root.join("docs/img").join(&file).is_file(), "README shows docs/img/{file}, which is missing");
        shown += 1;
    }
    assert!(shown >= 4, "README shows {shown} pictures");
}

/// The op names the engine records (`fn name` of every `Op` in `crates/tapegrad/src/ops`, and the names given
/// to the `elementwise!` macro).
fn recorded_op_names() -> Vec<String> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../crates/tapegrad/src/ops");
    let mut names = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let src = std::fs::read_to_string(&path).unwrap();
        for part in src.split("fn name(&self) -> &'static str {").skip(1) {
            let body = part.trim_start();
            if let Some(rest) = body.strip_prefix('"') {
                names.push(rest.split('"').next().unwrap().to_string());
            }
        }
        for part in src.split("elementwise!(").skip(1) {
            let line = part.lines().map(str::trim).find(|l| !l.is_empty() && !l.starts_with("///")).unwrap_or("");
            if let Some(lit) = line.split(',').nth(2).map(str::trim).and_then(|s| s.strip_prefix('"')) {
                names.push(lit.trim_end_matches('"').to_string());
            }
        }
    }
    names.sort();
    names.dedup();
    names
}

#[test]
fn every_recorded_op_has_its_row_in_the_derivative_table() {
    let table = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/ops.md")).unwrap();
    let first_cells: Vec<String> = table
        .lines()
        .filter(|l| l.starts_with('|'))
        .filter_map(|l| l.split('|').nth(1))
        .map(|c| c.replace('`', ""))
        .collect();
    let words: std::collections::BTreeSet<&str> = first_cells
        .iter()
        .flat_map(|c| c.split(|ch: char| !(ch.is_ascii_alphanumeric() || ch == '_')))
        .filter(|w| !w.is_empty())
        .collect();
    let names = recorded_op_names();
    assert!(names.len() >= 40, "found only {} op names: {names:?}", names.len());
    let missing: Vec<&String> = names.iter().filter(|n| !words.contains(n.as_str())).collect();
    assert!(missing.is_empty(), "docs/ops.md has no row for {missing:?}");
}
