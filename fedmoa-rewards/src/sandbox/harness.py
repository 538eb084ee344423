# fedmoa sandbox harness (see docs/SECURITY.md). Runs as `python3 -s -S -B -u [-P] -c <this>`
# with only PYTHONHASHSEED=0 in its environment.
# Reads a JSON spec from stdin, applies hard resource limits, optionally drops root,
# installs an audit hook, then, by spec["mode"]:
# - "oracle" (trusted inputs only, never candidate code): runs the setup, then for each
#   test of the form `assert LEFT == RIGHT` evaluates RIGHT and reports the SHA-256 of its
#   canonical encoding with LEFT's source ("check <i> <pid> <sha> <hex of LEFT>"); any
#   other test is reported "legacy";
# - "candidate": runs the candidate program and the setup, then each test: an "expr" (a
#   rewritten assert's LEFT; its expected value is not in this process) is evaluated and
#   reported as "value <i> <pid> <sha>" (or "fail"), an "assert" (legacy) is executed and
#   reported "pass" or "fail".
# Every result goes to a private channel (a dup of the original stdout) as
# "<nonce> <word> <i> <pid>[ <fields>]".
def _fedmoa_main():
    import builtins, collections, hashlib, json, os, re, resource, signal, sys

    spec = json.loads(sys.stdin.buffer.read())
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 0)
    chan = os.dup(1)  # non-inheritable; the only place results are written
    os.dup2(2, 1)  # the candidate's prints go to the (truncated) output capture
    os.close(null)
    nonce, write, getpid, exit_now = spec["nonce"], os.write, os.getpid, os._exit
    _BaseException = BaseException

    def report(word, i=-1, extra=""):
        try:
            write(chan, ("%s %s %d %d%s\n" % (nonce, word, i, getpid(), extra)).encode())
        except _BaseException:
            exit_now(3)

    limits = spec["limits"]
    for name in ("RLIMIT_CPU", "RLIMIT_AS", "RLIMIT_FSIZE", "RLIMIT_NPROC", "RLIMIT_NOFILE", "RLIMIT_CORE"):
        value = limits[name]
        try:
            resource.setrlimit(getattr(resource, name), (value, value))
        except (AttributeError, ValueError, OSError):
            report("limit_failed:" + name)
            exit_now(4)
    drop = spec["drop_to"]
    if drop is not None and os.getuid() == 0:
        os.setgroups([])
        os.setgid(drop)
        os.setuid(drop)

    # ---- the audit hook ---------------------------------------------------------------
    # Everything the hook (and the rest of the harness after candidate code) calls is
    # captured here, before any candidate code runs: a candidate can rebind names in
    # `builtins`, `os` or `posixpath` (e.g. `builtins.isinstance`), not these locals. Paths
    # are resolved by `resolved` below, built on C functions only.
    _type, _len, _join, _str, _bytes, _int = type, len, "".join, str, bytes, int
    _issubclass, _OSError = issubclass, OSError
    _PermissionError, _ValueError, _AttributeError = PermissionError, ValueError, AttributeError
    _split, _rfind, _startswith, _bdecode = str.split, str.rfind, str.startswith, bytes.decode
    _pop, _reverse, _extend, _append = list.pop, list.reverse, list.extend, list.append
    _lstat, _stat, _readlink, _getcwd = os.lstat, os.stat, os.readlink, os.getcwd
    S_IFMT, S_IFLNK, S_IFDIR = 0o170000, 0o120000, 0o040000

    def resolved(path):
        """`os.path.realpath(path)` as a plain str (raises for a non-path)."""
        if _issubclass(_type(path), _bytes):
            path = _bdecode(path, "utf-8", "surrogateescape")
        else:
            path = _join((path,))  # the str's characters, whatever its class says
        if not _startswith(path, "/"):
            path = _getcwd() + "/" + path
        todo = _split(path, "/")
        _reverse(todo)
        out, links = "", 0
        while todo:
            name = _pop(todo)
            if name == "" or name == ".":
                continue
            if name == "..":
                out = out[:_rfind(out, "/")] if out else ""
                continue
            new = out + "/" + name
            try:
                mode = _lstat(new).st_mode
            except _OSError:
                out = new  # missing or unreadable: kept as written, like realpath
                continue
            if mode & S_IFMT != S_IFLNK:
                out = new
                continue
            links += 1
            if links > 40:
                raise _PermissionError("blocked by the fedmoa sandbox: symlink loop")
            target = _readlink(new)
            if _startswith(target, "/"):
                out = ""
            more = _split(target, "/")
            _reverse(more)
            _extend(todo, more)
        return out or "/"

    def is_dir(path):
        try:
            return _stat(path).st_mode & S_IFMT == S_IFDIR
        except _OSError:
            return False

    def is_path(value):
        return _issubclass(_type(value), _str) or _issubclass(_type(value), _bytes)

    home = resolved(_getcwd())
    blocked = frozenset((
        "os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.fork", "os.forkpty",
        "subprocess.Popen", "pty.spawn", "os.kill", "os.killpg", "signal.pthread_kill",
        "socket.__new__", "socket.connect", "socket.bind", "socket.getaddrinfo",
        "socket.sendto", "ctypes.dlopen", "ctypes.dlsym", "ctypes.call_function",
        "ctypes.cdata", "gc.get_objects", "gc.get_referrers", "gc.get_referents",
        "sys.settrace", "sys.setprofile", "os.setuid", "os.chroot", "os.setns",
        # Permission changes could also make the temp dir undeletable for the trainer.
        "os.chmod", "os.chown", "os.chflags", "os.lchflags",
        # Other threads' frames; hand-made code objects (bytecode can read raw memory).
        "sys._current_frames", "sys._current_exceptions", "code.__new__",
        # Native code from a file.
        "sqlite3.enable_load_extension", "sqlite3.load_extension",
        # A hook of the candidate's own would see every event's arguments first-hand.
        "sys.addaudithook",
    ))
    mutating = frozenset((
        "os.remove", "os.rename", "os.rmdir", "os.mkdir", "os.link", "os.symlink",
        "os.truncate", "os.utime", "shutil.rmtree", "os.setxattr", "os.removexattr",
    ))
    # Attributes that hand out frames (whose locals hold the nonce); audited on >= 3.10.
    frame_attrs = frozenset(("tb_frame", "gi_frame", "cr_frame", "ag_frame"))
    # Modules that run native test helpers or touch files from C; and `signal`, imported
    # above with handler installation disabled: importing it afresh would undo that.
    native = frozenset(("_ctypes_test", "_dbm", "_gdbm", "_posixshmem", "signal", "_signal"))
    writes = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
    own_proc = "/proc/%d" % getpid()
    # Under /proc/<own pid>: raw memory (mem, pagemap) and descriptors (fd/N reopens the
    # result channel's pipe for reading), also per thread (task/<tid>/...).
    secret_proc = frozenset(("mem", "pagemap", "fd", "map_files"))

    def under(p, root):
        return p == root or _startswith(p, root + "/")

    def inside(path):
        return under(resolved(path), home)

    # Readable outside the temp dir: the interpreter's own library (sys.path as it is now,
    # before any candidate code), the time zone data and a few devices. Everything else
    # (datasets with the expected answers, the trainer's files) is refused.
    libs = tuple(sorted(set(
        r for r in (resolved(p) for p in sys.path if p) if r != "/" and not under(r, home)
    )))
    readable_dirs = libs + ("/usr/share/zoneinfo",)
    readable_files = frozenset((os.devnull, "/dev/zero", "/dev/urandom", "/dev/random", "/etc/localtime"))

    def readable(path):
        if path in readable_files:
            return True
        for root in readable_dirs:
            if under(path, root):
                return True
        return False

    def in_libs(path):
        for root in libs:
            if under(path, root):
                return True
        return False

    def own_proc_secret(path):
        parts = _split(path[_len(own_proc) + 1:], "/")
        if parts[0] == "task" and _len(parts) > 2:
            parts = parts[2:]
        return parts[0] in secret_proc

    def refuse(what):
        raise _PermissionError("blocked by the fedmoa sandbox: " + what)

    def hook(event, args):
        if event in blocked:
            refuse(event)
        if event == "open" and args and is_path(args[0]):
            path = resolved(args[0])
            if under(path, home) or path == "/dev/null":
                return
            if under(path, own_proc):
                if own_proc_secret(path):
                    refuse(path)
            elif _startswith(path, "/proc/"):
                refuse(path)
            elif not readable(path):
                refuse("reading outside the sandbox")
            # Writes outside, and directories outside (a directory fd would let `dir_fd=`
            # calls escape the path check), are refused.
            flags = args[2] if _len(args) > 2 else 0
            if (_type(flags) is _int and flags & writes) or is_dir(path):
                refuse("outside the sandbox")
        elif event == "sys._getframe":
            # ValueError is what namedtuple, enum, typing and logging expect when frames
            # are unavailable, so they keep working.
            raise _ValueError("blocked by the fedmoa sandbox: sys._getframe")
        elif event == "object.__getattr__":
            if _len(args) > 1 and args[1] in frame_attrs:
                raise _AttributeError("blocked by the fedmoa sandbox: frames")
        elif event == "import":
            name = _join((args[0],))
            if _startswith(name, "_test") or _startswith(name, "_xx") or name in native:
                refuse("import " + name)
            if _len(args) > 1 and args[1] is not None and not in_libs(resolved(args[1])):
                # An extension module (native code) from outside the interpreter's library.
                refuse("native module " + name)
        elif event == "sqlite3.connect":
            db = args[0] if args else None
            if not (is_path(db) and (db in (":memory:", "", b":memory:", b"") or inside(db))):
                refuse("sqlite3 outside the sandbox")
        elif event in mutating:
            for a in args:
                if is_path(a) and not inside(a):
                    refuse(event)

    # A Python signal handler is called with the interrupted frame, whose f_back chain
    # leads to this function's locals: no handlers (the default actions still apply).
    def no_handlers(*args, **kwargs):
        raise PermissionError("blocked by the fedmoa sandbox: signal handlers")

    signal.signal = sys.modules["_signal"].signal = no_handlers

    # ---- canonical values -------------------------------------------------------------
    # canon(v): an injective string that is equal for two plain values iff `==` is True,
    # built from the builtin data only (exact types; no method a class could define is
    # ever called). Anything else (user classes, subclasses) is rejected: None.
    _sorted, _enumerate, _isinstance = sorted, enumerate, isinstance
    _list, _tuple, _dict, _set, _frozenset, _float, _complex, _bool = (
        list, tuple, dict, set, frozenset, float, complex, bool)
    _items, _fhex, _fint, _ifmt, _bhex = dict.items, float.hex, float.is_integer, int.__format__, bytes.hex
    _encode, _sha = str.encode, hashlib.sha256
    _hexdigest = type(_sha(b"")).hexdigest
    # Counter and defaultdict: MBPP reference solutions return them where a dict is
    # expected (Counter == dict and defaultdict == dict compare the items).
    _counter, _defaultdict = collections.Counter, collections.defaultdict
    _none = None
    MAX_DEPTH, MAX_ITEMS = 100, 1000000

    class Reject(Exception):
        pass

    counts = [0, 0]  # items encoded, NaNs seen

    def enc_float(v, out):
        if v != v:
            # NaN equals nothing: a token that cannot occur in another process.
            counts[1] += 1
            _append(out, "n%s:%d;" % (nonce, counts[1]))
        elif _fint(v):
            _append(out, "i" + _ifmt(_int(v), "x") + ";")
        else:
            _append(out, "f" + _fhex(v) + ";")

    def enc(v, depth, out):
        counts[0] += 1
        if depth > MAX_DEPTH or counts[0] > MAX_ITEMS:
            raise Reject()
        t = _type(v)
        if t is _int or t is _bool:
            _append(out, "i" + _ifmt(v, "x") + ";")
        elif t is _float:
            enc_float(v, out)
        elif t is _str:
            _append(out, "s%d:" % _len(v))
            _append(out, v)
        elif v is _none:
            _append(out, "N")
        elif t is _list or t is _tuple:
            _append(out, ("L%d[" if t is _list else "T%d[") % _len(v))
            for x in v:
                enc(x, depth + 1, out)
            _append(out, "]")
        elif t is _dict or t is _counter or t is _defaultdict:
            parts = []
            for k, x in _items(v):
                p = []
                enc(k, depth + 1, p)
                _append(p, "=")
                enc(x, depth + 1, p)
                _append(parts, _join(p))
            _append(out, "D%d{" % _len(parts))
            _extend(out, _sorted(parts))
            _append(out, "}")
        elif t is _set or t is _frozenset:
            parts = []
            for x in v:
                p = []
                enc(x, depth + 1, p)
                _append(parts, _join(p))
            _append(out, "E%d{" % _len(parts))
            _extend(out, _sorted(parts))
            _append(out, "}")
        elif t is _bytes:
            _append(out, "b%d:" % _len(v) + _bhex(v))
        elif t is _complex:
            re_, im = v.real, v.imag
            if im == 0:
                enc_float(re_, out)
            else:
                _append(out, "c")
                enc_float(re_, out)
                enc_float(im, out)
        else:
            raise Reject()

    def digest(v):
        """The SHA-256 hex of canon(v), or None when v is not a plain value."""
        out = []
        counts[0] = 0
        try:
            enc(v, 0, out)
            return _hexdigest(_sha(_encode(_join(out), "utf-8", "surrogatepass")))
        except _BaseException:
            return None

    # ---- running ------------------------------------------------------------------------
    pristine = dict(builtins.__dict__)
    run, run_eval, comp, isfunc = exec, eval, compile, type(_fedmoa_main)
    tests = spec["tests"]

    if spec["mode"] == "oracle":
        import ast
        parse, dump, segment = ast.parse, ast.dump, ast.get_source_segment
        Assert, Compare, Eq, Expression = ast.Assert, ast.Compare, ast.Eq, ast.Expression

        def check(text, base):
            """ " <sha> <hex LEFT>" for `assert LEFT == RIGHT` with a plain RIGHT, else None."""
            body = parse(text, "<test>", "exec").body
            if len(body) != 1 or type(body[0]) is not Assert:
                return None
            # A message (`assert a == b, m`) is evaluated only on failure: pass/fail is
            # that of `a == b` alone.
            test = body[0].test
            if type(test) is not Compare or len(test.ops) != 1 or type(test.ops[0]) is not Eq:
                return None
            left = segment(text, test.left)
            # LEFT is sent as source text: it must parse alone to the same expression.
            if left is None or dump(parse(left, "<left>", "eval").body) != dump(test.left):
                return None
            scope = dict(base)
            scope["__builtins__"] = dict(pristine)
            expected = run_eval(comp(Expression(test.comparators[0]), "<expected>", "eval"), scope)
            d = digest(expected)
            if d is None:
                return None
            return " %s %s" % (d, _encode(left, "utf-8", "surrogatepass").hex())

        base = {"__name__": "__main__", "__builtins__": dict(pristine)}
        report("ready")
        sys.addaudithook(hook)
        try:
            run(comp(spec["setup"], "<setup>", "exec"), base)
        except BaseException:
            pass  # e.g. a setup that needs the solution's classes; RIGHT may not need it
        for i, test in enumerate(tests):
            try:
                extra = check(test["assert"], base)
            except BaseException:
                extra = None
            if extra is None:
                report("legacy", i)
            else:
                report("check", i, extra)
        report("done")
        exit_now(0)

    ns = {"__name__": "__main__", "__builtins__": builtins}
    called = set()
    for t in tests:
        if "expr" in t:
            m = re.match(r"\s*(\w+)\s*\(", t["expr"])
        else:
            m = re.match(r"\s*assert\s+(\w+)\s*\(", t["assert"])
        if m:
            called.add(m.group(1))
    report("ready")
    sys.addaudithook(hook)
    loaded = True
    try:
        run(comp(spec["program"], "<candidate>", "exec"), ns)
        run(comp(spec["setup"], "<setup>", "exec"), ns)
    except _BaseException:
        loaded = False
    for i, test in _enumerate(tests):
        word, extra = "fail", ""
        if loaded:
            # The tests see a private copy of the original builtins, so patching the
            # `builtins` module or shadowing a builtin name cannot change what they check
            # (except a candidate function the test calls by name, e.g. MBPP's `sum`).
            scope = _dict(ns)
            for name in pristine:
                if name in scope and not (name in called and _isinstance(scope[name], isfunc)):
                    scope[name] = pristine[name]
            scope["__builtins__"] = _dict(pristine)
            try:
                if "expr" in test:
                    d = digest(run_eval(comp(test["expr"], "<test %d>" % i, "eval"), scope))
                    if d is not None:
                        word, extra = "value", " " + d
                else:
                    run(comp(test["assert"], "<test %d>" % i, "exec"), scope)
                    word = "pass"
            except _BaseException:
                word, extra = "fail", ""
        report(word, i, extra)
    report("done")
    exit_now(0)


_fedmoa_main()
