//! The structure of `src/`, checked: no import cycle among its modules, and
//! no module importing from a layer above its own (the layers are
//! `LAYERS` below and in docs/ARCHITECTURE.md). Reads the `use` lines and
//! the `crate::…`/`super::…` paths of every file; no compiler needed.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Layers, lowest first: a module may import from its own layer (without
/// a cycle) and from the layers below. The first pattern a module matches
/// decides its layer (`x::*` is x's submodules).
const LAYERS: &[(&str, &[&str])] = &[
    (
        "vocabulary",
        &[
            "model",
            "format",
            "format::*",
            "protocol",
            "events",
            "groups",
            "error",
        ],
    ),
    ("client state", &["sync", "sync::*"]),
    (
        "server basics",
        &[
            "server::config",
            "server::clock",
            "server::limits",
            "server::locks",
            "server::metrics",
            "server::csp",
            "server::format",
            "server::tasks",
            "server::text",
        ],
    ),
    ("storage", &["server::storage", "server::storage::*"]),
    ("connections", &["server::hub"]),
    (
        "cluster plumbing",
        &[
            "server::cluster",
            "server::registry",
            "server::bus",
            "server::bus::*",
            "server::cache",
            "server::cache::*",
        ],
    ),
    (
        "services",
        &[
            "server::auth",
            "server::delivery",
            "server::people",
            "server::receipts",
            "server::ticks",
            "server::presence",
            "server::seen",
            "server::push",
            "server::push::*",
            "server::files",
            "server::files::*",
            "server::search",
            "server::search::*",
        ],
    ),
    ("node", &["server::state"]),
    (
        "handlers",
        &[
            "server::context",
            "server::accounts",
            "server::sessions",
            "server::groups",
            "server::blocks",
            "server::rooms",
            "server::subscriptions",
            "server::gateway",
            "server::gateway::*",
        ],
    ),
    ("api", &["api"]),
    ("ui", &["ui", "ui::*"]),
    (
        "http",
        &[
            "server::http",
            "server::headers",
            "server::figures",
            "server::reports",
            "server::uploads",
            "server::avatars",
            "server::worker",
            "server",
        ],
    ),
    ("crate", &["", "main"]),
];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|(_, patterns)| {
        patterns.iter().any(|p| match p.strip_suffix("::*") {
            Some(parent) => module.starts_with(&format!("{parent}::")),
            None => *p == module,
        })
    })
}

/// Every module of `src/` by its path ("" for the crate root), with its text.
fn modules() -> BTreeMap<String, String> {
    fn walk(dir: &Path, prefix: &str, out: &mut BTreeMap<String, String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_stem().unwrap().to_str().unwrap().to_string();
            let join = |n: &str| {
                if prefix.is_empty() {
                    n.to_string()
                } else {
                    format!("{prefix}::{n}")
                }
            };
            if path.is_dir() {
                walk(&path, &join(&name), out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let module = match name.as_str() {
                    "lib" if prefix.is_empty() => String::new(),
                    "mod" => prefix.to_string(),
                    _ => join(&name),
                };
                out.insert(module, std::fs::read_to_string(&path).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(
        Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/src")),
        "",
        &mut out,
    );
    out
}

/// The text with comments and string literals blanked (so paths in docs
/// and messages do not count).
fn code_only(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '/' if chars.peek() == Some(&'/') => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        out.push('\n');
                        break;
                    }
                }
            }
            '"' => {
                let mut escaped = false;
                for c in chars.by_ref() {
                    if !escaped && c == '"' {
                        break;
                    }
                    escaped = !escaped && c == '\\';
                }
                out.push_str("\"\"");
            }
            // A char literal such as '"' or '{' (lifetimes have no closing quote).
            '\'' => {
                let rest: String = chars.clone().take(3).collect();
                if rest.chars().nth(1) == Some('\'') {
                    chars.nth(1);
                } else if rest.starts_with('\\') && rest.chars().nth(2) == Some('\'') {
                    chars.nth(2);
                } else {
                    out.push(c);
                }
            }
            _ => out.push(c),
        }
    }
    out
}

/// The paths a file names: `use` trees expanded, plus inline `crate::a::b`
/// and `super::a` paths.
fn paths(code: &str) -> Vec<String> {
    fn expand(tree: &str, prefix: &str, out: &mut Vec<String>) {
        let tree = tree.trim();
        if let Some(open) = tree.find('{') {
            let head = tree[..open].trim().trim_end_matches("::");
            let inner = &tree[open + 1..tree.rfind('}').unwrap_or(tree.len())];
            let prefix = join(prefix, head);
            let mut depth = 0;
            let mut start = 0;
            for (i, c) in inner.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        expand(&inner[start..i], &prefix, out);
                        start = i + 1;
                    }
                    _ => {}
                }
            }
            expand(&inner[start..], &prefix, out);
        } else if !tree.is_empty() {
            let tree = tree.split(" as ").next().unwrap_or(tree).trim();
            out.push(join(prefix, tree));
        }
    }
    fn join(a: &str, b: &str) -> String {
        match (a.is_empty(), b.is_empty()) {
            (true, _) => b.to_string(),
            (_, true) => a.to_string(),
            _ => format!("{a}::{b}"),
        }
    }
    let mut out = Vec::new();
    let mut rest = code;
    while let Some(at) = rest.find("use ") {
        let before = rest[..at].chars().last();
        let after = &rest[at + 4..];
        if before.is_none_or(|c| !c.is_alphanumeric() && c != '_') {
            if let Some(end) = after.find(';') {
                expand(&after[..end], "", &mut out);
            }
        }
        rest = after;
    }
    let bytes = code.as_bytes();
    for start in ["crate::", "super::", "self::"] {
        let mut from = 0;
        while let Some(at) = code[from..].find(start) {
            let at = from + at;
            from = at + start.len();
            if at > 0
                && (bytes[at - 1].is_ascii_alphanumeric() || bytes[at - 1] == b'_' || bytes[at - 1] == b':')
            {
                continue;
            }
            let end = code[at..]
                .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
                .map_or(code.len(), |e| at + e);
            out.push(code[at..end].trim_end_matches(':').to_string());
        }
    }
    out
}

/// The module a path in `module` points into (the deepest known one).
fn target(module: &str, path: &str, known: &BTreeSet<String>) -> Option<String> {
    let mut parts: Vec<&str> = path.split("::").collect();
    let mut base: Vec<String> = match parts.first() {
        Some(&"crate") => Vec::new(),
        Some(&"super") => {
            let mut base: Vec<String> = module.split("::").map(str::to_string).collect();
            while parts.first() == Some(&"super") {
                base.pop();
                parts.remove(0);
            }
            parts.insert(0, "_");
            base
        }
        Some(&"self") => module
            .split("::")
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect(),
        _ => return None,
    };
    base.retain(|s| !s.is_empty());
    let mut found = None;
    let mut candidate = base.clone();
    if known.contains(&candidate.join("::")) {
        found = Some(candidate.join("::"));
    }
    for part in parts.iter().skip(1) {
        candidate.push(part.to_string());
        let name = candidate.join("::");
        if known.contains(&name) {
            found = Some(name);
        } else {
            break;
        }
    }
    found
}

fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let modules = modules();
    let known: BTreeSet<String> = modules.keys().cloned().collect();
    let mut edges = BTreeMap::new();
    for (module, text) in &modules {
        let code = code_only(text);
        let mut to = BTreeSet::new();
        for path in paths(&code) {
            if let Some(t) = target(module, &path, &known) {
                // Not itself, not an ancestor (re-exports), not a descendant.
                let ancestor = t.is_empty() || module.starts_with(&format!("{t}::"));
                let descendant = module.is_empty() || t.starts_with(&format!("{module}::"));
                if t != *module && !ancestor && !descendant {
                    to.insert(t);
                }
            }
        }
        edges.insert(module.clone(), to);
    }
    edges
}

/// Strongly connected components with more than one module (Tarjan).
fn cycles(edges: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    struct Walk<'a> {
        edges: &'a BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on_stack: BTreeSet<&'a str>,
        out: Vec<Vec<String>>,
    }
    impl<'a> Walk<'a> {
        fn visit(&mut self, v: &'a str) {
            let i = self.index.len();
            self.index.insert(v, i);
            self.low.insert(v, i);
            self.stack.push(v);
            self.on_stack.insert(v);
            for w in self.edges.get(v).into_iter().flatten() {
                let w = w.as_str();
                if !self.index.contains_key(w) {
                    self.visit(w);
                    let low = self.low[v].min(self.low[w]);
                    self.low.insert(v, low);
                } else if self.on_stack.contains(w) {
                    let low = self.low[v].min(self.index[w]);
                    self.low.insert(v, low);
                }
            }
            if self.low[v] == self.index[v] {
                let mut component = Vec::new();
                while let Some(w) = self.stack.pop() {
                    self.on_stack.remove(w);
                    component.push(w.to_string());
                    if w == v {
                        break;
                    }
                }
                if component.len() > 1 {
                    component.sort();
                    self.out.push(component);
                }
            }
        }
    }
    let mut walk = Walk {
        edges,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        out: Vec::new(),
    };
    for v in edges.keys() {
        if !walk.index.contains_key(v.as_str()) {
            walk.visit(v);
        }
    }
    walk.out
}

#[test]
fn the_parser_sees_use_trees_and_inline_paths() {
    let code = code_only(
        "use super::{bus::Event, context::{caller, now_ms}, state::AppState};\n\
         // use crate::ui::nothing;\n\
         let s = \"crate::ui::nothing\";\n\
         crate::server::rooms::open_direct(h).await; let q = '\"'; use crate::model as m;",
    );
    let found = paths(&code);
    for want in [
        "super::bus::Event",
        "super::context::caller",
        "super::context::now_ms",
        "super::state::AppState",
        "crate::server::rooms::open_direct",
        "crate::model",
    ] {
        assert!(found.iter().any(|p| p == want), "{want} not in {found:?}");
    }
    assert!(!found.iter().any(|p| p.contains("ui")), "{found:?}");
    let known: BTreeSet<String> = ["server", "server::bus", "server::bus::redis", "model"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(
        target("server::cache", "super::bus::Event", &known).as_deref(),
        Some("server::bus")
    );
    assert_eq!(
        target("server::x", "crate::server::bus::redis::Y", &known).as_deref(),
        Some("server::bus::redis")
    );
    assert_eq!(
        target("server::bus", "self::redis", &known).as_deref(),
        Some("server::bus::redis")
    );
}

#[test]
fn every_module_has_a_layer() {
    let unplaced: Vec<String> = modules().into_keys().filter(|m| layer_of(m).is_none()).collect();
    assert!(
        unplaced.is_empty(),
        "place these in LAYERS (and ARCHITECTURE.md): {unplaced:?}"
    );
}

#[test]
fn no_import_cycles() {
    let found = cycles(&graph());
    assert!(
        found.is_empty(),
        "modules that import each other, in a ring: {found:#?}"
    );
}

#[test]
fn no_import_from_a_higher_layer() {
    let mut upward = Vec::new();
    for (from, tos) in graph() {
        for to in tos {
            if let (Some(a), Some(b)) = (layer_of(&from), layer_of(&to)) {
                if b > a {
                    upward.push(format!("{from} ({}) uses {to} ({})", LAYERS[a].0, LAYERS[b].0));
                }
            }
        }
    }
    assert!(
        upward.is_empty(),
        "imports from a higher layer:\n{}",
        upward.join("\n")
    );
}
