//! Keeps the layering written in the crate docs true: every `crate::…` reference in `src/`
//! is checked against the table below, and a module that names one above it, or a cycle
//! between modules, fails the build's tests.

/// The modules by layer, lowest first. A module may use its own layer and those below.
const LAYERS: &[&[&str]] = &[
    &["domain"],
    &["store", "jobs", "redis"],
    &["integrations", "llm", "dedup", "outbound", "voice", "limits"],
    &["channels", "trackers", "events", "oauth"],
    &["tasks", "intake", "sync", "coordinator"],
    &["http"],
    &["serve"],
    &["config", "telemetry", "app", "doctor"],
];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|layer| layer.contains(&module))
}

/// The crate modules `source` names with `crate::` (comments left out).
fn references(source: &str) -> Vec<String> {
    let mut found = Vec::new();
    for line in source.lines().filter(|l| !l.trim_start().starts_with("//")) {
        let mut rest = line;
        while let Some(at) = rest.find("crate::") {
            rest = &rest[at + "crate::".len()..];
            let name: String = rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
            if !name.is_empty() {
                found.push(name);
            }
        }
    }
    found
}

/// Every module-to-module reference among `files` (path relative to `src/`, source).
fn edges(files: &[(String, String)]) -> std::collections::BTreeSet<(String, String)> {
    let mut edges = std::collections::BTreeSet::new();
    for (path, source) in files {
        let module = path.split('/').next().unwrap_or_default().trim_end_matches(".rs").to_string();
        // The crate root wires modules together; this file only names them in its own test.
        if module == "lib" || module == "main" || module == "layers" {
            continue;
        }
        for target in references(source) {
            if target != module {
                edges.insert((module.clone(), target));
            }
        }
    }
    edges
}

/// What breaks the layering: unknown modules, references upwards, cycles.
fn violations(edges: &std::collections::BTreeSet<(String, String)>) -> Vec<String> {
    let mut found = Vec::new();
    for (from, to) in edges {
        match (layer_of(from), layer_of(to)) {
            (Some(a), Some(b)) if b > a => found.push(format!("{from} (layer {a}) uses {to} (layer {b})")),
            (Some(_), Some(_)) => {}
            _ => found.push(format!("{from} -> {to}: a module missing from the layer table")),
        }
    }
    // Within a layer: a cycle is a pair of modules reaching each other.
    let reaches = |start: &str, goal: &str| {
        let mut seen = vec![start.to_string()];
        let mut next = vec![start.to_string()];
        while let Some(at) = next.pop() {
            for (_, to) in edges.iter().filter(|(from, _)| *from == at) {
                if to == goal {
                    return true;
                }
                if !seen.contains(to) {
                    seen.push(to.clone());
                    next.push(to.clone());
                }
            }
        }
        false
    };
    for (from, to) in edges {
        if from < to && reaches(to, from) {
            found.push(format!("{from} and {to} use each other"));
        }
    }
    found
}

fn sources(dir: &std::path::Path, root: &std::path::Path, into: &mut Vec<(String, String)>) {
    for entry in std::fs::read_dir(dir).expect("src is readable").flatten() {
        let path = entry.path();
        if path.is_dir() {
            sources(&path, root, into);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let relative = path.strip_prefix(root).expect("under src").to_string_lossy().replace('\\', "/");
            into.push((relative, std::fs::read_to_string(&path).expect("readable")));
        }
    }
}

#[test]
fn no_module_uses_one_above_it_and_none_use_each_other() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&root, &root, &mut files);
    assert!(files.len() > 100, "found the sources");
    let found = violations(&edges(&files));
    assert!(found.is_empty(), "the layering in src/lib.rs is broken:\n{}", found.join("\n"));
}

#[test]
fn the_check_sees_an_upward_use_and_a_cycle() {
    let files = vec![
        ("store/x.rs".to_string(), "use crate::domain::task::Task;\nlet s = crate::http::router();".to_string()),
        ("tasks/mod.rs".to_string(), "// crate::app in a comment is fine\nuse crate::sync::poll;".to_string()),
        ("sync/poll.rs".to_string(), "pub use crate::tasks::mirror;".to_string()),
    ];
    let found = violations(&edges(&files));
    assert_eq!(found, vec!["store (layer 1) uses http (layer 5)".to_string(), "sync and tasks use each other".into()]);
}
