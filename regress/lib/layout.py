#!/usr/bin/python3
"""
The source tree's shape (issue 16, README "Source layout"), read from the
object files of a build: which file uses which, by the symbols each
object defines and the ones it leaves undefined (nm).

	layout.py BUILD circles     every folder's import circles: a
	                            strongly connected component of the
	                            "uses a function or global of" graph
	                            between a folder's files; prints each
	                            one with the symbols of every edge
	layout.py BUILD common      every common/ file and the processes
	                            that use it, directly or through other
	                            common/ files

Exit status 1 when a circle is larger than two files (a mutual pair is
what one file and its helper may be; three or more means the folder no
longer reads top-down), or when a common/ file is used by fewer than two
processes (it belongs in that process's folder).
"""
import collections
import glob
import os
import subprocess
import sys

# A process's folder, by the object files under BUILD/obj.  smtpcertd's
# binary holds three; the other programs are one each.
PROCESSES = {
    "parent": "smtpcertd",
    "front": "smtpcertd/front",
    "keys": "smtpcertd/keys",
    "ldapd-helper": "ldapd-helper",
    "crld": "crld",
    "smtpcertctl": "smtpcertctl",
}
FOLDERS = list(PROCESSES.values()) + ["common"]
TOP = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))


def symbols(paths):
    """{object path: (defined, undefined) global symbols}, from one nm
    run over all of them (one process, not one per object file)."""
    out = subprocess.run(["nm", "-A"] + paths, capture_output=True,
                         text=True, check=True).stdout
    syms = {p: (set(), set()) for p in paths}
    for line in out.splitlines():
        # -A: "path:[value] type name"
        path, _, rest = line.partition(":")
        f = rest.split()
        if path not in syms:
            continue
        defined, undefined = syms[path]
        if len(f) == 2 and f[0] == "U":
            undefined.add(f[1])
        elif len(f) == 3 and f[1] in "TDBRCVW":
            defined.add(f[2])
    return syms


def load(build):
    names = {}
    for folder in FOLDERS:
        for o in sorted(glob.glob(os.path.join(build, "obj", folder, "*.o"))):
            name = os.path.join(folder, os.path.basename(o)[:-2])
            # An object left by a file that has since moved is not the
            # tree's (parse.o comes from parse.y).
            src = os.path.join(TOP, name)
            if not (os.path.exists(src + ".c") or os.path.exists(src + ".y")):
                continue
            names[o] = name
    if not names:
        sys.exit("layout.py: no object files under %s/obj" % build)
    syms = symbols(sorted(names))
    return {names[o]: syms[o] for o in names}


def uses(objs, a, b):
    return sorted(objs[a][1] & objs[b][0])


def components(nodes, edges):
    """Tarjan's strongly connected components, iteratively."""
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]
    for root in nodes:
        if root in index:
            continue
        work = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = counter[0]
        counter[0] += 1
        stack.append(root)
        on.add(root)
        while work:
            v, it = work[-1]
            w = next(it, None)
            if w is not None:
                if w not in index:
                    index[w] = low[w] = counter[0]
                    counter[0] += 1
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(sorted(edges[w]))))
                elif w in on:
                    low[v] = min(low[v], index[w])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                out.append(sorted(comp))
    return out


def circles(objs):
    bad = 0
    for folder in FOLDERS:
        files = [n for n in objs if os.path.dirname(n) == folder]
        edges = {a: {b for b in files if b != a and uses(objs, a, b)}
                 for a in files}
        for comp in components(files, edges):
            if len(comp) < 2:
                continue
            verdict = "ok (a pair)" if len(comp) == 2 else "TOO LARGE"
            if len(comp) > 2:
                bad += 1
            print("%s: circle of %d files, %s" % (folder, len(comp), verdict))
            for a in comp:
                for b in sorted(edges[a] & set(comp)):
                    print("    %s -> %s: %s" % (a, b,
                                               " ".join(uses(objs, a, b)[:5])))
    return bad


def common(objs):
    process_of = {}
    for n in objs:
        for p, folder in PROCESSES.items():
            if os.path.dirname(n) == folder:
                process_of[n] = p
    shared = [n for n in objs if os.path.dirname(n) == "common"]
    users = {c: set() for c in shared}
    for c in shared:
        for n, p in process_of.items():
            if uses(objs, n, c):
                users[c].add(p)
    # Through other common/ files: a file that json.c uses serves json.c's
    # users.  Repeat until nothing changes (the graph is small).
    changed = True
    while changed:
        changed = False
        for c in shared:
            for d in shared:
                if d != c and uses(objs, d, c) and not users[d] <= users[c]:
                    users[c] |= users[d]
                    changed = True
    bad = 0
    for c in sorted(shared):
        ok = len(users[c]) >= 2
        bad += not ok
        print("%s: %s%s" % (c, " ".join(sorted(users[c])) or "-",
                            "" if ok else "   <- one process only"))
    return bad


def main():
    if len(sys.argv) != 3 or sys.argv[2] not in ("circles", "common"):
        sys.exit("usage: layout.py BUILD circles|common")
    objs = load(sys.argv[1])
    bad = circles(objs) if sys.argv[2] == "circles" else common(objs)
    sys.exit(1 if bad else 0)


main()
