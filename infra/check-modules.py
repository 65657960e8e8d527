"""The library crate's top-level modules import each other in one direction only: no circles.

Why: a circle between two modules of `seclog` (say a use case and the adapter that implements
its ports) means neither can be read, changed or tested without the other, and the layering of
docs/design/overview.md (core <- use cases with their ports <- adapters and edge) erodes one
convenient `use` at a time. This check makes the rule mechanical.

It reads every `.rs` file under shared/src, drops comments (doc links do not count), string and
char literals, and collects the paths that name another module of the crate: `use crate::x...`
(braced groups included: `use crate::{x, y::z}`) and `crate::x::...` anywhere in code, test
code included, `super::` paths that climb out of a top-level module, and names the crate root
re-exports (`crate::ApiError` is a use of `error`). Each file belongs to
the top-level module of its first path component (`shared/src/store/dynamodb/log.rs` is
`store`; `lib.rs` is the crate root and is left out). The edges form a graph; any cycle fails
the check: for each tangle of modules that reach each other, the shortest circle through
each of its edges is printed, with a file and line per edge. Standard library only.

It reads text, not the compiler's resolution: `super::` is counted from the file's own module,
so inside an inline `mod` (say `mod tests`) a `super::x` that stays in the module can read as a
use of a top-level module named `x` (an extra edge, never a missed one); a `#[path]` attribute
or a macro that builds paths would go unseen (none is used here).

    python3 infra/check-modules.py                  # shared/src; exit 1 naming each circle
    python3 infra/check-modules.py --graph          # also list every reference, edge by edge
    python3 infra/check-modules.py DIR...           # other crates' src (infra/coldstart/src)
    python3 infra/check-modules.py --self-test      # the checker on a crate with a circle
"""

import os
import re
import sys

IDENT = r"[A-Za-z_][A-Za-z0-9_]*"
CRATE_PATH = re.compile(r"(?<![A-Za-z0-9_:])crate\s*::\s*(\{|" + IDENT + ")")
SUPER_PATH = re.compile(r"(?<![A-Za-z0-9_:])((?:super\s*::\s*)+)(" + IDENT + ")")
RAW_STRING = re.compile(r'(?<![A-Za-z0-9_])b?r(#*)"')
CHAR_LITERAL = re.compile(r"'(\\.[^']*|[^\\'])'")
ROOT_REEXPORT = re.compile(r"pub\s+use\s+(?:self::|crate::)?(" + IDENT + r")\s*::\s*(\{[^}]*\}|[^;]+);")


def strip_comments_and_literals(text):
    """The code of a Rust file with comments, strings and char literals blanked out; newlines
    kept so that offsets still map to the right lines."""
    out, i, n = [], 0, len(text)

    def blank(s):
        return re.sub(r"[^\n]", " ", s)

    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(blank(text[i:j]))
            i = j
        elif text.startswith("/*", i):
            depth, j = 1, i + 2
            while j < n and depth:
                if text.startswith("/*", j):
                    depth, j = depth + 1, j + 2
                elif text.startswith("*/", j):
                    depth, j = depth - 1, j + 2
                else:
                    j += 1
            out.append(blank(text[i:j]))
            i = j
        elif raw := RAW_STRING.match(text, i):
            end = text.find('"' + raw.group(1), raw.end())
            j = n if end < 0 else end + 1 + len(raw.group(1))
            out.append(blank(text[i:j]))
            i = j
        elif c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            out.append(blank(text[i : j + 1]))
            i = j + 1
        elif c == "'" and (lit := CHAR_LITERAL.match(text, i)):
            out.append(blank(lit.group(0)))
            i = lit.end()
        else:
            out.append(c)
            i += 1
    return "".join(out)


def brace_group(code, start):
    """The text of the `{...}` group opening at `start` (nested braces included)."""
    depth = 0
    for j in range(start, len(code)):
        if code[j] == "{":
            depth += 1
        elif code[j] == "}":
            depth -= 1
            if depth == 0:
                return code[start + 1 : j]
    return code[start + 1 :]


def top_level_names(group):
    """The first component of each path of a `use` group: `x, y::z, self` -> x, y, self."""
    names, depth, item = [], 0, ""
    for c in group + ",":
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
        if c == "," and depth == 0:
            head = re.match(r"\s*(" + IDENT + ")", item)
            if head:
                names.append(head.group(1))
            item = ""
        else:
            item += c
    return names


def module_of(relative):
    """The top-level module a file of src belongs to; None for the crate root."""
    parts = relative.split(os.sep)
    if len(parts) == 1:
        stem = parts[0][:-3]
        return None if stem in ("lib", "main") else stem
    return parts[0]


def depth_in_module(relative):
    """How many `super::` a file's own module needs to reach its top-level module's parent
    (the crate root): `store/mod.rs` 1, `store/dynamodb/log.rs` 3, `config.rs` 1."""
    parts = relative.split(os.sep)
    stem = parts[-1][:-3]
    levels = len(parts) if stem != "mod" else len(parts) - 1
    return levels


def root_reexports(src, modules):
    """The names the crate root re-exports from its modules (`pub use error::{ApiError, ...};`
    in lib.rs), each to the module it comes from: `crate::ApiError` is a use of `error`."""
    owners = {}
    for root_file in ("lib.rs", "main.rs"):
        path = os.path.join(src, root_file)
        if not os.path.exists(path):
            continue
        with open(path, encoding="utf-8") as f:
            code = strip_comments_and_literals(f.read())
        for match in ROOT_REEXPORT.finditer(code):
            module, rest = match.group(1), match.group(2)
            if module not in modules:
                continue
            group = rest[1:-1] if rest.startswith("{") else rest
            for item in group.split(","):
                name = item.strip().split(" as ")[-1].split("::")[-1].strip()
                if re.fullmatch(IDENT, name):
                    owners[name] = module
    return owners


def references(src):
    """Yield (from module, to module, file, line) for each reference between top-level modules."""
    modules = set()
    for name in os.listdir(src):
        path = os.path.join(src, name)
        if os.path.isdir(path):
            modules.add(name)
        elif name.endswith(".rs"):
            modules.add(name[:-3])
    owners = root_reexports(src, modules)
    for root, _, files in os.walk(src):
        for name in sorted(files):
            if not name.endswith(".rs"):
                continue
            path = os.path.join(root, name)
            relative = os.path.relpath(path, src)
            source = module_of(relative)
            if source is None:
                continue
            with open(path, encoding="utf-8") as f:
                code = strip_comments_and_literals(f.read())

            def found(target, offset):
                target = owners.get(target, target)
                if target in modules and target != source:
                    line = code.count("\n", 0, offset) + 1
                    yield source, target, relative, line

            for match in CRATE_PATH.finditer(code):
                head = match.group(1)
                if head == "{":
                    for target in top_level_names(brace_group(code, match.start(1))):
                        yield from found(target, match.start())
                else:
                    yield from found(head, match.start())
            levels = depth_in_module(relative)
            for match in SUPER_PATH.finditer(code):
                if match.group(1).count("super") >= levels:
                    yield from found(match.group(2), match.start())


def tangles(graph):
    """The strongly connected parts of the graph with more than one module (Tarjan): each is a
    set of modules that all reach each other, i.e. lie on circles."""
    index, low, stack, on_stack, parts = {}, {}, [], set(), []
    nodes = sorted(set(graph) | {t for ts in graph.values() for t in ts})

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            part = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                part.add(member)
                if member == node:
                    break
            if len(part) > 1:
                parts.append(part)

    for node in nodes:
        if node not in index:
            visit(node)
    return parts


def shortest_path(graph, start, goal, within):
    """The shortest path from start to goal through modules of `within` (breadth first)."""
    previous, frontier = {start: None}, [start]
    while frontier:
        following = []
        for node in frontier:
            for nxt in sorted(graph.get(node, ())):
                if nxt in within and nxt not in previous:
                    previous[nxt] = node
                    following.append(nxt)
        frontier = following
    path, node = [], goal
    while node is not None:
        path.append(node)
        node = previous[node]
    return path[::-1]


def circles(graph):
    """For each tangle, the shortest circle through each of its edges, each circle once: every
    edge that must be cut (or turned around) appears in one of them."""
    found = []
    for part in tangles(graph):
        seen = set()
        for source in sorted(part):
            for target in sorted(graph[source] & part):
                ring = [source] + shortest_path(graph, target, source, part)[:-1]
                turn = ring.index(min(ring))
                ring = tuple(ring[turn:] + ring[:turn])
                if ring not in seen:
                    seen.add(ring)
                    found.append(ring)
    return sorted(found, key=lambda c: (len(c), c))


def check(src, root, show_graph):
    """Prints the circles among the top-level modules of `src` (or that there are none); True
    when there are none."""
    shown = os.path.relpath(src, root) if src.startswith(root + os.sep) else src
    graph, where = {}, {}
    for source, target, relative, line in references(src):
        graph.setdefault(source, set()).add(target)
        where.setdefault((source, target), []).append(f"{os.path.join(shown, relative)}:{line}")
    if show_graph:
        for source, target in sorted(where):
            print(f"{source} -> {target}: {', '.join(where[(source, target)])}")
    found = circles(graph)
    if not found:
        edges = sum(len(t) for t in graph.values())
        print(f"check-modules: {shown}: {len(graph)} modules import others, {edges} edges, "
              "no circles")
        return True
    for ring in found:
        closed = list(ring) + [ring[0]]
        print(f"check-modules: circle {' -> '.join(closed)}")
        for a, b in zip(closed, closed[1:]):
            refs = where[(a, b)]
            more = f" (and {len(refs) - 1} more)" if len(refs) > 1 else ""
            print(f"    {a} -> {b}: {refs[0]}{more}")
    print(f"check-modules: {shown}: {len(found)} circle(s) among its top-level modules "
          "(--graph lists every reference)")
    return False


def self_test():
    """The checker on a small crate written on the spot: it must name the circle made by code
    (test code included), and ignore comments, strings and paths inside a module."""
    import tempfile

    files = {
        "lib.rs": "pub mod a;\npub mod b;\npub mod c;\npub use c::{C as Renamed, X};\n",
        "a.rs": "//! See [`crate::c::X`] and `use crate::c;`\nuse crate::b::B;\n"
        "const S: &str = \"crate::c::X\";\nconst R: &str = r#\"crate::c::\"#;\n",
        "b/mod.rs": "mod inner;\npub struct B;\n/* use crate::c; */\n",
        "b/inner.rs": "use super::B;\nuse crate::b::B as Same;\n"
        "#[cfg(test)]\nmod tests { use crate::{c::C, a}; }\n",
        "c.rs": "pub struct C;\npub struct X;\nfn f() -> crate::Renamed { crate::c::C }\n",
    }
    with tempfile.TemporaryDirectory() as src:
        for name, text in files.items():
            os.makedirs(os.path.dirname(os.path.join(src, name)), exist_ok=True)
            with open(os.path.join(src, name), "w", encoding="utf-8") as f:
                f.write(text)
        graph = {}
        for source, target, _, _ in references(src):
            graph.setdefault(source, set()).add(target)
        assert graph == {"a": {"b"}, "b": {"a", "c"}}, graph
        assert circles(graph) == [("a", "b")], circles(graph)
        os.remove(os.path.join(src, "b", "inner.rs"))
        with open(os.path.join(src, "b", "mod.rs"), "w", encoding="utf-8") as f:
            f.write("pub struct B;\n")
        with open(os.path.join(src, "a.rs"), "a", encoding="utf-8") as f:
            f.write("fn g(x: crate::X) {}\n")
        graph = {}
        for source, target, _, _ in references(src):
            graph.setdefault(source, set()).add(target)
        assert graph == {"a": {"b", "c"}} and circles(graph) == [], graph
    print("check-modules: self-test passed")


def main(argv):
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    if "--self-test" in argv:
        self_test()
        return 0
    dirs = [os.path.abspath(a) for a in argv if not a.startswith("--")]
    dirs = dirs or [os.path.join(root, "shared", "src")]
    results = [check(src, root, "--graph" in argv) for src in dirs]
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
