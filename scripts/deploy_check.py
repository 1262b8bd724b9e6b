#!/usr/bin/env python3
"""Semantic checks of a rendered kustomize overlay (what a schema cannot see), and the layout of
its mounted files for a local run.

  deploy_check.py check RENDERED.yaml            every reference resolves; exit 1 naming the object
  deploy_check.py layout RENDERED.yaml ROOT      the proxy's ConfigMap and Secret files under ROOT
  deploy_check.py probe ROOT PID [DEADLINE_S]    poll the probes `layout` wrote until all answer
"""
import base64
import ipaddress
import json
import os
import posixpath
import socket
import sys
import time
import tomllib
import urllib.error
import urllib.request

import yaml

WORKLOADS = ("Deployment", "StatefulSet", "DaemonSet")
# Served by src/metrics/health.rs (HealthApp) on [server] metrics, and nowhere else. Liveness must not
# be /readyz: that turns 503 while draining, and the kubelet would kill the pod mid-drain.
PROBE_PATHS = {"readinessProbe": ("/readyz",), "livenessProbe": ("/healthz",),
               "startupProbe": ("/healthz", "/readyz")}
# Config keys that name files besides the `*_file` ones.
FILE_KEYS = ("tls_cert", "tls_key")
# Files that are not secret and may come from a ConfigMap as well.
PUBLIC_FILE_KEYS = ("ca_file", "tls_cert")


class Broken(Exception):
    pass


def ident(o):
    return f"{o['kind']}/{o['metadata']['name']}"


def ns(o):
    return o["metadata"].get("namespace", "default")


def load(path):
    return [d for d in yaml.safe_load_all(open(path)) if d]


def matches(selector, labels):
    """A LabelSelector (matchLabels and matchExpressions) against a label map."""
    for k, v in (selector.get("matchLabels") or {}).items():
        if labels.get(k) != v:
            return False
    for e in selector.get("matchExpressions") or []:
        k, op, vals = e["key"], e["operator"], e.get("values") or []
        if op == "In" and labels.get(k) not in vals:
            return False
        if op == "NotIn" and labels.get(k) in vals:
            return False
        if op == "Exists" and k not in labels:
            return False
        if op == "DoesNotExist" and k in labels:
            return False
    return True


def empty(selector):
    return not (selector or {}).get("matchLabels") and not (selector or {}).get("matchExpressions")


def pod_labels(w):
    return w["spec"]["template"].get("metadata", {}).get("labels") or {}


def config_arg(c):
    """The path after --config in a container's command and args, or None."""
    argv = (c.get("command") or []) + (c.get("args") or [])
    for i, a in enumerate(argv):
        if a == "--config" and i + 1 < len(argv):
            return argv[i + 1]
        if a.startswith("--config="):
            return a.split("=", 1)[1]
    return None


class Rendering:
    def __init__(self, path):
        self.path = path
        self.docs = load(path)
        self.by = {(d["kind"], ns(d), d["metadata"]["name"]): d for d in self.docs}

    def kind(self, *kinds):
        return [d for d in self.docs if d["kind"] in kinds]

    def get(self, kind, namespace, name):
        return self.by.get((kind, namespace, name))

    def volume_files(self, w, vol):
        """{relative path: (object ident, key, value or None)} of a ConfigMap/Secret volume;
        value None when the Secret is not rendered (the operator creates it)."""
        if "configMap" in vol:
            kind, name, src = "ConfigMap", vol["configMap"]["name"], vol["configMap"]
        elif "secret" in vol:
            kind, name, src = "Secret", vol["secret"]["secretName"], vol["secret"]
        else:
            return None
        obj = self.get(kind, ns(w), name)
        if obj is None and kind == "ConfigMap":
            raise Broken(f"{ident(w)}: volume '{vol['name']}' names ConfigMap/{name}, "
                         "which is not in the rendering")
        if obj is None and not src.get("items"):
            raise Broken(f"{ident(w)}: volume '{vol['name']}' names Secret/{name}, which is not "
                         "in the rendering, and lists no items: its keys cannot be known")
        data = {}
        if obj is not None:
            for k, v in (obj.get("data") or {}).items():
                data[k] = base64.b64decode(v).decode() if kind == "Secret" else v
            data.update(obj.get("stringData") or {})
        items = src.get("items") or [{"key": k, "path": k} for k in data]
        files = {}
        for it in items:
            if obj is not None and it["key"] not in data:
                raise Broken(f"{ident(w)}: volume '{vol['name']}' projects key '{it['key']}', "
                             f"which {kind}/{name} does not have")
            files[it["path"]] = (f"{kind}/{name}", it["key"], data.get(it["key"]))
        return files

    def mounted(self, w, c, path):
        """(mount, volume, object ident, key, value) of the file at `path` in container c, or a
        Broken naming what is missing."""
        vols = {v["name"]: v for v in w["spec"]["template"]["spec"].get("volumes") or []}
        best = None
        for m in c.get("volumeMounts") or []:
            mp = m["mountPath"].rstrip("/")
            if path == mp or path.startswith(mp + "/"):
                if best is None or len(mp) > len(best["mountPath"].rstrip("/")):
                    best = m
        if best is None:
            raise Broken(f"{ident(w)} container '{c['name']}': {path} is on no mounted volume")
        vol = vols.get(best["name"])
        if vol is None:
            raise Broken(f"{ident(w)} container '{c['name']}': volumeMount '{best['name']}' "
                         "names no volume of the pod")
        files = self.volume_files(w, vol)
        if files is None:
            return best, vol, None, None, None
        rel = posixpath.relpath(path, best["mountPath"])
        if best.get("subPath"):
            rel = best["subPath"] if path == best["mountPath"] else None
        if rel not in files:
            raise Broken(f"{ident(w)} container '{c['name']}': {path} is in volume "
                         f"'{vol['name']}' mounted at {best['mountPath']}, which holds only "
                         f"{sorted(files)}")
        return (best, vol) + files[rel]


def refs(table, wanted, where=""):
    """(dotted key, value) of every string in the configuration whose key is wanted(key)."""
    out = []
    if isinstance(table, dict):
        for k, v in table.items():
            key = f"{where}.{k}" if where else k
            if isinstance(v, str) and wanted(k):
                out.append((key, v))
            else:
                out += refs(v, wanted, key)
    elif isinstance(table, list):
        for i, v in enumerate(table):
            out += refs(v, wanted, f"{where}[{i}]")
    return out


def file_refs(conf):
    return refs(conf, lambda k: k.endswith("_file") or k in FILE_KEYS)


def listeners(conf):
    """{port: (config key, host)} of every listener in [server]."""
    s = conf.get("server", {})
    out = {}
    for key, addrs in (("listen", s.get("listen", ["127.0.0.1:8080"])),
                       ("tls_listen", s.get("tls_listen", [])),
                       ("metrics", [s["metrics"]] if "metrics" in s else [])):
        for a in addrs:
            host, port = a.rsplit(":", 1)
            out[int(port)] = (key, host.strip("[]"))
    return out


def loopback(host):
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def container_port(c, port):
    """The containerPort number a probe or targetPort names (a name or a number), or None."""
    for p in c.get("ports") or []:
        if port in (p.get("name"), p["containerPort"]):
            return p["containerPort"]
    return None


def probe_target(where, c, kind, probe):
    """(port, path, from inside the container) a probe asks: an httpGet, or an exec of
    `dialect-proxy health` (the image has no curl)."""
    if "httpGet" in probe:
        get = probe["httpGet"]
        if get.get("scheme", "HTTP") != "HTTP":
            raise Broken(f"{where}: {kind} uses {get['scheme']}; the metrics listener is HTTP")
        n = container_port(c, get["port"])
        if n is None:
            raise Broken(f"{where}: {kind} port '{get['port']}' names no container port")
        return n, get.get("path", "/"), False
    argv = (probe.get("exec") or {}).get("command") or []
    if "health" in argv:
        opt = dict(zip(argv, argv[1:]))
        addr = opt.get("--addr", "127.0.0.1:9100")
        return int(addr.rsplit(":", 1)[1]), opt.get("--path", "/healthz"), True
    raise Broken(f"{where}: {kind} is neither an httpGet nor an exec of `dialect-proxy health`")


def proxies(r):
    """(workload, container, config path, parsed config, config ident) of each proxy container."""
    out = []
    for w in r.kind(*WORKLOADS):
        for c in w["spec"]["template"]["spec"]["containers"]:
            path = config_arg(c)
            if path is None:
                continue
            m, vol, obj, key, text = r.mounted(w, c, path)
            if obj is None or not obj.startswith("ConfigMap/"):
                raise Broken(f"{ident(w)} container '{c['name']}': --config {path} is not a "
                             "ConfigMap's file")
            try:
                conf = tomllib.loads(text)
            except tomllib.TOMLDecodeError as e:
                raise Broken(f"{obj} key {key}: not TOML: {e}")
            out.append((w, c, path, conf, f"{obj} key {key}"))
    return out


def say(line):
    print(f"  ok  {line}", flush=True)


def check(path):
    r = Rendering(path)
    workloads = r.kind(*WORKLOADS)
    for w in workloads:
        sel = w["spec"].get("selector") or {}
        if empty(sel) or not matches(sel, pod_labels(w)):
            raise Broken(f"{ident(w)}: spec.selector {sel} does not match its pod labels "
                         f"{pod_labels(w)}")
        say(f"{ident(w)}: selector matches its pod labels {pod_labels(w)}")
        spec = w["spec"]["template"]["spec"]
        vols = {v["name"] for v in spec.get("volumes") or []}
        for c in spec.get("initContainers", []) + spec["containers"]:
            for m in c.get("volumeMounts") or []:
                if m["name"] not in vols:
                    raise Broken(f"{ident(w)} container '{c['name']}': volumeMount "
                                 f"'{m['name']}' names no volume of the pod")
        for v in spec.get("volumes") or []:
            r.volume_files(w, v)

    found = proxies(r)
    if not found:
        raise Broken(f"{path}: no container runs with --config")
    for w, c, cpath, conf, src in found:
        where = f"{ident(w)} container '{c['name']}'"
        say(f"{where}: --config {cpath} is {src}")
        for m in c.get("volumeMounts") or []:
            if m.get("subPath"):
                raise Broken(f"{where}: volumeMount '{m['name']}' uses subPath, so a changed "
                             "ConfigMap or rotated Secret never reaches the file")
        ports = listeners(conf)
        for p in c.get("ports") or []:
            n = p["containerPort"]
            if n not in ports:
                raise Broken(f"{where}: port '{p.get('name', n)}' ({n}) is not a listener of "
                             f"{src} (listeners: {sorted(ports)})")
            if loopback(ports[n][1]):
                raise Broken(f"{where}: port '{p.get('name', n)}' ({n}) is server.{ports[n][0]} "
                             f"on {ports[n][1]}, which nothing outside the pod reaches")
        say(f"{where}: ports {[p['containerPort'] for p in c.get('ports') or []]} are "
            "listeners of the configuration, on addresses the pod IP reaches")
        metrics = conf.get("server", {}).get("metrics")
        for kind, want in PROBE_PATHS.items():
            probe = c.get(kind)
            if probe is None:
                if kind == "startupProbe":
                    continue
                raise Broken(f"{where}: no {kind}")
            n, ppath, inside = probe_target(where, c, kind, probe)
            if metrics is None or int(metrics.rsplit(":", 1)[1]) != n:
                raise Broken(f"{where}: {kind} port {n} is not server.metrics ({metrics}) of "
                             f"{src}: only that listener serves {' and '.join(want)}")
            if not inside and loopback(metrics.rsplit(":", 1)[0].strip("[]")):
                raise Broken(f"{where}: server.metrics {metrics} is loopback; the kubelet "
                             "probes the pod IP")
            if ppath not in want:
                raise Broken(f"{where}: {kind} asks {ppath}; it must ask {' or '.join(want)}")
            say(f"{where}: {kind} GET {ppath} on port {n} = server.metrics {metrics}")
        annot = w["spec"]["template"].get("metadata", {}).get("annotations") or {}
        if "prometheus.io/port" in annot and (
                metrics is None or annot["prometheus.io/port"] != metrics.rsplit(":", 1)[1]):
            raise Broken(f"{ident(w)}: annotation prometheus.io/port="
                         f"{annot['prometheus.io/port']} is not server.metrics ({metrics})")
        env = {e["name"] for e in c.get("env") or []}
        for key, var in refs(conf, lambda k: k.endswith("_env")):
            if var not in env and not c.get("envFrom"):
                raise Broken(f"{where}: {key} = {var}, which the container's env does not set")
            say(f"{where}: {key} = {var} is set in the container's env"
                + ("" if var in env else " (envFrom)"))
        for key, fpath in file_refs(conf):
            m, vol, obj, skey, _ = r.mounted(w, c, fpath)
            last = key.rsplit(".", 1)[-1]
            if obj is None or not (obj.startswith("Secret/") or (
                    last in PUBLIC_FILE_KEYS and obj.startswith("ConfigMap/"))):
                raise Broken(f"{where}: {key} = {fpath} is not a file of a mounted Secret")
            say(f"{where}: {key} = {fpath} is {obj} key {skey}")
        embedded = [b["embedded"] for b in conf.get("backends", []) if "embedded" in b]
        for e in embedded:
            m, vol, *_ = r.mounted(w, c, e.rstrip("/") + "/.probe")
            writable = {"emptyDir", "persistentVolumeClaim", "ephemeral"} & set(vol)
            if not writable or m.get("readOnly"):
                raise Broken(f"{where}: embedded store {e} is not on a writable volume")
            say(f"{where}: embedded store {e} is on writable volume '{vol['name']}'")

    for s in r.kind("Service"):
        if s["spec"].get("type") == "ExternalName":
            continue
        sel = s["spec"].get("selector") or {}
        if not sel:
            raise Broken(f"{ident(s)}: no spec.selector: it selects no pod")
        chosen = [w for w in workloads if ns(w) == ns(s) and matches({"matchLabels": sel},
                                                                     pod_labels(w))]
        if not chosen:
            raise Broken(f"{ident(s)}: selector {sel} matches the pods of no workload in "
                         "the rendering")
        for w in chosen:
            cs = w["spec"]["template"]["spec"]["containers"]
            for p in s["spec"].get("ports") or []:
                target = p.get("targetPort", p["port"])
                hits = [c for c in cs if container_port(c, target) is not None]
                if not hits:
                    raise Broken(f"{ident(s)}: port '{p.get('name', p['port'])}' targetPort "
                                 f"'{target}' names no container port of {ident(w)}")
                say(f"{ident(s)}: port {p['port']} -> {ident(w)} container "
                    f"'{hits[0]['name']}' port {container_port(hits[0], target)}")

    for h in r.kind("HorizontalPodAutoscaler"):
        ref = h["spec"]["scaleTargetRef"]
        w = r.get(ref["kind"], ns(h), ref["name"])
        if w is None or w["kind"] not in WORKLOADS:
            raise Broken(f"{ident(h)}: scaleTargetRef {ref['kind']}/{ref['name']} is not a "
                         "workload in the rendering")
        for m in h["spec"].get("metrics") or []:
            res = (m.get("resource") or {}).get("name")
            if m.get("type") == "Resource" and m["resource"]["target"]["type"] == "Utilization":
                for c in w["spec"]["template"]["spec"]["containers"]:
                    if res not in (c.get("resources") or {}).get("requests", {}):
                        raise Broken(f"{ident(h)}: scales on {res} utilization, but container "
                                     f"'{c['name']}' of {ident(w)} requests no {res}")
        say(f"{ident(h)}: scales {ident(w)}, whose selector matches its pods")

    for p in r.kind("PodDisruptionBudget"):
        sel = p["spec"].get("selector") or {}
        chosen = [w for w in workloads if ns(w) == ns(p) and matches(sel, pod_labels(w))]
        if empty(sel) or not chosen:
            raise Broken(f"{ident(p)}: selector {sel} matches the pods of no workload in "
                         "the rendering")
        say(f"{ident(p)}: selector matches the pods of "
            f"{', '.join(ident(w) for w in chosen)}")

    for n in r.kind("NetworkPolicy"):
        sel = n["spec"].get("podSelector") or {}
        chosen = [w for w in workloads if ns(w) == ns(n) and matches(sel, pod_labels(w))]
        if not chosen:
            raise Broken(f"{ident(n)}: podSelector {sel} matches the pods of no workload")
        for rule in n["spec"].get("ingress") or []:
            for p in rule.get("ports") or []:
                for w in chosen:
                    cs = w["spec"]["template"]["spec"]["containers"]
                    if "port" in p and not any(container_port(c, p["port"]) for c in cs):
                        raise Broken(f"{ident(n)}: ingress port '{p['port']}' names no "
                                     f"container port of {ident(w)}")
        say(f"{ident(n)}: selects {', '.join(ident(w) for w in chosen)}; its ports exist")


def free(port):
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def layout(path, root):
    """Writes, per proxy container, every ConfigMap/Secret file it mounts under
    ROOT/<workload>-<container>/<mountPath>, the configuration with its absolute paths moved
    under that root and its listeners on 127.0.0.1 (the manifest's port where free), the
    container's args (.args, one per line), its config path (.config) and the probes to make
    (.probes, JSON)."""
    r = Rendering(path)
    for w, c, cpath, conf, src in proxies(r):
        base = os.path.join(root, f"{w['metadata']['name']}-{c['name']}")
        vols = {v["name"]: v for v in w["spec"]["template"]["spec"].get("volumes") or []}
        moved, dummies = {}, {}
        for m in c.get("volumeMounts") or []:
            files = r.volume_files(w, vols[m["name"]]) or {}
            for rel, (obj, key, value) in files.items():
                if value is None:
                    value = f"dummy-{key}"
                    dummies.setdefault(obj, []).append(key)
                dest = base + posixpath.join(m["mountPath"], rel)
                os.makedirs(os.path.dirname(dest), exist_ok=True)
                with open(dest, "w") as f:
                    f.write(value)
                moved[posixpath.join(m["mountPath"], rel)] = dest
        for obj, keys in dummies.items():
            print(f"  {obj} is not rendered (the operator creates it): dummy values for "
                  f"{', '.join(keys)}")
        text = open(base + cpath).read()
        for _, fpath in file_refs(conf):
            text = text.replace(f'"{fpath}"', json.dumps(moved[fpath]))
        ports = {}
        for port, (key, host) in listeners(conf).items():
            local = port if free(port) else free_port()
            if local != port:
                print(f"  port {port} is taken here: server.{key} moved to 127.0.0.1:{local}")
            ports[port] = local
            old = f"{host}:{port}" if ":" not in host else f"[{host}]:{port}"
            text = text.replace(f'"{old}"', f'"127.0.0.1:{local}"')
        with open(base + cpath, "w") as f:
            f.write(text)
        argv = (c.get("command") or [])[1:] + (c.get("args") or [])
        argv = [base + a if a == cpath else a.replace("=" + cpath, "=" + base + cpath)
                for a in argv]
        with open(os.path.join(base, ".args"), "w") as f:
            f.write("\n".join(argv) + "\n")
        with open(os.path.join(base, ".config"), "w") as f:
            f.write(base + cpath)
        probes = []
        for kind in PROBE_PATHS:
            if kind in c:
                n, ppath, _ = probe_target(kind, c, kind, c[kind])
                probes.append([kind, f"http://127.0.0.1:{ports.get(n, n)}{ppath}"])
        for s in r.kind("Service"):
            sel = s["spec"].get("selector")
            if sel and matches({"matchLabels": sel}, pod_labels(w)):
                for p in s["spec"]["ports"]:
                    n = container_port(c, p.get("targetPort", p["port"]))
                    if n is not None:
                        probes.append([f"{ident(s)} port {p['port']}",
                                       f"tcp://127.0.0.1:{ports.get(n, n)}"])
        with open(os.path.join(base, ".probes"), "w") as f:
            json.dump(probes, f)
        print(f"  {ident(w)} container '{c['name']}': mounts laid out under {base}; "
              f"listeners on 127.0.0.1, ports (manifest: here) {ports}")


def alive(pid):
    try:
        return open(f"/proc/{pid}/stat").read().split(") ")[1][0] not in "ZX"
    except OSError:
        return False


NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def answer(url):
    if url.startswith("tcp://"):
        host, port = url[6:].rsplit(":", 1)
        with socket.create_connection((host, int(port)), timeout=1):
            return "accepts"
    try:
        with NO_PROXY.open(url, timeout=1) as resp:
            return resp.status
    except urllib.error.HTTPError as e:
        return e.code


def probe(base, pid, deadline_s):
    """Polls each probe until it answers 200 (tcp: accepts) while the process lives."""
    deadline = time.monotonic() + deadline_s
    for name, url in json.load(open(os.path.join(base, ".probes"))):
        last = None
        while True:
            try:
                last = answer(url)
            except OSError as e:
                last = str(e)
            if last in (200, "accepts"):
                print(f"  {name}: {url} -> {last}")
                break
            if not alive(pid):
                raise Broken(f"the proxy exited before {name} {url} answered")
            if time.monotonic() > deadline:
                raise Broken(f"{name}: {url} still answers {last} after {deadline_s}s")
            time.sleep(0.1)


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    try:
        if cmd == "check":
            check(args[0])
        elif cmd == "layout":
            layout(args[0], args[1])
        elif cmd == "probe":
            probe(args[0], int(args[1]), float(args[2]) if len(args) > 2 else 30)
        else:
            sys.exit(__doc__)
    except Broken as e:
        sys.exit(f"FAIL {args[0]}: {e}")


if __name__ == "__main__":
    main()
