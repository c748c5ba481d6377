"""A model folder's files read as data from anyone (DESIGN.md §8): regular files only (a FIFO
or a device named config.json would block, or never end), their sizes bounded, JSON and YAML
parsed with their depth bounded and YAML's aliases refused, names from an index kept inside
their folder. Every problem is a one-line CheckpointError naming the file.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path, PurePosixPath, PureWindowsPath

from engine.models.common.errors import CheckpointError, cut, shown

MAX_JSON_BYTES = 64 * 2**20  # config.json, tokenizer.json, weight maps: a real one is at most a few MB
MAX_YAML_BYTES = 2**20  # audiocraft's xp.cfg: about 20 KB
MAX_DEPTH = 64  # nesting of a JSON or YAML document; real configs and tokenizers nest under 10 deep
_KINDS = ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a device"),
          (stat.S_ISBLK, "a device"), (stat.S_ISSOCK, "a socket"))


def _kind(mode: int) -> str:
    return next((name for test, name in _KINDS if test(mode)), "not a file")


def _not_regular(path, mode: int) -> CheckpointError:
    return CheckpointError(f"{path} is {_kind(mode)}, not a regular file; Motet reads model files only from "
                           f"regular files")


def regular_file(path: Path | str) -> os.stat_result:
    """``path``'s stat (links followed); CheckpointError when it is missing, unreadable or not a
    regular file."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise CheckpointError(f"{path} is missing") from None
    except (OSError, ValueError) as exc:  # permissions, a loop of links, a NUL in the name
        raise CheckpointError(f"cannot read {path}: {getattr(exc, 'strerror', None) or exc}") from None
    if not stat.S_ISREG(st.st_mode):
        raise _not_regular(path, st.st_mode)
    return st


def exists(path: Path | str) -> bool:
    """Whether anything at all (a file, a FIFO, a folder, a dangling link) is at ``path``."""
    try:
        os.lstat(path)
        return True
    except (OSError, ValueError):
        return False


def read_bytes(path: Path | str, limit: int) -> bytes:
    """The bytes of the regular file ``path``, at most ``limit`` of them (more is a CheckpointError).

    Opened without waiting (``O_NONBLOCK``) and checked on the open descriptor, so a FIFO put in
    the file's place never blocks."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise CheckpointError(f"{path} is missing") from None
    except (OSError, ValueError) as exc:
        raise CheckpointError(f"cannot read {path}: {getattr(exc, 'strerror', None) or exc}") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise _not_regular(path, st.st_mode)
        if st.st_size > limit:
            raise CheckpointError(f"{path} is {st.st_size / 2**20:.1f} MB, more than the {limit / 2**20:.0f} MB "
                                  f"Motet reads from such a file")
        chunks, total = [], 0
        while chunk := os.read(fd, min(8 * 2**20, limit + 1 - total)):
            chunks.append(chunk)
            total += len(chunk)
            if total > limit:  # it grew while being read
                raise CheckpointError(f"{path} is more than the {limit / 2**20:.0f} MB Motet reads from such a file")
        return b"".join(chunks)
    except OSError as exc:
        raise CheckpointError(f"cannot read {path}: {exc.strerror or exc}") from None
    finally:
        os.close(fd)


def check_depth(data, source: object, limit: int = MAX_DEPTH) -> None:
    """CheckpointError when lists and mappings in ``data`` nest deeper than ``limit`` (checked
    without recursion, so any depth is safe to check)."""
    stack = [(data, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            children = node.values()
        elif isinstance(node, (list, tuple)):
            children = node
        else:
            continue
        if depth > limit:
            raise CheckpointError(f"{source} nests lists or objects more than {limit} deep; no model config does")
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list, tuple)))


def parse_json(raw: bytes | str, source: object):
    """The JSON document in ``raw``, its depth checked; CheckpointError naming ``source`` otherwise."""
    try:
        data = json.loads(raw.decode("utf-8") if isinstance(raw, bytes) else raw)
    except UnicodeDecodeError as exc:
        raise CheckpointError(f"cannot read {source}: it is not UTF-8 text ({exc.reason} at byte "
                              f"{exc.start})") from None
    except RecursionError:
        raise CheckpointError(f"cannot read {source}: it nests lists or objects too deeply") from None
    except MemoryError:
        raise CheckpointError(f"cannot read {source}: it is too large to read") from None
    except ValueError as exc:  # not JSON, or a number of thousands of digits
        raise CheckpointError(f"cannot read {source}: it is not JSON: {cut(exc)}") from None
    check_depth(data, source)
    return data


def read_json(path: Path | str, limit: int = MAX_JSON_BYTES) -> dict:
    """The JSON object in the regular file ``path`` (at most ``limit`` bytes, nested at most
    MAX_DEPTH deep); CheckpointError when it is missing, unreadable or anything else."""
    data = parse_json(read_bytes(path, limit), path)
    if not isinstance(data, dict):
        raise CheckpointError(f"{path} should hold a JSON object, found {type(data).__name__}")
    return data


def check_json_file(path: Path | str, limit: int = MAX_JSON_BYTES) -> None:
    """CheckpointError unless ``path`` is a regular file of at most ``limit`` bytes (a file another
    library parses, such as tokenizer.json)."""
    st = regular_file(path)
    if st.st_size > limit:
        raise CheckpointError(f"{path} is {st.st_size / 2**20:.1f} MB, more than the {limit / 2**20:.0f} MB Motet "
                              f"reads from such a file")


def _yaml_loader():
    import yaml

    class NoAliases(yaml.SafeLoader):
        """PyYAML's safe loader without aliases: ``*name`` would share one node in many places,
        which a few lines can multiply into billions ("billion laughs")."""

        def compose_node(self, parent, index):
            if self.check_event(yaml.AliasEvent):
                mark = self.peek_event().start_mark
                raise yaml.composer.ComposerError(None, None, "an alias (*name), which Motet does not follow", mark)
            return super().compose_node(parent, index)

    return NoAliases


def parse_yaml(text, source: object, limit: int = MAX_YAML_BYTES):
    """The YAML document ``text``: plain values only (PyYAML's safe loader), no aliases, at most
    ``limit`` characters, nested at most MAX_DEPTH deep; CheckpointError naming ``source`` otherwise."""
    import yaml

    if not isinstance(text, str):
        raise CheckpointError(f"{source} should be YAML text, found {type(text).__name__}")
    if len(text) > limit:
        raise CheckpointError(f"{source} is {len(text)} characters of YAML, more than the {limit} Motet reads")
    try:
        data = yaml.load(text, Loader=_yaml_loader())  # noqa: S506 - a SafeLoader, aliases refused
    except yaml.YAMLError as exc:
        raise CheckpointError(f"{source} is not readable YAML: {cut((str(exc).splitlines() or [''])[0])}") from None
    except RecursionError:
        raise CheckpointError(f"{source} nests lists or mappings too deeply") from None
    except MemoryError:
        raise CheckpointError(f"{source} is too large to read") from None
    except (ValueError, TypeError, OverflowError) as exc:  # a number of thousands of digits, an odd key
        raise CheckpointError(f"{source} is not readable YAML: {cut(exc)}") from None
    check_depth(data, source)
    return data


def _hub_blobs(folder: Path) -> Path | None:
    """The blobs folder of a Hugging Face cache snapshot (``models--a--b/snapshots/<rev>``), whose
    files are links into it; None for any other folder."""
    if folder.parent.name == "snapshots" and folder.parent.parent.name.startswith("models--"):
        return folder.parent.parent / "blobs"
    return None


def file_inside(folder: Path | str, name, what: str) -> Path:
    """``folder / name`` for a file name read from ``what`` (an index): a relative name without
    ``..`` that stays inside ``folder`` once links are followed (a Hugging Face cache snapshot's
    links into its own blobs are fine), naming a regular file; CheckpointError otherwise."""
    folder = Path(folder)
    if not isinstance(name, str) or not name or "\0" in name:
        raise CheckpointError(f"{what} names a file {shown(name)}; expected a file name in its folder")
    posix, windows = PurePosixPath(name), PureWindowsPath(name)
    if posix.is_absolute() or windows.is_absolute() or windows.drive or ".." in posix.parts or ".." in windows.parts:
        raise CheckpointError(f"{what} names {shown(name)}, outside its folder; shards must lie in the model folder")
    path = folder / name
    try:
        resolved = path.resolve()
        roots = [folder.resolve()] + ([blobs.resolve()] if (blobs := _hub_blobs(folder)) else [])
    except (OSError, RuntimeError) as exc:  # a loop of links
        raise CheckpointError(f"cannot read {path} (named in {what}): {exc}") from None
    if not any(resolved.is_relative_to(root) for root in roots):
        raise CheckpointError(f"{what} names {shown(name)}, a link to outside its folder; shards must lie in the "
                              f"model folder")
    regular_file(path)
    return path
