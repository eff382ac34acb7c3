//! The architecture's layers, checked on the source: each module of `src/` imports only the layers below it (see
//! the README's architecture section). A module that reaches up (`crate::ui` from `sync`, say) fails this test,
//! naming the file, the line and both layers.

use std::path::Path;

/// The layers from the bottom up; a module may use its own layer and those before it.
const LAYERS: &[&str] = &[
    "units", "scenario", "twin", "ingest", "sync", "assess", "store", "publish", "app", "plant", "change", "headless",
    "ui",
];

/// Every `crate::NAME` a line of code names (comments and doc comments are not imports).
fn crate_paths(line: &str) -> Vec<&str> {
    // The code before a `//` that is outside any string literal (as in "mqtt://host").
    let (mut in_string, mut escaped, mut end) = (false, false, line.len());
    let bytes = line.as_bytes();
    for i in 0..bytes.len() {
        match bytes[i] {
            _ if escaped => escaped = false,
            b'\\' if in_string => escaped = true,
            b'"' => in_string = !in_string,
            b'/' if !in_string && bytes.get(i + 1) == Some(&b'/') => {
                end = i;
                break;
            }
            _ => {}
        }
    }
    let code = &line[..end];
    let mut out = Vec::new();
    let mut rest = code;
    while let Some(i) = rest.find("crate::") {
        let before = rest[..i].chars().next_back();
        rest = &rest[i + "crate::".len()..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue; // e.g. `twin_crate::`
        }
        let end = rest.find(|c: char| !(c.is_alphanumeric() || c == '_')).unwrap_or(rest.len());
        out.push(&rest[..end]);
    }
    out
}

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// Every upward import under `src`: (file, line, importing layer, imported layer).
fn upward_imports(src: &Path) -> Vec<(String, usize, String, String)> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    files.sort();
    let mut bad = Vec::new();
    for f in files {
        let rel = f.strip_prefix(src).unwrap();
        let top = rel.components().next().unwrap().as_os_str().to_string_lossy().trim_end_matches(".rs").to_string();
        let Some(mine) = LAYERS.iter().position(|l| *l == top) else { continue };
        let text = std::fs::read_to_string(&f).unwrap();
        for (n, line) in text.lines().enumerate() {
            for name in crate_paths(line) {
                if let Some(theirs) = LAYERS.iter().position(|l| *l == name)
                    && theirs > mine
                {
                    bad.push((f.display().to_string(), n + 1, top.clone(), name.to_string()));
                }
            }
        }
    }
    bad
}

#[test]
fn no_module_imports_a_layer_above_it() {
    let src = super::root().join("src");
    let bad = upward_imports(&src);
    let lines: Vec<String> =
        bad.iter().map(|(f, n, mine, theirs)| format!("{f}:{n}: {mine} imports {theirs}, a layer above it")).collect();
    assert!(lines.is_empty(), "layers are {LAYERS:?}, bottom first:\n{}", lines.join("\n"));
    // Every top-level module of src/ has its layer (a new module must be placed in the table above).
    for e in std::fs::read_dir(&src).unwrap() {
        let name = e.unwrap().file_name().to_string_lossy().trim_end_matches(".rs").to_string();
        assert!(LAYERS.contains(&name.as_str()) || ["lib", "main"].contains(&name.as_str()), "{name} has no layer");
    }
}

#[test]
fn the_layer_check_finds_an_upward_import() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("sync")).unwrap();
    let text = "//! [`crate::ui`] in a doc comment is no import.\nuse crate::twin::SimClock;\n\
                let url = \"mqtt://h\"; use crate::change::Status; // crate::ui in a comment\n";
    std::fs::write(dir.path().join("sync/mod.rs"), text).unwrap();
    let bad = upward_imports(dir.path());
    assert_eq!(bad.len(), 1, "{bad:?}");
    assert_eq!((bad[0].1, bad[0].2.as_str(), bad[0].3.as_str()), (3, "sync", "change"));
}
