# fedmoa sandbox harness (see docs/SECURITY.md). Runs as `python3 -s -S -B -u [-P] -c <this>`
# with only PYTHONHASHSEED=0 in its environment.
# Reads a JSON spec from stdin, applies hard resource limits, optionally drops root,
# installs an audit hook, runs the candidate program, then each assert, reporting every
# result on a private channel (a dup of the original stdout) as "<nonce> <word> <i> <pid>".
def _fedmoa_main():
    import builtins, json, os, re, resource, sys

    spec = json.loads(sys.stdin.buffer.read())
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 0)
    chan = os.dup(1)  # non-inheritable; the only place results are written
    os.dup2(2, 1)  # the candidate's prints go to the (truncated) output capture
    os.close(null)
    nonce, write, getpid, exit_now = spec["nonce"], os.write, os.getpid, os._exit

    def report(word, i=-1):
        try:
            write(chan, ("%s %s %d %d\n" % (nonce, word, i, getpid())).encode())
        except BaseException:
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

    home = os.path.realpath(os.getcwd())
    realpath, isdir, sep = os.path.realpath, os.path.isdir, os.sep
    blocked = frozenset((
        "os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.fork", "os.forkpty",
        "subprocess.Popen", "pty.spawn", "os.kill", "os.killpg", "signal.pthread_kill",
        "socket.__new__", "socket.connect", "socket.bind", "socket.getaddrinfo",
        "socket.sendto", "ctypes.dlopen", "ctypes.dlsym", "ctypes.call_function",
        "ctypes.cdata", "gc.get_objects", "gc.get_referrers", "gc.get_referents",
        "sys.settrace", "sys.setprofile", "os.setuid", "os.chroot", "os.setns",
        # Permission changes could also make the temp dir undeletable for the trainer.
        "os.chmod", "os.chown", "os.chflags", "os.lchflags",
    ))
    mutating = frozenset((
        "os.remove", "os.rename", "os.rmdir", "os.mkdir", "os.link", "os.symlink",
        "os.truncate", "os.utime", "shutil.rmtree", "os.setxattr", "os.removexattr",
    ))
    writes = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND

    pathlike = (str, bytes, os.PathLike)
    own_proc = "/proc/%d/" % getpid()

    def resolved(path):
        p = realpath(os.fspath(path))
        return p.decode("utf-8", "replace") if isinstance(p, bytes) else p

    def inside(path):
        p = resolved(path)
        return p == home or p.startswith(home + sep)

    def hook(event, args):
        if event in blocked:
            raise PermissionError("blocked by the fedmoa sandbox: " + event)
        if event == "open" and args and isinstance(args[0], pathlike):
            path = resolved(args[0])
            if path.startswith("/proc/") and not path.startswith(own_proc):
                raise PermissionError("blocked by the fedmoa sandbox: " + path)
            if not inside(path) and path != os.devnull:
                # Writes outside, and directories outside (a directory fd would let
                # `dir_fd=` calls escape the path check), are refused.
                if (args[2] or 0) & writes or isdir(path):
                    raise PermissionError("blocked by the fedmoa sandbox: outside the sandbox")
        elif event in mutating and not all(inside(a) for a in args if isinstance(a, pathlike)):
            raise PermissionError("blocked by the fedmoa sandbox: " + event)

    pristine = dict(builtins.__dict__)
    ns = {"__name__": "__main__", "__builtins__": builtins}
    run, comp, isfunc = exec, compile, type(_fedmoa_main)
    tests = spec["tests"]
    called = set(m.group(1) for t in tests for m in [re.match(r"\s*assert\s+(\w+)\s*\(", t)] if m)
    report("ready")
    sys.addaudithook(hook)
    loaded = True
    try:
        run(comp(spec["program"], "<candidate>", "exec"), ns)
        run(comp(spec["setup"], "<setup>", "exec"), ns)
    except BaseException:
        loaded = False
    for i, test in enumerate(tests):
        ok = False
        if loaded:
            # The asserts see a private copy of the original builtins, so patching the
            # `builtins` module or shadowing a builtin name cannot change what they check
            # (except a candidate function the assert calls by name, e.g. MBPP's `sum`).
            scope = dict(ns)
            for name in pristine:
                if name in scope and not (name in called and isinstance(scope[name], isfunc)):
                    scope[name] = pristine[name]
            scope["__builtins__"] = dict(pristine)
            try:
                run(comp(test, "<test %d>" % i, "exec"), scope)
                ok = True
            except BaseException:
                ok = False
        report("pass" if ok else "fail", i)
    report("done")
    exit_now(0)


_fedmoa_main()
