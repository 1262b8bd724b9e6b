#!/usr/bin/env bash
# Checks deploy/prometheus and deploy/grafana offline: the alert rules load (promtool check rules)
# and pass their unit tests (promtool test rules); every dashboard query and alert expression parses
# (promtool) and names only metrics, and labels, that src/metrics/ exports. Needs promtool
# (Debian's prometheus package; scripts/setup-test-env.sh installs it).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v promtool >/dev/null 2>&1; then
  echo "check-observability: promtool is missing: run scripts/setup-test-env.sh" >&2
  exit 1
fi
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT

promtool check rules deploy/prometheus/alerts.yaml
promtool test rules deploy/prometheus/alerts_test.yaml

python3 - src/metrics deploy/grafana/dialect-proxy.json deploy/prometheus/alerts.yaml \
  "$OUT/dashboard-rules.yaml" <<'PY'
import json
import pathlib
import re
import sys

metrics_rs, dashboard, alerts, rules_out = sys.argv[1:]
# Every file of the metrics module, read as one.
source = "".join(p.read_text() for p in sorted(pathlib.Path(metrics_rs).rglob("*.rs")))
problems = []

# What the binary exports: name -> label names (histograms as _bucket/_sum/_count).
exported = {}
for kind, name, labels in re.findall(
        r'register_(\w+)!\(\s*"(dialect_proxy_\w+)",\s*"[^"]*"(?:,\s*&\[([^\]]*)\])?', source):
    labels = set(re.findall(r'"(\w+)"', labels or ""))
    if "histogram" in kind:
        exported[name + "_bucket"] = labels | {"le"}
        exported[name + "_sum"] = labels
        exported[name + "_count"] = labels
    else:
        exported[name] = labels
if len(exported) < 20:
    sys.exit(f"{metrics_rs}: only {len(exported)} metrics found: has the registration style changed?")
TARGET = {"instance", "job"}  # added by Prometheus at scrape time

WORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or", "unless",
         "offset", "inf", "nan"}
LISTS = r"\b(by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)"


def check_expr(where, expr):
    """Metric names exported, matcher and grouping labels among theirs."""
    names = set()
    for name, matchers in re.findall(r"\b([a-zA-Z_:][\w:]*)\s*\{([^}]*)\}", expr):
        names.add(name)
        for label in re.findall(r"(\w+)\s*(?:=~|!~|!=|=)", re.sub(r'"(?:[^"\\]|\\.)*"', '""', matchers)):
            if name in exported and label not in exported[name] | TARGET:
                problems.append(f"{where}: {name} has no label {label!r}")
    # Bare identifiers left once strings, matchers, ranges and label lists are gone: metric names,
    # unless a call or a keyword.
    bare = re.sub(r'"(?:[^"\\]|\\.)*"|\{[^}]*\}|\[[^\]]*\]', " ", expr)
    bare = re.sub(LISTS, " ", bare)
    for ident, call in re.findall(r"\b([a-zA-Z_:][\w:]*)\b(\s*\()?", bare):
        if not call and ident.lower() not in WORDS:
            names.add(ident)
    if not names:
        problems.append(f"{where}: names no metric")
    for name in sorted(names):
        if name not in exported:
            problems.append(f"{where}: {name} is not exported by the binary")
    known = set().union(*(exported.get(n, set()) for n in names)) | TARGET
    for _, labels in re.findall(LISTS, expr):
        for label in re.findall(r"\w+", labels):
            if label not in known:
                problems.append(f"{where}: grouping label {label!r} is on none of {sorted(names)}")


# The dashboard: a Prometheus datasource variable that every panel and query uses.
d = json.load(open(dashboard))
variables = {v["name"]: v for v in d["templating"]["list"]}
ds = variables.get("datasource", {})
if ds.get("type") != "datasource" or ds.get("query") != "prometheus":
    problems.append(f"{dashboard}: no datasource variable of type prometheus")
panels = [p for top in d["panels"] for p in [top] + top.get("panels", [])]
ids = [p["id"] for p in panels]
if len(ids) != len(set(ids)):
    problems.append(f"{dashboard}: panel ids repeat")
# Grafana's variables, as the e2e test and Grafana's defaults resolve them.
SUBST = {"$__rate_interval": "5m", "$instance": ".*"}
rules = []
for p in panels:
    if p["type"] == "row":
        continue
    where = f"{dashboard}: panel {p['id']} {p['title']!r}"
    if p.get("datasource", {}).get("uid") != "${datasource}" or not p.get("targets"):
        problems.append(f"{where}: no targets on the ${{datasource}} variable")
        continue
    for t in p["targets"]:
        if t.get("datasource", {}).get("uid") != "${datasource}":
            problems.append(f"{where} {t['refId']}: not on the ${{datasource}} variable")
        expr = t["expr"]
        for k, v in SUBST.items():
            expr = expr.replace(k, v)
        if "$" in expr:
            problems.append(f"{where} {t['refId']}: unknown variable in {expr!r}")
        check_expr(f"{where} {t['refId']}", expr)
        rules.append({"record": f"dashboard_panel_{p['id']}_{t['refId']}", "expr": expr})
for v in variables.values():
    q = v.get("definition", "")
    for name in re.findall(r"\bdialect_proxy_\w+", q):
        if name not in exported:
            problems.append(f"{dashboard}: variable {v['name']}: {name} is not exported by the binary")
# JSON is YAML: promtool parses every query as a recording rule's expression.
json.dump({"groups": [{"name": "dashboard", "rules": rules}]}, open(rules_out, "w"), indent=1)

# The alerts: each `expr: |` block, and every metric named anywhere (annotations too).
text = open(alerts).read()
blocks = re.findall(r"(?m)^(\s*)- alert: (\S+)\n(?:\1 .*\n)*?\1  expr: \|\n((?:\1    .*\n)+)", text)
for _, alert, expr in blocks:
    check_expr(f"{alerts}: {alert}", expr)
if len(blocks) != len(re.findall(r"(?m)^\s*- alert:", text)):
    problems.append(f"{alerts}: write every expr as a block (expr: |) so that it is checked here")
for name in sorted(set(re.findall(r"\bdialect_proxy_\w+", text))):
    if name not in exported:
        problems.append(f"{alerts}: {name} is not exported by the binary")

for p in problems:
    print(p, file=sys.stderr)
if problems:
    sys.exit(1)
print(f"{dashboard}: {len(rules)} queries, {alerts}: {len(blocks)} alerts: only exported metrics and labels")
PY
promtool check rules "$OUT/dashboard-rules.yaml" >/dev/null
echo "deploy/grafana/dialect-proxy.json: every query parses (promtool)"
