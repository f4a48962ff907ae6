//! The guide (`docs/src/`) and the README, tested: every `console` block is run through the real
//! binary and its output compared; every other `int-check` command line is parsed by the binary's
//! own command line; every TOML example loads as a profile or config; every reason code named
//! exists; SUMMARY.md lists every chapter and every link to a file resolves.
//!
//! `UPDATE_DOCS=1 cargo test --test e2e docs` rewrites the console blocks' output from the binary.

use std::path::{Path, PathBuf};

use clap::CommandFactory;
use int_check::cli::Cli;
use int_check_lab as lab;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The README and every chapter of the guide.
fn pages() -> Vec<PathBuf> {
    let mut pages = vec![root().join("README.md")];
    let mut chapters: Vec<PathBuf> = std::fs::read_dir(root().join("docs/src"))
        .expect("docs/src")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    chapters.sort();
    pages.extend(chapters);
    pages
}

/// A fenced block: its language, its first line's index in the page, and its lines.
struct Block {
    language: String,
    start: usize,
    lines: Vec<String>,
}

fn blocks(text: &str) -> Vec<Block> {
    let mut found = Vec::new();
    let mut open: Option<Block> = None;
    for (index, line) in text.lines().enumerate() {
        match (&mut open, line.strip_prefix("```")) {
            (None, Some(language)) => {
                open = Some(Block {
                    language: language.trim().to_string(),
                    start: index + 1,
                    lines: Vec::new(),
                });
            }
            (Some(_), Some(_)) => found.extend(open.take()),
            (Some(block), None) => block.lines.push(line.to_string()),
            (None, None) => {}
        }
    }
    found
}

/// Shell words of one command (quotes and backslashes as sh reads them; no expansions).
fn words(command: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut quote: Option<char> = None;
    let mut started = false;
    let mut chars = command.chars();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some('"'), '\\') => word.extend(chars.next()),
            (Some(_), c) => word.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                started = true;
            }
            (None, '\\') => word.extend(chars.next()),
            (None, c) if c.is_whitespace() => {
                if started || !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                }
                started = false;
            }
            (None, c) => word.push(c),
        }
    }
    if started || !word.is_empty() {
        words.push(word);
    }
    words
}

/// The `int-check ...` command a shell line runs, if any: after `$ `, `sudo` and variable
/// assignments, up to a comment, a pipe, a redirection or the next command.
fn command_in(line: &str) -> Option<String> {
    let line = line.trim().trim_start_matches("$ ");
    let mut rest = line;
    loop {
        let first = rest.split_whitespace().next()?;
        if first == "sudo" || (first.contains('=') && !first.starts_with('-')) {
            rest = rest[rest.find(first)? + first.len()..].trim_start();
            continue;
        }
        break;
    }
    if !rest.starts_with("int-check ") && rest != "int-check" {
        return None;
    }
    // Cut at the first shell operator or comment outside quotes.
    let mut quote = None;
    let mut end = rest.len();
    let bytes: Vec<char> = rest.chars().collect();
    for (i, c) in bytes.iter().enumerate() {
        match (quote, c) {
            (Some(q), c) if *c == q => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"') => quote = Some(*c),
            (None, '#') if i > 0 && bytes[i - 1].is_whitespace() => {
                end = i;
                break;
            }
            (None, '|' | '>' | ';' | '&') => {
                end = i;
                break;
            }
            _ => {}
        }
    }
    let byte_end = rest.char_indices().nth(end).map_or(rest.len(), |(b, _)| b);
    Some(rest[..byte_end].trim().to_string())
}

/// The command line with no `INT_CHECK_*` variable behind its flags: an example is judged as
/// written, whatever the environment of whoever runs the tests holds.
fn without_environment(command: clap::Command) -> clap::Command {
    command
        .mut_args(|arg| arg.env(None))
        .mut_subcommands(without_environment)
}

#[test]
fn every_command_example_parses() {
    let mut checked = 0;
    let mut failures = Vec::new();
    for page in pages() {
        let text = std::fs::read_to_string(&page).expect("page");
        for block in blocks(&text)
            .into_iter()
            .filter(|b| matches!(b.language.as_str(), "sh" | "console" | "yaml"))
        {
            for (offset, line) in block.lines.iter().enumerate() {
                // YAML recipes run int-check from `script:`/`run:` entries.
                let line = line.trim().trim_start_matches("- ");
                let line = line
                    .strip_prefix("run: ")
                    .or_else(|| line.strip_prefix("command: "))
                    .unwrap_or(line);
                let Some(command) = command_in(line) else {
                    continue;
                };
                checked += 1;
                let args: Vec<std::ffi::OsString> =
                    words(&command).into_iter().map(Into::into).collect();
                let args = int_check::commands::options_after_command(args);
                if let Err(error) = without_environment(Cli::command()).try_get_matches_from(&args)
                {
                    use clap::error::ErrorKind;
                    if !matches!(
                        error.kind(),
                        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion
                    ) {
                        failures.push(format!(
                            "{}:{}: `{command}`: {}",
                            page.display(),
                            block.start + offset + 1,
                            error
                                .render()
                                .to_string()
                                .lines()
                                .next()
                                .unwrap_or_default()
                        ));
                    }
                }
            }
        }
    }
    assert!(checked > 40, "only {checked} command examples found");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_toml_example_loads() {
    let mut checked = 0;
    for page in pages() {
        let text = std::fs::read_to_string(&page).expect("page");
        for block in blocks(&text).into_iter().filter(|b| b.language == "toml") {
            let toml = block.lines.join("\n");
            let origin = format!("{}:{}", page.display(), block.start);
            if let Err(error) =
                int_check::profile::ProfileDoc::parse(&toml, &origin, Path::new("."))
            {
                panic!("{origin}: {}", error.message);
            }
            checked += 1;
        }
    }
    assert!(checked >= 2, "only {checked} TOML examples found");
    // The example config the package installs is one too.
    let example = std::fs::read_to_string(root().join("config.example.toml")).unwrap();
    int_check::profile::ProfileDoc::parse(&example, "config.example.toml", Path::new("."))
        .expect("config.example.toml loads");
}

/// `console` blocks: `$ int-check ...` lines, each followed by exactly what it prints.
#[tokio::test(flavor = "multi_thread")]
async fn console_examples_print_what_the_guide_shows() {
    let update = std::env::var_os("UPDATE_DOCS").is_some();
    let mut compared = 0;
    for page in pages() {
        let text = std::fs::read_to_string(&page).expect("page");
        let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
        let mut changed = false;
        // From the last block up, so that rewriting one keeps the earlier indexes right.
        for block in blocks(&text)
            .into_iter()
            .filter(|b| b.language == "console")
            .rev()
        {
            let mut wanted = Vec::new();
            for line in &block.lines {
                match line.strip_prefix("$ ") {
                    Some(command) => wanted.push((command.to_string(), String::new())),
                    None => {
                        let (_, output) = wanted.last_mut().expect("a console block starts with $");
                        output.push_str(line);
                        output.push('\n');
                    }
                }
            }
            let mut rewritten = Vec::new();
            for (command, output) in &wanted {
                let command_line = command_in(command).expect("a console example runs int-check");
                let args = words(&command_line);
                let refs: Vec<&str> = args[1..].iter().map(String::as_str).collect();
                let run = lab::run(&refs).await;
                compared += 1;
                rewritten.push(format!("$ {command}"));
                rewritten.extend(run.stdout.lines().map(str::to_string));
                if !update {
                    assert_eq!(
                        output,
                        &run.stdout,
                        "{}:{}: `{command}` prints something else now (UPDATE_DOCS=1 rewrites it)",
                        page.display(),
                        block.start
                    );
                }
            }
            if update && rewritten != block.lines {
                lines.splice(block.start..block.start + block.lines.len(), rewritten);
                changed = true;
            }
        }
        if changed {
            std::fs::write(&page, lines.join("\n") + "\n").expect("page written");
        }
    }
    assert!(compared >= 3, "only {compared} console examples found");
}

#[test]
fn every_reason_code_named_exists() {
    let families = [
        "dns",
        "tcp",
        "tls",
        "http",
        "ldap",
        "cert",
        "registration",
        "inbound",
        "mesh",
        "crl",
        "maintenance",
        "run",
        "skip",
        "clock",
    ];
    let known: Vec<&str> = int_check::reasons::Reason::ALL
        .iter()
        .map(|r| r.code())
        .collect();
    let mut unknown = Vec::new();
    for page in pages() {
        let text = std::fs::read_to_string(&page).expect("page");
        for code in text.split('`').skip(1).step_by(2) {
            let Some((family, name)) = code.split_once('.') else {
                continue;
            };
            let looks_like_code = families.contains(&family)
                && !name.is_empty()
                && name.chars().all(|c| c.is_ascii_lowercase() || c == '_');
            if looks_like_code && !known.contains(&code) {
                unknown.push(format!("{}: `{code}`", page.display()));
            }
        }
    }
    assert!(
        unknown.is_empty(),
        "no such reason code:\n{}",
        unknown.join("\n")
    );
}

#[test]
fn the_guide_lists_every_chapter_and_its_links_resolve() {
    let src = root().join("docs/src");
    let summary = std::fs::read_to_string(src.join("SUMMARY.md")).expect("SUMMARY.md");
    for page in pages().into_iter().skip(1) {
        let name = page.file_name().unwrap().to_string_lossy().to_string();
        if name != "SUMMARY.md" {
            assert!(
                summary.contains(&format!("({name})")),
                "SUMMARY.md does not list {name}"
            );
        }
    }
    // Relative links to files, from the README and every chapter.
    for page in pages() {
        let text = std::fs::read_to_string(&page).expect("page");
        for part in text.split("](").skip(1) {
            let target = part.split(')').next().unwrap_or_default();
            let target = target.split('#').next().unwrap_or_default();
            if target.is_empty() || target.contains("://") {
                continue;
            }
            let resolved = page.parent().unwrap().join(target);
            assert!(
                resolved.exists(),
                "{}: the link to {target} leads nowhere",
                page.display()
            );
        }
    }
    // The README is a first screen, not the manual.
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    assert!(readme.lines().count() <= 120, "README.md is over 120 lines");
}

#[test]
fn the_shell_reader_splits_as_sh_does() {
    assert_eq!(
        command_in("INT_CHECK_FORMAT=junit int-check --strict -q | tee x  # note"),
        Some("int-check --strict -q".to_string())
    );
    assert_eq!(
        words("int-check sds --fqdn 'a b' --x \"c\\\"d\""),
        ["int-check", "sds", "--fqdn", "a b", "--x", "c\"d"]
    );
    assert_eq!(command_in("cargo test"), None);
}
