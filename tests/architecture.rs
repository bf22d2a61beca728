//! The house rules of issue 31, checked on the source: no import circle between files of
//! `src/`. A file uses another when it names a path into it (`crate::a::b::Item`,
//! `super::x::Item`, grouped `use` lists included). A child naming its own ancestor modules
//! (`super::Item` from `a/b.rs` into `a/mod.rs`) is how Rust modules are built and is not
//! counted; every other pair of files must depend one way only.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Module paths (`attribution::explain`) of every file under `src/`, to their files.
fn modules(src: &Path) -> BTreeMap<String, PathBuf> {
    let mut out = BTreeMap::new();
    let mut stack = vec![src.to_owned()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let relative = path.strip_prefix(src).unwrap().with_extension("");
            let mut parts: Vec<String> = relative
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            if matches!(
                parts.last().map(String::as_str),
                Some("mod" | "lib" | "main")
            ) {
                parts.pop();
            }
            out.insert(parts.join("::"), path);
        }
    }
    out
}

/// Every path a source text names from `crate::` or `super::`, with grouped `use` lists
/// expanded one level deep at a time (`a::{b, c::{d}}` gives `a::b`, `a::c::d`).
fn named_paths(text: &str) -> Vec<String> {
    let code: String = text
        .lines()
        .map(|l| l.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n");
    let mut out = Vec::new();
    let bytes = code.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let rest = &bytes[i..];
        let starts_word = i == 0 || !(bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_');
        if starts_word && (rest.starts_with(b"crate::") || rest.starts_with(b"super::")) {
            // An ASCII byte starts here: a char boundary.
            let (path, used) = read_path(&code[i..]);
            out.extend(path);
            i += used.max(1);
        } else {
            i += 1;
        }
    }
    out
}

/// Reads a path at the start of `text`, expanding `{…}` groups; returns the paths and the
/// bytes read.
fn read_path(text: &str) -> (Vec<String>, usize) {
    let mut prefix = String::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if c.is_ascii_alphanumeric() || c == b'_' || c == b':' {
            prefix.push(c as char);
            i += 1;
        } else if c == b'{' && prefix.ends_with("::") {
            // A group: split its top-level items.
            let mut depth = 0;
            let mut end = i;
            for (j, &b) in bytes[i..].iter().enumerate() {
                match b {
                    b'{' => depth += 1,
                    b'}' => {
                        depth -= 1;
                        if depth == 0 {
                            end = i + j;
                            break;
                        }
                    }
                    _ => {}
                }
            }
            let inner = &text[i + 1..end];
            let mut items = Vec::new();
            let (mut depth, mut start) = (0, 0);
            for (j, b) in inner.bytes().enumerate() {
                match b {
                    b'{' => depth += 1,
                    b'}' => depth -= 1,
                    b',' if depth == 0 => {
                        items.push(&inner[start..j]);
                        start = j + 1;
                    }
                    _ => {}
                }
            }
            items.push(&inner[start..]);
            let mut out = Vec::new();
            for item in items.iter().map(|s| s.trim()).filter(|s| !s.is_empty()) {
                let (paths, _) = read_path(&format!("{prefix}{item}"));
                out.extend(paths);
            }
            return (out, end + 1);
        } else {
            break;
        }
    }
    (vec![prefix.trim_end_matches(':').to_owned()], i)
}

/// The module a path from `module` lands in: the longest prefix that is a file of its own.
fn target(module: &str, path: &str, files: &BTreeMap<String, PathBuf>) -> Option<String> {
    let mut base: Vec<&str> = if module.is_empty() {
        Vec::new()
    } else {
        module.split("::").collect()
    };
    // `super` in `a/b.rs` and in `a/b/mod.rs` (both module a::b) is `a`.
    let mut segments = path.split("::").peekable();
    match segments.peek() {
        Some(&"crate") => {
            segments.next();
            base.clear();
        }
        Some(&"super") => {
            while segments.peek() == Some(&"super") {
                segments.next();
                base.pop();
            }
        }
        _ => return None,
    }
    let mut full: Vec<&str> = base;
    full.extend(segments);
    (0..=full.len())
        .rev()
        .map(|n| full[..n].join("::"))
        .find(|m| files.contains_key(m))
}

/// Which files of the module tree under `src` name which others (children naming their own
/// ancestors left out).
fn uses_between_files(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let files = modules(src);
    let mut uses: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (module, path) in &files {
        let text = std::fs::read_to_string(path).unwrap();
        let entry = uses.entry(module.clone()).or_default();
        for named in named_paths(&text) {
            let Some(to) = target(module, &named, &files) else {
                continue;
            };
            // A module naming itself or one of its ancestors is how Rust modules are built.
            let ancestor = to.is_empty() || module == &to || module.starts_with(&format!("{to}::"));
            if !ancestor {
                entry.insert(to);
            }
        }
    }
    uses
}

/// Pairs (a, b) where a uses b and b reaches a back.
fn circles(uses: &BTreeMap<String, BTreeSet<String>>) -> BTreeSet<(String, String)> {
    let reach = |from: &str| -> BTreeSet<String> {
        let mut seen = BTreeSet::new();
        let mut stack = vec![from.to_owned()];
        while let Some(m) = stack.pop() {
            for next in uses.get(m.as_str()).into_iter().flatten() {
                if seen.insert(next.clone()) {
                    stack.push(next.clone());
                }
            }
        }
        seen
    };
    let mut out = BTreeSet::new();
    for (a, targets) in uses {
        for b in targets {
            if reach(b).contains(a) {
                out.insert((a.clone(), b.clone()));
            }
        }
    }
    out
}

#[test]
fn no_import_circle_between_files_of_src() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let found = circles(&uses_between_files(&src));
    assert!(
        found.is_empty(),
        "import circles between files of src/ (a uses b, and b reaches a):\n{found:#?}"
    );
}

/// The checker finds a circle through a third file and through a grouped `use`, and leaves a
/// child naming its parent alone: a test of the test, on a small tree written here.
#[test]
fn the_checker_finds_circles_and_allows_children_to_name_parents() {
    let dir = std::env::temp_dir().join(format!("poolsleuth-arch-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("a")).unwrap();
    let write = |name: &str, text: &str| std::fs::write(dir.join(name), text).unwrap();
    write("lib.rs", "mod a;\nmod b;\nmod c;\n");
    write("a.rs", "mod child;\nuse crate::b::Thing;\n");
    write("a/child.rs", "use super::Parent;\n");
    write("b.rs", "use crate::{c::Other, d};\n");
    write(
        "c.rs",
        "// use crate::b::Commented;\nuse super::a::Again;\n",
    );
    let uses = uses_between_files(&dir);
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(uses["a::child"], BTreeSet::new(), "{uses:#?}");
    let found = circles(&uses);
    let pair = |a: &str, b: &str| (a.to_owned(), b.to_owned());
    assert_eq!(
        found,
        BTreeSet::from([pair("a", "b"), pair("b", "c"), pair("c", "a")]),
        "{uses:#?}"
    );
}
