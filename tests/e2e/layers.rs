//! The import graph, read from the source: every `crate::` path in `src/` (tests left out) is an
//! arrow from the file that writes it to the module file it names. ARCHITECTURE.md's layer list
//! is the order the rooms must keep: an arrow may only point down it, and no files may import
//! each other in a circle, inside a room or across rooms (a folder's mod.rs using its own
//! submodules is containment, not an arrow of a circle). Run it alone with
//! `cargo test --test e2e layers`; it prints every arrow that breaks a rule.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The rooms (top-level modules) in ARCHITECTURE.md's layer list, top first: each line of its
/// first code block that starts with `name.rs` or `name/` names one.
fn layer_order() -> Vec<String> {
    let text = std::fs::read_to_string(root().join("ARCHITECTURE.md")).expect("ARCHITECTURE.md");
    let block = text
        .split("```")
        .nth(1)
        .expect("ARCHITECTURE.md has a code block with the layers");
    block
        .lines()
        .filter_map(|line| {
            let first = line.split_whitespace().next()?;
            let name = first.strip_suffix(".rs").or(first.strip_suffix('/'))?;
            (!line.starts_with(' ') && name.chars().all(|c| c.is_ascii_lowercase() || c == '_'))
                .then(|| name.to_string())
        })
        .collect()
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every `.rs` file under `src/`, as its module path (`probe::tls::chain`, `lib` for lib.rs).
fn modules() -> BTreeMap<String, PathBuf> {
    let mut found = BTreeMap::new();
    let mut stack = vec![root().join("src")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("src/ readable") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                found.insert(module_path(&path), path);
            }
        }
    }
    found
}

fn module_path(file: &Path) -> String {
    let relative = file.strip_prefix(root().join("src")).expect("under src");
    let mut parts: Vec<String> = relative
        .iter()
        .map(|p| p.to_string_lossy().trim_end_matches(".rs").to_string())
        .collect();
    if parts.last().is_some_and(|p| p == "mod") && parts.len() > 1 {
        parts.pop();
    }
    parts.join("::")
}

/// The source without comments and without its `#[cfg(test)]` module (tests may reach anywhere).
fn product_code(text: &str) -> String {
    let text = text.split("#[cfg(test)]").next().unwrap_or(text);
    text.lines()
        .map(|line| match line.find("//") {
            Some(at) => &line[..at],
            None => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The paths a file names: `crate::a::b::C`, `super::x`, and the parts of `use ...::{x, y::z}`.
fn named_paths(module: &str, code: &str) -> BTreeSet<Vec<String>> {
    let parent: Vec<String> = {
        let mut parts: Vec<String> = module.split("::").map(str::to_string).collect();
        parts.pop();
        parts
    };
    let mut paths = BTreeSet::new();
    let bytes: Vec<char> = code.chars().collect();
    let text: String = bytes.iter().collect();
    for start in ["crate::", "super::", "self::"] {
        let mut from = 0;
        while let Some(at) = text[from..].find(start) {
            let begin = from + at;
            from = begin + start.len();
            // A word that only ends in `crate`/`super` is not the keyword.
            if text[..begin]
                .chars()
                .next_back()
                .is_some_and(|c| c.is_alphanumeric() || c == '_')
            {
                continue;
            }
            let base: Vec<String> = match start {
                "crate::" => Vec::new(),
                "super::" => parent.clone(),
                _ => module.split("::").map(str::to_string).collect(),
            };
            for tail in expand(&text[from..]) {
                let mut path = base.clone();
                path.extend(tail);
                paths.insert(path);
            }
        }
    }
    paths
}

/// `a::b::{c, d::e}::...` -> [[a, b, c], [a, b, d, e]]; `a::b::C` -> [[a, b, C]].
fn expand(text: &str) -> Vec<Vec<String>> {
    let mut prefix = Vec::new();
    let mut rest = text;
    loop {
        let word: String = rest
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        if word.is_empty() {
            if let Some(group) = rest.strip_prefix('{') {
                let mut depth = 1;
                let mut end = 0;
                for (i, c) in group.char_indices() {
                    match c {
                        '{' => depth += 1,
                        '}' => depth -= 1,
                        _ => {}
                    }
                    if depth == 0 {
                        end = i;
                        break;
                    }
                }
                let mut items = Vec::new();
                let mut depth = 0;
                let mut item_start = 0;
                let inner = &group[..end];
                for (i, c) in inner.char_indices() {
                    match c {
                        '{' => depth += 1,
                        '}' => depth -= 1,
                        ',' if depth == 0 => {
                            items.push(&inner[item_start..i]);
                            item_start = i + 1;
                        }
                        _ => {}
                    }
                }
                items.push(&inner[item_start..]);
                return items
                    .iter()
                    .map(|item| item.trim())
                    .filter(|item| !item.is_empty() && *item != "self")
                    .flat_map(expand)
                    .map(|tail| prefix.iter().cloned().chain(tail).collect())
                    .chain(std::iter::once(prefix.clone()))
                    .collect();
            }
            return vec![prefix];
        }
        rest = &rest[word.len()..];
        prefix.push(word);
        match rest.strip_prefix("::") {
            Some(next) => rest = next,
            None => return vec![prefix],
        }
    }
}

/// The module file a path lands in: its longest prefix that is a module.
fn target(path: &[String], modules: &BTreeMap<String, PathBuf>) -> Option<String> {
    (1..=path.len())
        .rev()
        .map(|n| path[..n].join("::"))
        .find(|candidate| modules.contains_key(candidate))
}

/// file -> the files it imports (itself and lib.rs/main.rs left out).
fn arrows() -> BTreeMap<String, BTreeSet<String>> {
    let modules = modules();
    let mut arrows = BTreeMap::new();
    for (module, file) in &modules {
        if module == "lib" || module == "main" {
            continue;
        }
        let code = product_code(&std::fs::read_to_string(file).expect("readable"));
        let mut targets: BTreeSet<String> = named_paths(module, &code)
            .iter()
            .filter_map(|path| target(path, &modules))
            .filter(|t| t != module && t != "lib")
            .collect();
        // A module's own submodules, written without a prefix (`tls::handshake` in probe/mod.rs).
        let own = format!("{module}::");
        for child in modules.keys().filter_map(|m| m.strip_prefix(&own)) {
            if child.contains("::") {
                continue;
            }
            let written = format!("{child}::");
            let uses_it = code.match_indices(&written).any(|(at, _)| {
                !code[..at].ends_with("::")
                    && !code[..at]
                        .chars()
                        .next_back()
                        .is_some_and(|c| c.is_alphanumeric() || c == '_')
            });
            if uses_it {
                targets.insert(format!("{module}::{child}"));
            }
        }
        arrows.insert(module.clone(), targets);
    }
    arrows
}

fn room(module: &str) -> &str {
    module.split("::").next().unwrap_or(module)
}

#[test]
fn every_import_points_down_the_architecture_layers() {
    let order = layer_order();
    let rank = |module: &str| order.iter().position(|r| r == room(module));
    let arrows = arrows();
    let mut unlisted = BTreeSet::new();
    let mut upward = Vec::new();
    for (from, targets) in &arrows {
        for to in targets {
            match (rank(from), rank(to)) {
                (Some(a), Some(b)) if a > b => upward.push(format!("{from} -> {to}")),
                (Some(_), Some(_)) => {}
                (None, _) => {
                    unlisted.insert(room(from).to_string());
                }
                (_, None) => {
                    unlisted.insert(room(to).to_string());
                }
            }
        }
    }
    assert!(
        unlisted.is_empty(),
        "rooms missing from ARCHITECTURE.md's layer list: {unlisted:?} (listed: {order:?})"
    );
    assert!(
        upward.is_empty(),
        "imports that point up ARCHITECTURE.md's layers ({order:?}):\n{}",
        upward.join("\n")
    );
    // The reader itself: it sees the arrows it must (a rename would otherwise empty the graph).
    assert!(arrows["commands::check"].contains("run"), "{arrows:?}");
    assert!(arrows["probe::tls::chain"].contains("pki"), "{arrows:?}");
}

#[test]
fn no_files_import_each_other_in_a_circle() {
    // A folder's mod.rs contains its submodules: its arrows into them are not part of a circle
    // (a submodule using what its mod.rs shares, `super::ProbeContext`, is the usual Rust room).
    let arrows: BTreeMap<String, BTreeSet<String>> = arrows()
        .into_iter()
        .map(|(from, targets)| {
            let inside = format!("{from}::");
            let kept = targets
                .into_iter()
                .filter(|t| !t.starts_with(&inside))
                .collect();
            (from, kept)
        })
        .collect();
    // Tarjan would name each circle; a depth-first search that reports the first back edge's
    // loop is enough to say where to look.
    let mut circles = Vec::new();
    let mut done = BTreeSet::new();
    for start in arrows.keys() {
        let mut stack: Vec<(String, Vec<String>)> = vec![(start.clone(), vec![start.clone()])];
        let mut seen = BTreeSet::new();
        while let Some((node, path)) = stack.pop() {
            if done.contains(&node) || !seen.insert(node.clone()) {
                continue;
            }
            for next in arrows.get(&node).into_iter().flatten() {
                if next == start {
                    circles.push(format!("{} -> {start}", path.join(" -> ")));
                } else if !path.contains(next) {
                    let mut longer = path.clone();
                    longer.push(next.clone());
                    stack.push((next.clone(), longer));
                }
            }
        }
        done.insert(start.clone());
    }
    assert!(
        circles.is_empty(),
        "files that import each other in a circle:\n{}",
        circles.join("\n")
    );
}

#[test]
fn the_reader_expands_grouped_imports() {
    let paths = named_paths(
        "probe::tls::chain",
        "use crate::pki::{CertInfo, crl::{self, Crl}};\nuse super::Verdicts;",
    );
    let shown: BTreeSet<String> = paths.iter().map(|p| p.join("::")).collect();
    for expected in [
        "pki::CertInfo",
        "pki::crl::Crl",
        "pki::crl",
        "probe::tls::Verdicts",
    ] {
        assert!(shown.contains(expected), "{expected} not in {shown:?}");
    }
}
