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
