"""Issue 23, the third hardening pass: the caches. A kernel is the one of the bytes and the
model it is stored for (items 3, 4); the cache folders are made and checked safely under any
umask (item 8), through symbolic links (item 15) and in a team cache shared by several users
(items 2, 9: users and groups are created by the tests, which need root)."""

import os
import pickle
import subprocess
import sys

import numpy as np
import pytest

import lifgen
from lifgen.codegen import build
from lifgen.frontend.modelfile import model_from_document


def _gain_file(gain):
    return ('[model]\nname = "gain"\n[parameters]\nbeta = 0.5\n[states]\nV = 0.0\n'
            '[inputs]\nI = {}\n[equations]\nupdate = { V = "beta*V + %r*I" }\n'
            '[spike]\ncondition = "V > 100"\n[reset]\nmechanism = "zero"\n' % gain)


def test_the_source_cache_stores_the_kernel_of_the_bytes_it_hashed(tmp_path, monkeypatch):
    """Item 3: the model file changes after lifgen first read it (an editor saving during a
    compile); every later read sees the new text. The kernel is the first text's, and the
    source cache keeps it under that text's key."""
    from lifgen.frontend import schema
    from lifgen.codegen import compiler

    monkeypatch.setenv("LIFGEN_CACHE_DIR", str(tmp_path / "cache"))
    path = tmp_path / "gain.toml"
    path.write_text(_gain_file(1.0))
    reads = []
    real = schema.read_regular_file

    def edited_after_the_first_read(file, source):
        if reads:
            path.write_text(_gain_file(5.0))
        reads.append(file)
        return real(file, source)

    monkeypatch.setattr(schema, "read_regular_file", edited_after_the_first_read)
    monkeypatch.setattr(compiler, "read_regular_file", edited_after_the_first_read, raising=False)
    first = lifgen.compile(str(path)).run(3, inputs={"I": 1.0}, record="V")
    assert first.traces["V"][:, 0].tolist() == [1.0, 1.5, 1.75]  # gain 1
    monkeypatch.setattr(schema, "read_regular_file", real)
    monkeypatch.setattr(compiler, "read_regular_file", real, raising=False)
    path.write_text(_gain_file(1.0))  # version A again: its key finds what was stored
    again = lifgen.compile(str(path)).run(3, inputs={"I": 1.0}, record="V")
    assert again.traces["V"][:, 0].tolist() == [1.0, 1.5, 1.75]


def test_one_compile_reads_the_model_file_once(tmp_path, monkeypatch):
    """dt given with a unit is converted to the time unit of the same bytes that are compiled
    (version B of the file declares seconds, version A milliseconds)."""
    from lifgen.codegen import compiler
    from lifgen.frontend import schema

    monkeypatch.setenv("LIFGEN_CACHE_DIR", str(tmp_path / "cache"))
    text = ('[model]\nname = "timed"\n[parameters]\ntau = { value = 10.0, unit = "ms" }\n'
            'theta = { value = 1.0, unit = "mV" }\n[states]\nV = { initial = 0.0, unit = "mV" }\n'
            '[inputs]\nI = { unit = "mV" }\n[equations]\nlaws = ["tau*dV/dt = -V + I"]\n'
            '[spike]\ncondition = "V > theta"\n[reset]\nmechanism = "zero"\n'
            '[simulation]\nmethod = "exact"\ndt = "0.1 %s"\n')
    path = tmp_path / "timed.toml"
    path.write_text(text % "ms")
    reads = []
    real = schema.read_regular_file

    def edited_after_the_first_read(file, source):
        if reads:
            path.write_text(text % "s")
        reads.append(file)
        return real(file, source)

    monkeypatch.setattr(schema, "read_regular_file", edited_after_the_first_read)
    monkeypatch.setattr(compiler, "read_regular_file", edited_after_the_first_read, raising=False)
    simulator = lifgen.compile(str(path), dt="0.2 ms")
    assert (simulator.dt, simulator.model.time_unit) == (0.2, "ms")
    assert len(reads) == 1


def _offset_model(rest, value=0.5):
    return model_from_document({
        "model": {"name": "offset"}, "parameters": {"tau": 10.0, "w": value},
        "states": {"V": 0.0}, "inputs": {"I": {}},
        "equations": {"laws": [f"tau*dV/dt = -(V - {rest!r}) + w*I"]},
        "spike": {"condition": "V > 1000"}, "reset": {"mechanism": "zero"},
        "simulation": {"method": "euler", "dt": 0.1}}, None)


@pytest.mark.parametrize("a, b", [(20.0, 20.0 + 1e-13), (40.0, 40.000000000000014),
                                  (1e-300, 1.0000000000000002e-300), (0.1, 0.1 + 2**-56)])
def test_models_differing_beyond_fifteen_digits_do_not_share_a_hash(a, b):
    """Item 4: SymPy's repr prints a Float to 15 digits; the hash is of the exact value."""
    assert a != b
    assert _offset_model(a).content_hash() != _offset_model(b).content_hash()
    assert _offset_model(a, 0.5).content_hash() != _offset_model(a, 0.5 + 2**-53).content_hash()
    assert _offset_model(a).content_hash() == _offset_model(a).content_hash()


def test_models_differing_beyond_fifteen_digits_run_their_own_kernels():
    """The drifts 0.3 and 0.30000000000000004 print alike to 15 digits; one Euler step of
    dt = 1 reaches them exactly, so only the second is above the threshold 0.3 at once."""
    a, b = 0.3, 0.1 + 0.1 + 0.1
    models = {drift: model_from_document({
        "model": {"name": "drift"}, "parameters": {"w": 0.0}, "states": {"V": 0.0},
        "inputs": {"I": {}}, "equations": {"laws": [f"dV/dt = {drift!r} + w*I"]},
        "spike": {"condition": "V > 0.3"}, "reset": {"mechanism": "zero"},
        "simulation": {"method": "euler", "dt": 1.0}}, None) for drift in (a, b)}
    assert models[a].content_hash() != models[b].content_hash()
    first = {drift: int(np.argmax(lifgen.compile(m).run(4).spikes[:, 0]))
             for drift, m in models.items()}
    assert first == {a: 1, b: 0}  # b's kernel, not a's


def test_the_canonical_text_is_exact_and_ignores_symbol_assumptions():
    import sympy

    from lifgen.ir.canonical import canonical_text

    x, real_x = sympy.Symbol("x"), sympy.Symbol("x", real=True)
    assert canonical_text(x + 1) == canonical_text(real_x + 1)  # srepr differs after pickling
    a, b = sympy.Float(0.3), sympy.Float(0.1 + 0.1 + 0.1)
    assert repr(a) == repr(b) and canonical_text(x * a) != canonical_text(x * b)
    assert canonical_text(np.float32(0.1)) != canonical_text(np.float64(0.1))
    assert canonical_text((np.arange(2.0), {"b": 1, "a": 2})) == \
        canonical_text((np.arange(2.0), {"a": 2, "b": 1}))


def test_the_hash_is_stable_across_pickling_and_unpickled_simulators_keep_their_model():
    """Item 4 on Dask workers: an unpickled Simulator is rebuilt by its model's hash, so two
    models that hashed alike came back as the same Simulator."""
    a, b = _offset_model(0.1), _offset_model(0.1 + 2**-56)
    for model in (a, b):
        assert pickle.loads(pickle.dumps(model)).content_hash() == model.content_hash()
    simulators = [lifgen.compile(m) for m in (a, b)]
    back = [pickle.loads(pickle.dumps(s)) for s in simulators]
    assert back[0].model.content_hash() == a.content_hash()
    assert back[1].model.content_hash() == b.content_hash()
    assert back[0].model != back[1].model
    code = ("import pickle, sys; s = pickle.loads(sys.stdin.buffer.read()); "
            "print(s.model.content_hash())")
    for simulator, model in zip(simulators, (a, b)):
        out = subprocess.run([sys.executable, "-c", code], input=pickle.dumps(simulator),
                             capture_output=True, check=True).stdout.decode().strip()
        assert out == model.content_hash()  # the same in another process


# -- the cache's folders -----------------------------------------------------------------------

EXPORTED = '__attribute__((visibility("default"))) '  # an entry point of a hand-written kernel

SCHEMA = f"v{build.CACHE_SCHEMA}"  # the cache's folder for this layout
SOURCE, CDEF = EXPORTED + "int lg_seven(void) { return 7; }", "int lg_seven(void);"
PROBE = ("import sys; from lifgen.codegen import build; "
         "k = build.build(sys.argv[1], sys.argv[2]); print(k.lib.lg_seven(), k.from_cache)")
needs_root = pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0,
                                reason="creating users and groups and running as them needs root")


def _environment(**changes):
    environment = {k: v for k, v in os.environ.items()
                   if k not in ("LIFGEN_CACHE_DIR", "LIFGEN_CACHE_TRUST_GROUP", "XDG_CACHE_HOME")}
    environment["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    environment.update(changes)
    return environment


def _probe(environment, preexec=None, source=SOURCE, cdef=CDEF, python=sys.executable):
    return subprocess.run([python, "-c", PROBE, source, cdef], capture_output=True,
                          text=True, env=environment, preexec_fn=preexec, timeout=300)


def test_under_umask_002_lifgen_makes_and_accepts_its_own_cache(tmp_path):
    """Item 8: Debian's umask for user-private groups. The folders lifgen creates above its
    cache (here ~/.cache and ~/.cache/lifgen in a new home) got group write from the umask,
    and lifgen refused its own cache; its published modules were group-writable too."""
    home = tmp_path / "home"
    home.mkdir(mode=0o755)
    environment = _environment(HOME=str(home))
    for expected in ("7 False", "7 True"):  # built, then loaded from the cache
        made = subprocess.run(["sh", "-c", 'umask 002 && exec "$@"', "sh", sys.executable, "-c",
                               PROBE, SOURCE, CDEF], capture_output=True, text=True,
                              env=environment, timeout=300)
        assert made.returncode == 0, made.stderr[-2000:]
        assert made.stdout.split() == expected.split()
    for folder in (".cache", ".cache/lifgen", f".cache/lifgen/{SCHEMA}", f".cache/lifgen/{SCHEMA}/locks"):
        assert (home / folder).stat().st_mode & 0o022 == 0, folder
    published = list((home / ".cache" / "lifgen" / SCHEMA).glob("_lifgen_*"))
    assert published and all(p.stat().st_mode & 0o022 == 0 for p in published)


def test_a_world_writable_module_of_the_user_is_not_trusted_in_a_team_cache(team_cache):
    """Item 2 (low): `a or b and c` accepted the user's own module when it was world-writable."""
    from lifgen.codegen import build

    build._loaded.clear()
    kernel = build.build(SOURCE, CDEF)
    os.chmod(kernel.path, 0o777)
    build._loaded.clear()
    again = build.build(SOURCE, CDEF)
    assert not again.from_cache and again.lib.lg_seven() == 7


def test_the_cache_checks_create_nothing_inside_a_linked_cache_folder(tmp_path, monkeypatch):
    """Item 15: locks/ and tmp/ were made through the link before the link was refused; and
    a cached source was written through a linked sources/ folder."""
    from lifgen.codegen import build
    from lifgen.errors import CacheError

    monkeypatch.setenv("LIFGEN_CACHE_DIR", str(tmp_path / "cache"))
    build._loaded.clear()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir(mode=0o700)
    (tmp_path / "cache").mkdir(mode=0o700)
    root = tmp_path / "cache" / f"v{build.CACHE_SCHEMA}"
    root.symlink_to(elsewhere)
    with pytest.raises(CacheError, match="symbolic link"):
        build.build(SOURCE, CDEF)
    assert list(elsewhere.iterdir()) == []
    root.unlink()
    build.build(SOURCE, CDEF)
    (root / "sources").mkdir(exist_ok=True)
    os.rename(root / "sources", tmp_path / "sources")
    (root / "sources").symlink_to(tmp_path / "sources")
    before = set((tmp_path / "sources").iterdir())
    with pytest.raises(CacheError, match="link"):
        build.store_blob("sources", "planted", b"payload")
    assert set((tmp_path / "sources").iterdir()) == before
    assert build.load_blob("sources", "planted") is None


def test_a_missing_team_folder_is_refused_with_how_to_make_it(tmp_path, monkeypatch):
    """A team cache is the team's folder: lifgen never makes it (whose group would it be?)."""
    from lifgen.codegen import build
    from lifgen.errors import CacheError

    monkeypatch.setenv("LIFGEN_CACHE_DIR", str(tmp_path / "team"))
    monkeypatch.setenv("LIFGEN_CACHE_TRUST_GROUP", "1")
    build._loaded.clear()
    with pytest.raises(CacheError, match="chgrp TEAM"):
        build.build(SOURCE, CDEF)
    assert not (tmp_path / "team").exists()


class Users:
    """Groups and users made for one test (removed after it), and how to run as one of them."""

    def __init__(self):
        self.tag = f"lg{os.getpid() % 100000}"
        self.groups, self.users = [], []

    def group(self, name):
        name = f"{self.tag}{name}"
        subprocess.run(["groupadd", name], check=True, capture_output=True)
        self.groups.append(name)
        return name

    def user(self, name, groups):
        import pwd

        name = f"{self.tag}{name}"
        subprocess.run(["useradd", "-M", "-N", "-s", "/bin/sh", "-G", ",".join(groups), name],
                       check=True, capture_output=True)
        self.users.append(name)
        return pwd.getpwnam(name)

    def as_user(self, entry):
        import grp

        gids = [g.gr_gid for g in grp.getgrall() if entry.pw_name in g.gr_mem]

        def switch():
            os.setgroups(gids)
            os.setgid(entry.pw_gid)
            os.setuid(entry.pw_uid)
        return switch

    def python(self, entry, environment):
        """An interpreter `entry` can run with lifgen and its packages importable: this one, or
        (when it lies in a folder only root can enter) the system's with this one's packages;
        the test is skipped when there is none."""
        import site
        import shutil

        for python, paths in ((sys.executable, []),
                              (shutil.which("python3", path="/usr/local/bin:/usr/bin"),
                               site.getsitepackages())):
            if python is None:
                continue
            environment["PYTHONPATH"] = os.pathsep.join([*(p for p in sys.path if p), *paths])
            try:
                tried = subprocess.run([python, "-c", "import lifgen.codegen.build"],
                                       preexec_fn=self.as_user(entry), env=environment,
                                       capture_output=True)
            except OSError:  # it cannot even start
                continue
            if tried.returncode == 0:
                return python
        pytest.skip("no Python interpreter with lifgen's packages that another user can run")

    def remove(self):
        for name in self.users:
            subprocess.run(["userdel", name], capture_output=True)
        for name in self.groups:
            subprocess.run(["groupdel", name], capture_output=True)


@pytest.fixture
def users():
    made = Users()
    try:
        yield made
    finally:
        made.remove()


@pytest.fixture
def shared_folder():
    import shutil
    import tempfile

    folder = tempfile.mkdtemp(prefix="lifgen-team-")
    os.chmod(folder, 0o755)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@needs_root
def test_a_team_cache_set_up_as_the_readme_says_works_for_every_member(users, shared_folder):
    """Item 9: `chgrp TEAM DIR && chmod 2770 DIR` by one member; every member compiles into it
    and loads what the others compiled (each was refused: DIR is another member's)."""
    team = users.group("team")
    alice, bob = users.user("alice", [team]), users.user("bob", [team])
    projects = os.path.join(shared_folder, "projects")  # alice's, where she sets the cache up
    os.mkdir(projects, 0o755)
    os.chown(projects, alice.pw_uid, alice.pw_gid)
    folder = os.path.join(projects, "teamcache")
    made = subprocess.run(["sh", "-c", f"mkdir {folder} && chgrp {team} {folder} && "
                           f"chmod 2770 {folder}"], preexec_fn=users.as_user(alice),
                          capture_output=True, text=True)
    assert made.returncode == 0, made.stderr
    environment = _environment(LIFGEN_CACHE_DIR=folder, LIFGEN_CACHE_TRUST_GROUP="1",
                               HOME=shared_folder)
    python = users.python(alice, environment)
    other = (EXPORTED + "int lg_seven(void) { return 7 + 0; }", CDEF)
    for member, source, expected in ((alice, (SOURCE, CDEF), "7 False"),
                                     (bob, (SOURCE, CDEF), "7 True"),
                                     (bob, other, "7 False"), (alice, other, "7 True")):
        run = _probe(environment, users.as_user(member), *source, python=python)
        assert run.returncode == 0, (member.pw_name, run.stderr[-2000:])
        assert run.stdout.split() == expected.split(), member.pw_name
    root = os.path.join(folder, SCHEMA)
    locks = os.listdir(os.path.join(root, "locks"))
    for name in os.listdir(root):  # the modules gone: bob builds again, under alice's locks
        if name.startswith("_lifgen_") and not os.path.isdir(os.path.join(root, name)):
            os.unlink(os.path.join(root, name))
    run = _probe(environment, users.as_user(bob), python=python)
    assert run.returncode == 0 and run.stdout.split() == ["7", "False"], run.stderr[-2000:]
    assert set(locks) <= set(os.listdir(os.path.join(root, "locks")))
    script = ("import lifgen; s = lifgen.compile('leaky'); "
              "print(int(s.run(20, inputs={'I': 0.6}).spike_count[0]), s.from_cache)")
    for member, expected in ((alice, "False"), (bob, "True")):  # through the source cache too
        run = subprocess.run([python, "-c", script], capture_output=True, text=True,
                             env=environment, preexec_fn=users.as_user(member), timeout=300)
        assert run.returncode == 0, (member.pw_name, run.stderr[-2000:])
        assert run.stdout.split()[1] == expected and int(run.stdout.split()[0]) > 0


@needs_root
def test_a_team_cache_trusts_exactly_the_team_folder_s_group(users, shared_folder):
    """Item 2: alice is in the groups team and lab; mallory only in lab. A folder above the
    team cache that lab can write (mallory could swap the cache for her own) is refused, and
    a module in the cache that belongs to lab, not the team, is never loaded."""
    import grp

    team, lab = users.group("team"), users.group("lab")
    alice = users.user("alice", [team, lab])
    users.user("mallory", [lab])
    lab_folder = os.path.join(shared_folder, "lab")
    os.mkdir(lab_folder)
    os.chown(lab_folder, 0, grp.getgrnam(lab).gr_gid)
    os.chmod(lab_folder, 0o2775)  # group-writable by lab
    folder = os.path.join(lab_folder, "teamcache")
    os.mkdir(folder)
    os.chown(folder, alice.pw_uid, grp.getgrnam(team).gr_gid)
    os.chmod(folder, 0o2770)
    environment = _environment(LIFGEN_CACHE_DIR=folder, LIFGEN_CACHE_TRUST_GROUP="1",
                               HOME=shared_folder)
    python = users.python(alice, environment)
    refused = _probe(environment, users.as_user(alice), python=python)
    assert refused.returncode != 0 and "CacheError" in refused.stderr, refused.stdout
    assert "another user owns or can write" in refused.stderr
    os.chmod(lab_folder, 0o755)  # only root writes above the team folder now
    built = _probe(environment, users.as_user(alice), python=python)
    assert built.returncode == 0 and built.stdout.split() == ["7", "False"], built.stderr
    modules = [os.path.join(folder, SCHEMA, name) for name in os.listdir(os.path.join(folder, SCHEMA))
               if name.endswith(".so")]
    for module in modules:  # mallory's (same bytes, manifest intact), in lab's group
        os.chown(module, pwd_uid("mallory", users), grp.getgrnam(lab).gr_gid)
        os.chmod(module, 0o664)
    again = _probe(environment, users.as_user(alice), python=python)
    assert again.returncode == 0 and again.stdout.split() == ["7", "False"], again.stderr


def pwd_uid(name, users):
    import pwd

    return pwd.getpwnam(users.tag + name).pw_uid
