#!/usr/bin/env python3
"""The code's shape, checked: no import circle between modules (top-level modules and each file under
src/dialect/), the transport (src/upstream/) importing nothing from planning, dialects or answers, dialect
files importing nothing from addressing or planning, no source file over 400 lines (tests apart), and no
type name declared twice. Exits 1 naming what is wrong."""
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1] / "src"
# What each layer may not import.
FORBIDDEN = {
    "upstream": {"request", "forward", "response", "outbound", "documents", "listing", "xml", "error",
                 "dialect", "addressing", "proxy"},
}
DIALECT_FORBIDDEN = {"addressing", "request", "forward", "response", "outbound", "upstream", "proxy"}


def module_of(path):
    parts = path.relative_to(ROOT).with_suffix("").parts
    if parts[-1] == "mod":
        parts = parts[:-1]
    if parts[0] == "dialect" and len(parts) > 1:
        return "dialect::" + parts[1]
    return parts[0]


def is_test(path):
    return path.name.startswith("tests") or "tests" in path.parts or path.name.endswith("_tests.rs")


def code_of(path):
    """The file's text without its test module."""
    return path.read_text().split("#[cfg(test)]\nmod tests")[0]


def main():
    problems = []
    edges = {}
    types = {}
    for p in sorted(ROOT.rglob("*.rs")):
        if is_test(p):
            continue
        text = code_of(p)
        lines = p.read_text().count("\n")
        if lines > 400:
            problems.append(f"{p.relative_to(ROOT.parent)}: {lines} lines (over 400)")
        if p.name in ("main.rs", "lib.rs"):
            continue
        m = module_of(p)
        for top, sub in re.findall(r"crate::([a-z_]+)(?:::([a-z_]+))?", text):
            target = top
            if top == "dialect" and sub and ((ROOT / "dialect" / f"{sub}.rs").exists()
                                             or (ROOT / "dialect" / sub).is_dir()):
                target = f"dialect::{sub}"
            if target != m:
                edges.setdefault(m, set()).add(target)
        if m.startswith("dialect::"):
            # Siblings named through `super::` (alone or in braces).
            names = re.findall(r"super::([a-z_]+)", text)
            for group in re.findall(r"super::\{([^}]*)\}", text):
                names += re.findall(r"\b([a-z_]+)\b", group)
            for n in names:
                if (ROOT / "dialect" / f"{n}.rs").exists() or (ROOT / "dialect" / n).is_dir():
                    if f"dialect::{n}" != m:
                        edges.setdefault(m, set()).add(f"dialect::{n}")
        for kind, name in re.findall(r"^\s*(?:pub(?:\([a-z]+\))? )?(struct|enum|trait|type) ([A-Z]\w*)", text, re.M):
            types.setdefault(name, []).append(str(p.relative_to(ROOT.parent)))
    for m, targets in edges.items():
        bad = targets & FORBIDDEN.get(m, set())
        bad |= {t for t in targets if t.split("::")[0] in FORBIDDEN.get(m, set())}
        if m.startswith("dialect") or m == "dialect":
            bad |= targets & DIALECT_FORBIDDEN
        for t in sorted(bad):
            problems.append(f"{m} imports {t}")
    for name, where in types.items():
        if len(where) > 1:
            problems.append(f"type {name} declared in {', '.join(where)}")
    # Circles: strongly connected components of more than one module.
    index, low, stack, on, n = {}, {}, [], set(), [0]

    def visit(v):
        index[v] = low[v] = n[0]
        n[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                problems.append("import circle: " + " <-> ".join(sorted(group)))

    sys.setrecursionlimit(10_000)
    for v in list(edges):
        if v not in index:
            visit(v)
    for p in problems:
        print(p)
    if problems:
        sys.exit(1)
    print(f"shape: {len(edges)} modules, no import circle, layers one way, files within 400 lines")


if __name__ == "__main__":
    main()
