//! The floor plan holds (ARCHITECTURE.md): every `crate::` path in the core's sources names a
//! room on a lower floor, or one to its left on the same floor; no two rooms reach each other in
//! a circle; `model/` and `db/` name no service. The desktop shell and the server have no import
//! circles either.
//!
//! It reads the sources as text (comments and string literals removed), so it needs no build of
//! its own and says exactly which file and which path broke the plan.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The core's floors, bottom to top. A room may import any room on a floor below its own, and
/// on its own floor only the rooms to its left. `lib` is the crate root (`mod` and `pub use`).
const FLOORS: &[(&str, &[&str])] = &[
    ("leaves", &["clock", "config", "outbound", "redact", "text", "private_files", "model"]),
    ("leaves, above the plain types", &["media", "logging", "events", "options", "tasks", "registry"]),
    ("storage", &["db"]),
    ("storage, sealed", &["vault"]),
    ("handle", &["app"]),
    ("handle, beside it", &["lease", "profiles", "nodes", "health", "jobs"]),
    ("services", &["ingest", "storage", "disk", "library", "accounts", "doctor", "twitch", "playlists"]),
    ("engine", &["broadcast"]),
    ("above the engine", &["schedules", "alerts"]),
    ("wiring", &["job_kinds", "runtime", "error", "lib"]),
];

/// Rooms nothing below the services may name.
const SERVICES_AND_ABOVE: usize = 6;

/// Inside these rooms the files may reach each other in a circle (the engine's parts talk both
/// ways: the supervisor starts publishers that report back to it).
const CIRCLES_ALLOWED_INSIDE: &[&str] = &["broadcast"];

fn core_src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Every `.rs` file below `dir`, as paths relative to it (`db/videos.rs`).
fn sources(dir: &Path) -> Vec<PathBuf> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap().map(Result::unwrap) {
            let path = entry.path();
            if path.is_dir() {
                walk(root, &path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path.strip_prefix(root).unwrap().to_path_buf());
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// The source without comments, string and char literals, so only code is read.
fn code_only(text: &str) -> String {
    let bytes: Vec<char> = text.chars().collect();
    let (mut out, mut i) = (String::with_capacity(text.len()), 0);
    while i < bytes.len() {
        let (c, next) = (bytes[i], bytes.get(i + 1).copied());
        if c == '/' && next == Some('/') {
            while i < bytes.len() && bytes[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < bytes.len() {
                if bytes[i] == '/' && bytes.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if bytes[i] == '*' && bytes.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
        } else if c == 'r' && (next == Some('"') || next == Some('#')) && (i == 0 || !bytes[i - 1].is_alphanumeric() && bytes[i - 1] != '_') {
            // A raw string: r"…", r#"…"#.
            let mut j = i + 1;
            let mut hashes = 0;
            while bytes.get(j) == Some(&'#') {
                hashes += 1;
                j += 1;
            }
            if bytes.get(j) != Some(&'"') {
                out.push(c);
                i += 1;
                continue;
            }
            j += 1;
            loop {
                if j >= bytes.len() {
                    break;
                }
                if bytes[j] == '"' && (0..hashes).all(|h| bytes.get(j + 1 + h) == Some(&'#')) {
                    j += 1 + hashes;
                    break;
                }
                j += 1;
            }
            out.push_str("\"\"");
            i = j;
        } else if c == '"' {
            i += 1;
            while i < bytes.len() && bytes[i] != '"' {
                i += if bytes[i] == '\\' { 2 } else { 1 };
            }
            out.push_str("\"\"");
            i += 1;
        } else if c == '\'' && bytes.get(i + 2) == Some(&'\'') {
            out.push_str("' '");
            i += 3;
        } else if c == '\'' && next == Some('\\') {
            let mut j = i + 2;
            while j < bytes.len() && bytes[j] != '\'' {
                j += 1;
            }
            out.push_str("' '");
            i = j + 1;
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

/// The first segment of every path that starts at `prefix` (`crate::db::Db` → `db`), with the
/// names inside a group (`crate::{db, model::Video}` → `db`, `model`).
fn roots_after(code: &str, prefix: &str) -> BTreeSet<String> {
    let mut roots = BTreeSet::new();
    let mut rest = code;
    while let Some(at) = rest.find(prefix) {
        let before = rest[..at].chars().last();
        rest = &rest[at + prefix.len()..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        if let Some(group) = rest.strip_prefix('{') {
            let (mut depth, mut name, mut at_start) = (1, String::new(), true);
            for c in group.chars() {
                match c {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    ',' if depth == 1 => at_start = true,
                    _ => {}
                }
                if depth == 0 {
                    break;
                }
                if depth == 1 && at_start {
                    if c.is_alphanumeric() || c == '_' {
                        name.push(c);
                    } else if !name.is_empty() {
                        roots.insert(std::mem::take(&mut name));
                        at_start = false;
                    }
                }
            }
            if !name.is_empty() {
                roots.insert(name);
            }
        } else {
            let name: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
            if !name.is_empty() {
                roots.insert(name);
            }
        }
    }
    roots
}

/// The room a file is in: its top-level module (`db/videos.rs` → `db`, `lib.rs` → `lib`).
fn room_of(file: &Path) -> String {
    let first = file.components().next().unwrap().as_os_str().to_string_lossy().into_owned();
    first.trim_end_matches(".rs").to_string()
}

/// What the crate root re-exports by name (`pub use app::Twitcher` → `Twitcher` is `app`'s).
fn root_reexports(lib: &str) -> BTreeMap<String, String> {
    let mut names = BTreeMap::new();
    for line in code_only(lib).lines() {
        let Some(path) = line.trim().strip_prefix("pub use ") else { continue };
        let path = path.trim_end_matches(';');
        let Some((module, items)) = path.split_once("::") else { continue };
        for item in items.trim_matches(|c| c == '{' || c == '}').split(',') {
            let name = item.rsplit("::").next().unwrap().split(" as ").last().unwrap().trim();
            names.insert(name.to_string(), module.to_string());
        }
    }
    names
}

/// Room → (room it names → the files that name it), for the sources below `dir`.
type Graph = BTreeMap<String, BTreeMap<String, BTreeSet<String>>>;

fn room_graph(dir: &Path) -> Graph {
    let lib = std::fs::read_to_string(dir.join("lib.rs")).unwrap_or_default();
    let reexports = root_reexports(&lib);
    let mut graph = Graph::new();
    for file in sources(dir) {
        let room = room_of(&file);
        let code = code_only(&std::fs::read_to_string(dir.join(&file)).unwrap());
        let entry = graph.entry(room.clone()).or_default();
        for name in roots_after(&code, "crate::") {
            let target = if name.starts_with(char::is_uppercase) { reexports.get(&name).cloned().unwrap_or_else(|| "lib".into()) } else { name };
            if target != room && target != "self" {
                entry.entry(target).or_default().insert(file.display().to_string());
            }
        }
    }
    graph
}

/// The floor and place of a room, or `None` for one the plan does not list.
fn place(room: &str) -> Option<(usize, usize)> {
    FLOORS.iter().enumerate().find_map(|(floor, (_, rooms))| rooms.iter().position(|r| *r == room).map(|at| (floor, at)))
}

/// Every circle among the nodes of `graph` (each once, as the strongly connected components
/// with more than one node).
fn circles(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    // Tarjan's algorithm, iterative enough for a few hundred nodes.
    struct State<'a> {
        graph: &'a BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on_stack: BTreeSet<&'a str>,
        found: Vec<Vec<String>>,
    }
    fn visit<'a>(s: &mut State<'a>, node: &'a str) {
        let n = s.index.len();
        s.index.insert(node, n);
        s.low.insert(node, n);
        s.stack.push(node);
        s.on_stack.insert(node);
        let graph = s.graph;
        for next in graph.get(node).into_iter().flatten() {
            let next = next.as_str();
            if !s.index.contains_key(next) {
                visit(s, next);
                let low = s.low[next].min(s.low[node]);
                s.low.insert(node, low);
            } else if s.on_stack.contains(next) {
                let low = s.index[next].min(s.low[node]);
                s.low.insert(node, low);
            }
        }
        if s.low[node] == s.index[node] {
            let mut component = Vec::new();
            loop {
                let top = s.stack.pop().unwrap();
                s.on_stack.remove(top);
                component.push(top.to_string());
                if top == node {
                    break;
                }
            }
            if component.len() > 1 {
                component.sort();
                s.found.push(component);
            }
        }
    }
    let mut state = State { graph, index: BTreeMap::new(), low: BTreeMap::new(), stack: Vec::new(), on_stack: BTreeSet::new(), found: Vec::new() };
    for node in graph.keys() {
        if !state.index.contains_key(node.as_str()) {
            visit(&mut state, node);
        }
    }
    state.found
}

fn edges(graph: &Graph) -> BTreeMap<String, BTreeSet<String>> {
    graph.iter().map(|(from, to)| (from.clone(), to.keys().cloned().collect())).collect()
}

#[test]
fn every_room_of_the_core_is_on_a_floor() {
    let unplaced: Vec<_> = room_graph(&core_src()).into_keys().filter(|room| place(room).is_none()).collect();
    assert!(unplaced.is_empty(), "rooms the floor plan (tests/layers.rs, ARCHITECTURE.md) does not list: {unplaced:?}");
}

#[test]
fn the_core_imports_only_downwards() {
    let mut wrong = Vec::new();
    for (room, targets) in room_graph(&core_src()) {
        let Some(from) = place(&room) else { continue };
        for (target, files) in targets {
            let Some(to) = place(&target) else { continue };
            if to.0 > from.0 || (to.0 == from.0 && to.1 > from.1) {
                wrong.push(format!("{room} ({}) imports {target} ({}) in {}", FLOORS[from.0].0, FLOORS[to.0].0, files.iter().cloned().collect::<Vec<_>>().join(", ")));
            }
        }
    }
    assert!(wrong.is_empty(), "imports that go up a floor (or right along one):\n  {}", wrong.join("\n  "));
}

#[test]
fn plain_types_and_storage_name_no_service() {
    let graph = room_graph(&core_src());
    let mut wrong = Vec::new();
    for room in ["model", "db"] {
        for (target, files) in graph.get(room).into_iter().flatten() {
            if place(target).is_some_and(|(floor, _)| floor >= SERVICES_AND_ABOVE) || place(target).is_none() {
                wrong.push(format!("{room} imports {target} in {}", files.iter().cloned().collect::<Vec<_>>().join(", ")));
            }
        }
    }
    let model_imports: Vec<_> = graph.get("model").into_iter().flatten().map(|(t, _)| t.clone()).collect();
    assert!(wrong.is_empty(), "the floors under the services name one:\n  {}", wrong.join("\n  "));
    assert!(model_imports.is_empty(), "model/ imports nothing of the crate, yet names {model_imports:?}");
}

#[test]
fn no_two_rooms_of_the_core_reach_each_other() {
    let found = circles(&edges(&room_graph(&core_src())));
    assert!(found.is_empty(), "rooms in a circle: {found:?}");
}

#[test]
fn no_circle_among_the_files_of_a_room_outside_the_engine() {
    // Files of one room: a child naming the room's door (`mod.rs`) and the door re-exporting a
    // child is how a module is built, not a circle; children reaching each other both ways is.
    let dir = core_src();
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in sources(&dir) {
        let room = room_of(&file);
        if CIRCLES_ALLOWED_INSIDE.contains(&room.as_str()) || file.components().count() < 2 || file.ends_with("mod.rs") {
            continue;
        }
        let code = code_only(&std::fs::read_to_string(dir.join(&file)).unwrap());
        let name = file.display().to_string();
        let siblings: BTreeSet<String> = roots_after(&code, "super::")
            .into_iter()
            .chain(roots_after(&code, &format!("crate::{room}::")))
            .map(|sibling| format!("{room}/{sibling}.rs"))
            .filter(|sibling| *sibling != name && dir.join(sibling).exists())
            .collect();
        graph.insert(name, siblings);
    }
    let found = circles(&graph);
    assert!(found.is_empty(), "files in a circle: {found:?}");
}

#[test]
fn the_desktop_shell_and_the_server_have_no_import_circles() {
    let root = workspace();
    for (surface, dir) in [("desktop shell", root.clone()), ("server", root.join("server/src"))] {
        // The shell's crate is src-tauri/ itself; its sibling crates' folders are not its rooms.
        let graph: Graph = room_graph(&dir)
            .into_iter()
            .filter(|(room, _)| !["core", "cli", "server", "testkit", "target", "gen"].contains(&room.as_str()))
            .collect();
        let found = circles(&edges(&graph));
        assert!(found.is_empty(), "the {surface}'s modules in a circle: {found:?}");
    }
}

#[test]
fn the_reader_finds_what_it_must() {
    // The reader itself: a group, a nested group, a re-exported name, and what comments and
    // strings hide.
    let code = code_only("use crate::{db::{self, Db}, model::Video};\n// crate::twitch\nlet s = \"crate::alerts\";\ncrate::Twitcher::open();");
    assert_eq!(roots_after(&code, "crate::"), ["Twitcher", "db", "model"].into_iter().map(String::from).collect());
    assert_eq!(root_reexports("pub use app::Twitcher;\npub use error::{Error, ErrorBody};")["ErrorBody"], "error");
    let looped: BTreeMap<String, BTreeSet<String>> =
        [("a", "b"), ("b", "c"), ("c", "a"), ("d", "a")].into_iter().map(|(f, t)| (f.to_string(), [t.to_string()].into())).collect();
    assert_eq!(circles(&looped), vec![vec!["a".to_string(), "b".into(), "c".into()]]);
}
