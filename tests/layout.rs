//! The shape of the source tree that the design relies on, checked on the
//! text of the code: the admin command never reaches into the login flow or
//! the PAM glue, `unsafe` stays behind the fence in `src/pam/`, and no two
//! modules of src/ import each other, directly or by a detour: neither two
//! files, nor two sibling modules through the files inside them.

use std::path::{Path, PathBuf};

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    out.sort();
    out
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Lines of `file` that are code (not comments), with their numbers.
fn code_lines(file: &Path) -> Vec<(usize, String)> {
    std::fs::read_to_string(file)
        .unwrap()
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim_start().starts_with("//"))
        .map(|(i, l)| (i + 1, l.to_string()))
        .collect()
}

#[test]
fn the_admin_command_never_uses_the_login_flow_or_the_pam_glue() {
    let mut found = Vec::new();
    for file in rust_files(&src().join("cli")) {
        for (n, line) in code_lines(&file) {
            if line.contains("crate::auth") || line.contains("crate::pam") || line.contains("super::super::auth") {
                found.push(format!("{}:{n}: {}", file.display(), line.trim()));
            }
        }
    }
    assert!(found.is_empty(), "src/cli/ must not import the login flow or the PAM glue:\n{}", found.join("\n"));
}

#[test]
fn unsafe_code_is_denied_for_the_crate_and_allowed_only_in_src_pam() {
    let manifest = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml")).unwrap();
    assert!(manifest.contains("unsafe_code = \"deny\""), "Cargo.toml [lints.rust] must deny unsafe_code");
    let mut found = Vec::new();
    for file in rust_files(&src()) {
        if file.starts_with(src().join("pam")) {
            continue;
        }
        for (n, line) in code_lines(&file) {
            if line.contains("allow(unsafe_code)") || line.contains("unsafe {") || line.contains("unsafe fn") {
                found.push(format!("{}:{n}: {}", file.display(), line.trim()));
            }
        }
    }
    assert!(found.is_empty(), "unsafe outside src/pam/:\n{}", found.join("\n"));
}

/// A module of the crate as its path from the root (`["auth", "verify"]`);
/// the root (`lib.rs`) is the empty path.
type Module = Vec<String>;

/// The module a file under src/ is: `a/b.rs` and `a/b/mod.rs` are both `a::b`.
fn module_of(file: &Path) -> Module {
    let rel = file.strip_prefix(src()).unwrap().with_extension("");
    let mut parts: Module = rel.iter().map(|p| p.to_string_lossy().into_owned()).collect();
    if matches!(parts.last().map(String::as_str), Some("mod" | "lib")) {
        parts.pop();
    }
    parts
}

fn module_name(m: &[String]) -> String {
    if m.is_empty() { "crate".to_string() } else { m.join("::") }
}

/// `text` with comments and string and character literals blanked out (line
/// breaks kept), so that what is left is code.
fn blank_comments_and_literals(text: &str) -> String {
    let c: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let blank = |out: &mut String, s: &[char]| out.extend(s.iter().map(|&ch| if ch == '\n' { '\n' } else { ' ' }));
    let ident = |ch: char| ch.is_alphanumeric() || ch == '_';
    let mut i = 0;
    while i < c.len() {
        let start = i;
        if c[i] == '/' && c.get(i + 1) == Some(&'/') {
            while i < c.len() && c[i] != '\n' {
                i += 1;
            }
        } else if c[i] == '/' && c.get(i + 1) == Some(&'*') {
            let mut depth = 0;
            while i < c.len() {
                if c[i] == '/' && c.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if c[i] == '*' && c.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
        } else if c[i] == 'r' && (i == 0 || !ident(c[i - 1])) && matches!(c.get(i + 1), Some('"' | '#')) {
            // A raw string: r"…", r#"…"#, … (or an identifier that starts with r#).
            let mut j = i + 1;
            while c.get(j) == Some(&'#') {
                j += 1;
            }
            if c.get(j) != Some(&'"') {
                out.push(c[i]);
                i += 1;
                continue;
            }
            let hashes = j - i - 1;
            j += 1;
            while j < c.len() && !(c[j] == '"' && (1..=hashes).all(|k| c.get(j + k) == Some(&'#'))) {
                j += 1;
            }
            i = (j + 1 + hashes).min(c.len());
        } else if c[i] == '"' {
            i += 1;
            while i < c.len() && c[i] != '"' {
                i += if c[i] == '\\' { 2 } else { 1 };
            }
            i = (i + 1).min(c.len());
        } else if c[i] == '\'' && c.get(i + 1) == Some(&'\\') {
            i += 2;
            while i < c.len() && c[i] != '\'' {
                i += 1;
            }
            i = (i + 1).min(c.len());
        } else if c[i] == '\'' && c.get(i + 2) == Some(&'\'') {
            i += 3;
        } else {
            // Code, or the quote of a lifetime.
            out.push(c[i]);
            i += 1;
            continue;
        }
        blank(&mut out, &c[start..i]);
    }
    out
}

/// `code` (already without comments and literals) without the items marked
/// `#[cfg(test)]`: from the attribute to the item's `;` or the `}` that closes it.
fn without_test_items(code: &str) -> String {
    const MARK: &str = "#[cfg(test)]";
    let mut out = code.to_string();
    let mut from = 0;
    while let Some(at) = out[from..].find(MARK).map(|p| p + from) {
        let bytes = out.as_bytes();
        let mut end = at + MARK.len();
        let mut depth = 0usize;
        while end < bytes.len() {
            match bytes[end] {
                b';' if depth == 0 => break,
                b'{' => depth += 1,
                b'}' => {
                    depth -= 1;
                    if depth == 0 {
                        break;
                    }
                }
                _ => {}
            }
            end += 1;
        }
        let end = (end + 1).min(out.len());
        let blanked: String = out[at..end].chars().map(|ch| if ch == '\n' { '\n' } else { ' ' }).collect();
        out.replace_range(at..end, &blanked);
        from = end;
    }
    out
}

/// Identifiers and the punctuation that paths are made of (`::`, `{`, `}`, `,`, `*`).
fn path_tokens(code: &str) -> Vec<String> {
    let c: Vec<char> = code.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < c.len() {
        if c[i].is_alphanumeric() || c[i] == '_' {
            let start = i;
            while i < c.len() && (c[i].is_alphanumeric() || c[i] == '_') {
                i += 1;
            }
            tokens.push(c[start..i].iter().collect());
        } else if c[i] == ':' && c.get(i + 1) == Some(&':') {
            tokens.push("::".into());
            i += 2;
        } else {
            if !c[i].is_whitespace() {
                tokens.push(c[i].to_string());
            }
            i += 1;
        }
    }
    tokens
}

/// The paths of one use tree (or a plain path) starting at `tokens[*i]`
/// (just after a `::`), each with `prefix` in front; `*i` ends after it.
fn use_tree(tokens: &[String], i: &mut usize, prefix: &Module, out: &mut Vec<Module>) {
    let mut path = prefix.clone();
    loop {
        match tokens.get(*i).map(String::as_str) {
            Some("{") => {
                *i += 1;
                while *i < tokens.len() && tokens[*i] != "}" {
                    use_tree(tokens, i, &path, out);
                    if tokens.get(*i).map(String::as_str) == Some(",") {
                        *i += 1;
                    } else if tokens.get(*i).map(String::as_str) != Some("}") {
                        // Not a use tree after all (e.g. a struct literal): stop here.
                        break;
                    }
                }
                *i += 1;
                out.push(path);
                return;
            }
            Some("self") => *i += 1,
            Some(t) if t.chars().all(|ch| ch.is_alphanumeric() || ch == '_') => {
                path.push(t.to_string());
                *i += 1;
            }
            _ => {
                out.push(path);
                return;
            }
        }
        if tokens.get(*i).map(String::as_str) == Some("::") {
            *i += 1;
        } else {
            if tokens.get(*i).map(String::as_str) == Some("as") {
                *i += 2;
            }
            out.push(path);
            return;
        }
    }
}

/// Every path that `code`, the code of module `module`, names through
/// `crate::…` or `super::…`, made absolute.
fn named_paths(code: &str, module: &Module) -> Vec<Module> {
    let tokens = path_tokens(code);
    let mut out = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        let t = tokens[i].as_str();
        let after_sep = i > 0 && tokens[i - 1] == "::";
        if (t == "crate" || t == "super") && !after_sep && tokens.get(i + 1).map(String::as_str) == Some("::") {
            let mut base = if t == "crate" { Vec::new() } else { module[..module.len().saturating_sub(1)].to_vec() };
            i += 2;
            while tokens.get(i).map(String::as_str) == Some("super")
                && tokens.get(i + 1).map(String::as_str) == Some("::")
            {
                base.pop();
                i += 2;
            }
            use_tree(&tokens, &mut i, &base, &mut out);
        } else {
            i += 1;
        }
    }
    out
}

/// The modules of src/ (a file each; not src/bin/, not the test-only ones)
/// and, for each, the modules its code names (`auth::verify` naming
/// `crate::store::tally::Tally` has the edge `auth::verify -> store::tally`).
/// A module naming its own parent or child (`super::X` in a child, `child::X`
/// in a parent) is how Rust modules are built and is no edge; siblings and
/// unrelated modules are.
fn module_graph() -> std::collections::BTreeMap<String, std::collections::BTreeSet<String>> {
    let files: Vec<PathBuf> = rust_files(&src()).into_iter().filter(|f| !f.starts_with(src().join("bin"))).collect();
    let code: Vec<(Module, String)> = files
        .iter()
        .map(|f| (module_of(f), blank_comments_and_literals(&std::fs::read_to_string(f).unwrap())))
        .collect();
    // Modules declared `#[cfg(test)] mod name;` (and everything below them) are tests.
    let mut test_only: Vec<Module> = Vec::new();
    for (module, text) in &code {
        let tokens = path_tokens(text);
        for w in tokens.windows(9) {
            let attr = ["#", "[", "cfg", "(", "test", ")", "]"];
            if w[..7].iter().zip(attr).all(|(a, b)| a == b) && w[7] == "mod" {
                test_only.push([module.clone(), vec![w[8].clone()]].concat());
            }
        }
    }
    let is_test = |m: &Module| test_only.iter().any(|t| m.starts_with(t));
    let modules: Vec<&Module> = code.iter().map(|(m, _)| m).filter(|m| !is_test(m)).collect();
    let mut graph = std::collections::BTreeMap::new();
    for (from, text) in &code {
        if is_test(from) {
            continue;
        }
        graph.entry(module_name(from)).or_insert_with(std::collections::BTreeSet::new);
        for path in named_paths(&without_test_items(text), from) {
            // The longest prefix of the path that is a module.
            let Some(to) = modules.iter().filter(|m| path.starts_with(m)).max_by_key(|m| m.len()) else { continue };
            if from.starts_with(to) || to.starts_with(from) {
                continue;
            }
            graph.entry(module_name(from)).or_default().insert(module_name(to));
        }
    }
    graph
}

/// The strongly connected components of `graph` with more than one module (Tarjan).
fn cycles_of(graph: &std::collections::BTreeMap<String, std::collections::BTreeSet<String>>) -> Vec<Vec<String>> {
    struct Walk<'a> {
        graph: &'a std::collections::BTreeMap<String, std::collections::BTreeSet<String>>,
        index: std::collections::HashMap<&'a str, (usize, usize)>,
        stack: Vec<&'a str>,
        found: Vec<Vec<String>>,
    }
    fn visit<'a>(w: &mut Walk<'a>, v: &'a str) {
        let n = w.index.len();
        w.index.insert(v, (n, n));
        w.stack.push(v);
        for to in w.graph.get(v).into_iter().flatten() {
            match w.index.get(to.as_str()).copied() {
                None => {
                    visit(w, to);
                    let low = w.index[to.as_str()].1.min(w.index[v].1);
                    w.index.get_mut(v).unwrap().1 = low;
                }
                Some((i, _)) if w.stack.contains(&to.as_str()) => {
                    let low = i.min(w.index[v].1);
                    w.index.get_mut(v).unwrap().1 = low;
                }
                Some(_) => {}
            }
        }
        if w.index[v].0 == w.index[v].1 {
            let mut component = Vec::new();
            while let Some(m) = w.stack.pop() {
                component.push(m.to_string());
                if m == v {
                    break;
                }
            }
            if component.len() > 1 {
                component.sort();
                w.found.push(component);
            }
        }
    }
    let mut w = Walk { graph, index: Default::default(), stack: Vec::new(), found: Vec::new() };
    for v in graph.keys() {
        if !w.index.contains_key(v.as_str()) {
            visit(&mut w, v);
        }
    }
    w.found
}

/// A shortest way from `start` back to itself in `graph`, as `a -> b -> a`.
fn shortest_cycle(
    graph: &std::collections::BTreeMap<String, std::collections::BTreeSet<String>>,
    start: &str,
) -> String {
    let mut came_from: std::collections::HashMap<&str, &str> = Default::default();
    let mut queue = std::collections::VecDeque::from([start]);
    while let Some(v) = queue.pop_front() {
        for to in graph.get(v).into_iter().flatten() {
            if to == start {
                let mut way = vec![start];
                let mut at = v;
                while at != start {
                    way.push(at);
                    at = came_from[at];
                }
                way.push(start);
                way.reverse();
                return way.join(" -> ");
            }
            if !came_from.contains_key(to.as_str()) {
                came_from.insert(to, v);
                queue.push_back(to);
            }
        }
    }
    String::new()
}

/// Each edge `a -> b` of `graph` lifted to the two sibling modules under the
/// nearest module that holds both: `config -> store::ldap::config` becomes
/// `config -> store` at the root, `store::files -> store::ldap::error` becomes
/// `files -> ldap` within `store`. For each such holder (by name), the graph of
/// its children, and for each lifted edge the first module edge behind it.
#[allow(clippy::type_complexity)]
fn lifted_graphs(
    graph: &std::collections::BTreeMap<String, std::collections::BTreeSet<String>>,
) -> std::collections::BTreeMap<
    String,
    (
        std::collections::BTreeMap<String, std::collections::BTreeSet<String>>,
        std::collections::BTreeMap<(String, String), String>,
    ),
> {
    let path = |name: &str| -> Module {
        if name == "crate" { Vec::new() } else { name.split("::").map(String::from).collect() }
    };
    let mut out: std::collections::BTreeMap<
        String,
        (std::collections::BTreeMap<_, _>, std::collections::BTreeMap<_, _>),
    > = Default::default();
    for (from, tos) in graph {
        for to in tos {
            let (a, b) = (path(from), path(to));
            let common = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
            // One inside the other (parent and child) is no edge; module_graph leaves none.
            let (Some(x), Some(y)) = (a.get(common), b.get(common)) else { continue };
            let (children, witness) = out.entry(module_name(&a[..common])).or_default();
            children.entry(x.clone()).or_insert_with(std::collections::BTreeSet::new).insert(y.clone());
            children.entry(y.clone()).or_default();
            witness.entry((x.clone(), y.clone())).or_insert_with(|| format!("{from} -> {to}"));
        }
    }
    out
}

/// No two modules of src/ import each other, directly or by a detour: neither
/// two files, nor two sibling modules through anything inside them
/// (`config` naming `store::ldap::config` while `store` names `config` is a
/// cycle of `config` and `store`, though no two files name each other).
#[test]
fn no_two_modules_import_each_other_even_by_a_detour() {
    let graph = module_graph();
    assert!(graph.contains_key("auth") && graph["auth"].contains("store"), "the graph is not read right: {graph:?}");
    let mut cycles = Vec::new();
    for component in cycles_of(&graph) {
        for m in &component {
            let cycle = shortest_cycle(&graph, m);
            if !cycles.contains(&cycle) {
                cycles.push(cycle);
            }
        }
    }
    assert!(cycles.is_empty(), "modules that import each other:\n{}", cycles.join("\n"));

    let lifted = lifted_graphs(&graph);
    assert!(
        lifted.get("crate").is_some_and(|(g, _)| g.get("auth").is_some_and(|to| to.contains("store"))),
        "the lifted graph is not read right: {lifted:?}"
    );
    let mut found = Vec::new();
    for (holder, (children, witness)) in &lifted {
        for component in cycles_of(children) {
            // The shortest way round the component, with the module edge behind each step.
            let cycle = component
                .iter()
                .map(|m| shortest_cycle(children, m))
                .min_by_key(|c| c.matches(" -> ").count())
                .unwrap_or_default();
            let steps: Vec<&str> = cycle.split(" -> ").collect();
            let why: Vec<&str> =
                steps.windows(2).map(|w| witness[&(w[0].to_string(), w[1].to_string())].as_str()).collect();
            found.push(format!(
                "within {holder}: {} import each other: {cycle} ({})",
                component.join(", "),
                why.join(", ")
            ));
        }
    }
    assert!(found.is_empty(), "sibling modules that import each other through their submodules:\n{}", found.join("\n"));
}
