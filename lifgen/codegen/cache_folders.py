"""The kernel cache's folders: made with explicit modes (whatever the umask), and checked before
use on descriptors, one path component at a time without following a link, so that nobody
lifgen does not trust to run code in this process can write the cache or move a folder above it.

Trusted are this user and root; in a team cache (LIFGEN_CACHE_TRUST_GROUP=1) also exactly the
team folder's group (the folder LIFGEN_CACHE_DIR names) and its members, not any other group of
the user's.
"""

from __future__ import annotations

import errno
import functools
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from ..errors import CacheError

TRUST_GROUP = "LIFGEN_CACHE_TRUST_GROUP"  # "1": a team cache, shared with the folder's group
MAX_LINKS = 40  # links followed above the cache, as the kernel's own path walk allows
# how a folder is opened: O_PATH needs no read permission (a folder others may only enter)
OPEN_FOLDER = (getattr(os, "O_PATH", os.O_RDONLY) | getattr(os, "O_DIRECTORY", 0)
               | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0))


def trusts_group() -> bool:
    """Whether the user opted in to a team cache: every member of the cache folder's group can
    then run code in this process (lifgen loads compiled kernels from the cache)."""
    return os.environ.get(TRUST_GROUP) == "1"


@functools.lru_cache(maxsize=None)
def _members(gid: int) -> frozenset[int]:
    """The users of group `gid`: listed in it, or with it as their primary group."""
    import grp
    import pwd

    try:
        listed = set(grp.getgrgid(gid).gr_mem)
    except KeyError:
        listed = set()
    return frozenset(p.pw_uid for p in pwd.getpwall() if p.pw_gid == gid or p.pw_name in listed)


@dataclass(frozen=True)
class Trust:
    """Who may write the cache and the folders above it: this user and root, and in a team
    cache the team folder's group (`team`, a gid) and its members."""

    uid: int
    team: int | None = None

    def owner(self, uid: int) -> bool:
        return uid in (0, self.uid) or self.team is not None and uid in _members(self.team)

    def group(self, gid: int) -> bool:
        """A group whose members may write: the team, or a group of this user alone (the
        user-private group of Debian's umask 002)."""
        return gid == self.team or _members(gid) <= {self.uid}

    def folder(self, info: os.stat_result) -> bool:
        """A folder above the cache: owned so, and writable by nobody else unless sticky (/tmp:
        others may add entries there, not replace this user's)."""
        mode = info.st_mode
        open_to = mode & stat.S_ISVTX or (
            not mode & 0o002 and (not mode & 0o020 or self.group(info.st_gid)))
        return bool(self.owner(info.st_uid) and open_to)

    def content(self, info: os.stat_result) -> bool:
        """A file or folder of the cache: this user's and writable by nobody else, or in a team
        cache this user's or the team's and not writable by others (lifgen makes its own with
        explicit modes, so the umask never makes them group-writable)."""
        if self.team is not None:
            return (info.st_uid == self.uid or info.st_gid == self.team) \
                and not info.st_mode & 0o002
        return info.st_uid == self.uid and not info.st_mode & 0o022


def _refuse_folder(path: str, trust: Trust) -> CacheError:
    return CacheError(f"the kernel cache lies in {path}, which another user owns or can write: "
                      "they could replace the cache, whose native code lifgen runs. Set "
                      "LIFGEN_CACHE_DIR to a folder of your own"
                      + (" (a team cache trusts its folder's group only)" if trust.team
                         is not None else ""))


def _open_below(parent: int, name: str, path: str, trust: Trust, links: list[int]
                ) -> tuple[int, str | None]:
    """(descriptor of the folder `name` in `parent`, None), or (-1, the link's target) when it
    is a link that trusted users made; FileNotFoundError when it is missing."""
    try:
        return os.open(name, OPEN_FOLDER, dir_fd=parent), None
    except OSError as error:
        if error.errno not in (errno.ELOOP, errno.ENOTDIR, errno.EMLINK):
            raise
        info = os.stat(name, dir_fd=parent, follow_symlinks=False)
        if not stat.S_ISLNK(info.st_mode):
            raise
        if not trust.owner(info.st_uid):
            raise _refuse_folder(path, trust) from None
        links.append(1)
        if len(links) > MAX_LINKS:
            raise OSError(errno.ELOOP, "too many links", path) from None
        return -1, os.readlink(name, dir_fd=parent)


def _walk(path: Path, trust: Trust | None, make: bool) -> tuple[int, Trust]:
    """Open the folder `path` from `/` one component at a time (O_NOFOLLOW; a link above it
    followed only when trusted users made it, then walked the same way) and check each folder
    above it. With `trust` None (a team cache) the trust is learnt from the last folder's group
    and the folders above are checked against it at the end. Missing folders are made private
    (mode 0700, set explicitly) when `make`, else a FileNotFoundError. Returns the last
    folder's open descriptor."""
    pending = list(reversed(Path(os.path.abspath(path)).parts[1:]))
    seen: list[tuple[str, os.stat_result]] = []
    current, where = os.open("/", OPEN_FOLDER), "/"
    links: list[int] = []  # one entry per link followed
    try:
        info = os.fstat(current)
        while pending:
            name = pending.pop()
            if name == "..":  # in a link's target: walk to the parent again from /
                pending.extend(reversed(Path(os.path.dirname(where)).parts[1:]))
                name = "/"
            if name in (".", "", "/"):
                if name == "/":
                    os.close(current)
                    current, where = os.open("/", OPEN_FOLDER), "/"
                    info = os.fstat(current)
                continue
            if trust is not None and not trust.folder(info):  # before anything is made in it
                raise _refuse_folder(where, trust)
            seen.append((where, info))
            below = os.path.join(where, name)
            try:
                opened, target = _open_below(current, name, below, trust or Trust(os.getuid()),
                                             links)
            except FileNotFoundError:
                if not make:
                    raise
                try:
                    os.mkdir(name, 0o700, dir_fd=current)
                except FileExistsError:  # another process made it meanwhile: check it as found
                    opened, target = _open_below(current, name, below,
                                                 trust or Trust(os.getuid()), links)
                else:
                    opened, target = os.open(name, OPEN_FOLDER, dir_fd=current), None
                    _set_mode(current, name, 0o700)
            if target is not None:
                pending.extend(reversed(Path(target).parts))  # "/" first when absolute
                continue
            os.close(current)
            current, where = opened, below
            info = os.fstat(current)
            if not stat.S_ISDIR(info.st_mode):
                raise NotADirectoryError(errno.ENOTDIR, "not a folder", where)
        trust = trust or Trust(os.getuid(), info.st_gid)
        for folder, above in seen:
            if not trust.folder(above):
                raise _refuse_folder(folder, trust)
        return current, trust
    except BaseException:
        os.close(current)
        raise


def _set_mode(parent: int, name: str, mode: int) -> None:
    """Give a folder lifgen just made its mode, which the umask may have taken bits from."""
    descriptor = os.open(name, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0)
                         | getattr(os, "O_NOFOLLOW", 0), dir_fd=parent)
    try:
        os.fchmod(descriptor, mode)
    finally:
        os.close(descriptor)


def folder_mode() -> int:
    """The mode of the cache's folders: private, or for a team cache group-writable and setgid."""
    return 0o2770 if trusts_group() else 0o700


def file_mode(executable: bool) -> int:
    """The mode of a published file: others may read it in a team cache only through the
    team's folder; nobody but the user (or the team) writes it, whatever the umask."""
    return (0o775 if executable else 0o664) if trusts_group() else (
        0o755 if executable else 0o644)


def checked_cache_root(root: Path) -> Trust:
    """Check the cache folder `root` (…/v2) and every folder above it, making what is missing
    with explicit modes, before anything is made inside it; return whom it trusts. CacheError
    for a folder others control; OSError when it cannot be made (the caller falls back)."""
    team = root.parent
    if trusts_group():  # set up by the team (README), never made here: whose would it be?
        try:
            descriptor, trust = _walk(team, None, make=False)
        except FileNotFoundError:
            raise CacheError(f"{TRUST_GROUP}=1: the team cache folder {team} does not exist; "
                             f"make it a team folder first (mkdir {team} && chgrp TEAM {team} "
                             f"&& chmod 2770 {team})") from None
    else:
        descriptor, trust = _walk(team, Trust(os.getuid()), make=True)
    try:
        _check_team_folder(team, os.fstat(descriptor), trust)
    finally:
        os.close(descriptor)
    check_cache_folder(root, trust)
    return trust


def _check_team_folder(team: Path, info: os.stat_result, trust: Trust) -> None:
    """The folder LIFGEN_CACHE_DIR names: in a team cache the team's (setgid, closed to others,
    owned by a member); otherwise a folder above the cache like the rest."""
    if trust.team is None:
        if not trust.folder(info):
            raise _refuse_folder(str(team), trust)
    elif info.st_mode & 0o002 or not info.st_mode & stat.S_ISGID or not trust.owner(info.st_uid):
        raise CacheError(f"{TRUST_GROUP}=1: the team cache {team} must belong to the team's "
                         "group, be setgid and not writable by others (chgrp TEAM; chmod 2770)")


def check_cache_folder(path: Path, trust: Trust) -> None:
    """A folder of the cache (the cache itself, locks/, tmp/, sources/): made if missing with
    lifgen's mode, else checked without following a link to be a real folder it trusts."""
    try:
        os.mkdir(path, 0o700)
        os.chmod(path, folder_mode())  # as made: not a link (mkdir makes none)
    except FileExistsError:
        pass
    info = os.lstat(path)
    if stat.S_ISLNK(info.st_mode):
        raise CacheError(f"the kernel cache folder {path} is a link, not a folder (a symbolic "
                         "link); lifgen uses the folder itself only (set LIFGEN_CACHE_DIR to "
                         "where it points)")
    if not stat.S_ISDIR(info.st_mode) or not trust.content(info):
        raise CacheError(_untrusted_folder(path, trust))
    if trust.team is not None and (info.st_mode & 0o002 or not info.st_mode & stat.S_ISGID
                                   or info.st_gid != trust.team):
        raise CacheError(f"{TRUST_GROUP}=1: the team cache {path} must belong to the team "
                         "folder's group, be setgid and not writable by others (chgrp TEAM; "
                         "chmod 2770)")


def _untrusted_folder(path: Path, trust: Trust) -> str:
    if trust.team is not None:
        return (f"{TRUST_GROUP}=1: the team cache folder {path} is a link, not a folder, or "
                "not the team's, or writable by others; lifgen loads native code from the "
                "cache, so it refuses")
    return (f"the kernel cache folder {path} is a link, not a folder, or writable by other "
            "users or not yours; lifgen loads native code from the cache, so it refuses. Fix "
            f"its permissions (chmod 700), set LIFGEN_CACHE_DIR, or, for a team cache whose "
            f"group you trust to run code in your process, set {TRUST_GROUP}=1 (the folder "
            "group-owned and chmod 2770)")
