"""Reading YAML files (the config, profiles) and secret files so that no file can bomb the
exporter or make an error message quote it.

Every limit is a refusal with one line that names the file, the line and what is wrong, never
the text of the line: a secret may stand there. The limits:

- size: a config or profile file of more than :data:`MAX_YAML_BYTES`; a secret file of more than
  :data:`MAX_SECRET_BYTES`, or one that is not a regular file (a FIFO would block the read
  forever, ``/dev/zero`` never ends, a folder has no text);
- text: binary data, control characters, a byte-order mark or anything but UTF-8;
- shape: nesting deeper than :data:`MAX_DEPTH` (Python's recursion would break first), more
  than :data:`MAX_NODES` nodes once aliases and merge keys are expanded (a 900-byte
  "billion laughs" otherwise expands to gigabytes), an alias that contains itself;
- keys: a key given twice in one mapping (YAML would silently keep the last one).
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path
from typing import Any

import yaml
from yaml.composer import Composer, ComposerError
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.parser import Parser
from yaml.reader import Reader
from yaml.resolver import Resolver
from yaml.scanner import Scanner

from chm_exporter.errors import ConfigError

MAX_YAML_BYTES = 4 * 1024 * 1024
MAX_SECRET_BYTES = 64 * 1024
MAX_DEPTH = 64
MAX_NODES = 1_000_000
_MERGE_TAG = "tag:yaml.org,2002:merge"
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")
_PLAIN_KEY = re.compile(r"[A-Za-z0-9_.\-]{1,64}")
_TOKEN_NAME = re.compile(r"'<[a-z ]+>'|'[^\w\s]{1,3}'")


def read_bounded(path: Path | str, max_bytes: int, what: str) -> bytes:
    """The bytes of a regular file of at most `max_bytes`, read without ever blocking on it.

    Raises:
        ConfigError: the file is missing, unreadable, not a regular file, or too large.
    """
    path = Path(path)
    try:
        # O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer forever.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    except OSError as exc:
        raise ConfigError(f"cannot read {what} {path}: {exc.strerror}") from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise ConfigError(f"{what} {path} is {_kind(mode)}, not a regular file")
        chunks: list[bytes] = []
        size = 0
        while size <= max_bytes:
            chunk = os.read(fd, max_bytes + 1 - size)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except OSError as exc:
        raise ConfigError(f"cannot read {what} {path}: {exc.strerror}") from None
    finally:
        os.close(fd)
    if size > max_bytes:
        raise ConfigError(f"{what} {path} is larger than {max_bytes} bytes")
    return b"".join(chunks)


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "a special file"


def decode_text(data: bytes, source: str, what: str) -> str:
    """UTF-8 text without binary data; the refusal names the line, never the bytes.

    Raises:
        ConfigError: the data is binary, has a byte-order mark, or is not UTF-8.
    """
    if data.startswith((b"\xff\xfe", b"\xfe\xff", b"\xef\xbb\xbf")):
        raise ConfigError(f"{source}: the {what} starts with a byte-order mark; save it as UTF-8")
    if b"\x00" in data:
        line = data.count(b"\n", 0, data.index(b"\x00")) + 1
        raise ConfigError(f"{source}:{line}: the {what} holds binary data (a NUL byte)")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ConfigError(f"{source}:{line}: the {what} is not UTF-8 text") from None
    found = _CONTROL.search(text)
    if found:
        line = text.count("\n", 0, found.start()) + 1
        raise ConfigError(f"{source}:{line}: the {what} holds a control character")
    return text


def read_secret_file(path: Path | str) -> str:
    """The text of a secret file (a regular file of bounded size), without its final newline.

    Raises:
        ConfigError: naming the file and what is wrong; never a byte of its content.
    """
    data = read_bounded(path, MAX_SECRET_BYTES, "secret file")
    return decode_text(data, str(path), "secret file").rstrip("\r\n")


def load_yaml_file(path: Path | str, what: str = "file") -> Any:
    """Read and parse a YAML file within the limits above.

    Raises:
        ConfigError: one line naming the file, the line and the problem.
    """
    data = read_bounded(path, MAX_YAML_BYTES, what)
    return load_yaml(decode_text(data, str(path), what), str(path))


def load_yaml(text: str, source: str) -> Any:
    """Parse YAML text within the limits above; `source` names it in errors.

    Raises:
        ConfigError: one line naming the source, the line and the problem.
    """
    if len(text) > MAX_YAML_BYTES:
        raise ConfigError(f"{source}: larger than {MAX_YAML_BYTES} bytes")
    loader = BoundedLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _check_expanded_size(node, source)
        return loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        raise ConfigError(_describe(exc, source)) from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}: not valid YAML ({type(exc).__name__})") from None
    except RecursionError:
        raise ConfigError(f"{source}: nested too deeply") from None
    except (ValueError, OverflowError):
        raise ConfigError(f"{source}: a value that cannot be read") from None
    finally:
        loader.dispose()


def _describe(exc: yaml.MarkedYAMLError, source: str) -> str:
    mark = exc.problem_mark or exc.context_mark
    where = f"{source}:{mark.line + 1}:{mark.column + 1}" if mark is not None else source
    problem = _redact(exc.problem or exc.context or "not valid YAML")
    return f"{where}: not valid YAML: {problem}"


def _redact(problem: str) -> str:
    """PyYAML quotes the offending character or text; keep token names, drop the rest."""
    return _QUOTED.sub(
        lambda m: m.group(0) if _TOKEN_NAME.fullmatch(m.group(0)) else "(text left out)", problem
    )


class _PyEvents(Reader, Scanner, Parser):
    """PyYAML's own event parser, where libyaml is missing."""

    def __init__(self, stream: str) -> None:
        Reader.__init__(self, stream)
        Scanner.__init__(self)
        Parser.__init__(self)


try:
    # libyaml's events are 4-6 times faster than PyYAML's own (a 20,000-module config: 2 s
    # instead of 13 s here). Its composer, though, recurses in C without a limit (1,000,000
    # nested brackets crash the process), so composing stays with PyYAML's, which counts depth.
    from yaml._yaml import CParser as _Events
except ImportError:  # pragma: no cover - PyYAML's wheels for Linux carry libyaml
    _Events = _PyEvents  # type: ignore[assignment,misc]


class BoundedLoader(Composer, _Events, SafeConstructor, Resolver):
    """A safe loader that refuses deep nesting and duplicate keys and names only positions; the
    node graph it composes is checked by :func:`_check_expanded_size` before construction."""

    def __init__(self, stream: str) -> None:
        _Events.__init__(self, stream)
        Composer.__init__(self)
        SafeConstructor.__init__(self)
        Resolver.__init__(self)
        self._depth = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                event = self.peek_event()
                mark = event.start_mark if event is not None else None
                problem = f"nested deeper than {MAX_DEPTH} levels"
                raise ComposerError(None, None, problem, mark)  # type: ignore[arg-type]
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            if key_node.tag == _MERGE_TAG:
                continue
            key = self.construct_object(key_node, deep=True)
            try:
                duplicate = key in seen
                seen.add(key)
            except TypeError:
                continue  # an unhashable key: the base class refuses it with its own message
            if duplicate:
                # The key itself is not named: it is the line's text (see shown_key).
                raise ConstructorError(
                    "while constructing a mapping",
                    node.start_mark,
                    "a key given twice in one mapping",
                    key_node.start_mark,
                )
        return super().construct_mapping(node, deep=deep)

    def construct_object(self, node: Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep=deep)
        except (ValueError, OverflowError):
            # int() of 5,000 digits, a date of month 13: PyYAML lets these escape unmarked.
            raise ConstructorError(
                None, None, "a value that cannot be read (too large or malformed)", node.start_mark
            ) from None


def shown_key(key: object) -> str:
    """A key as an error message may show it. Keys name fields, but a typo can make a secret
    part of one (``{community secret}`` or ``community:secret`` is a key with no value): a key
    that is not a plain name (letters, digits, ``_.-``, at most 64) is left out."""
    text = str(key)
    return text if _PLAIN_KEY.fullmatch(text) else "(a key that is not a plain name)"


def _check_expanded_size(root: Node, source: str) -> None:
    """Count the nodes the document has once every alias is expanded (merge keys copy them);
    refuse a bomb before construction spends memory on it, and an alias inside itself."""
    sizes: dict[int, int] = {}
    visiting: set[int] = set()

    def size(node: Node, depth: int) -> int:
        key = id(node)
        known = sizes.get(key)
        if known is not None:
            return known
        if key in visiting:
            raise ConfigError(
                f"{source}:{node.start_mark.line + 1}: an alias refers to a node that contains it"
            )
        if depth > MAX_DEPTH:
            raise ConfigError(
                f"{source}:{node.start_mark.line + 1}: nested deeper than {MAX_DEPTH} levels"
            )
        visiting.add(key)
        total = 1
        if isinstance(node, SequenceNode):
            children: list[Node] = list(node.value)
        elif isinstance(node, MappingNode):
            children = [n for pair in node.value for n in pair]
        else:
            children = []
        for child in children:
            total += size(child, depth + 1)
            if total > MAX_NODES:
                raise ConfigError(
                    f"{source}:{node.start_mark.line + 1}: more than {MAX_NODES} values once "
                    "aliases are expanded"
                )
        visiting.discard(key)
        sizes[key] = total
        return total

    if not isinstance(root, ScalarNode):
        size(root, 0)


def line_of(text: str, loc: tuple[str | int, ...]) -> int | None:
    """The line (1-based) of the deepest node along the field path `loc` (a pydantic error's
    location), so a validation error can name where it stands; None when not found."""
    loader = BoundedLoader(text)
    try:
        node = loader.get_single_node()
    except (yaml.YAMLError, RecursionError):
        return None
    finally:
        loader.dispose()
    if node is None:
        return None
    for part in loc:  # parts the file does not hold (a union's tag) are stepped over
        node = _child(node, part) or node
    return node.start_mark.line + 1


def _child(node: Node, part: str | int) -> Node | None:
    if isinstance(node, MappingNode):
        for key_node, value_node in node.value:
            if isinstance(key_node, ScalarNode) and key_node.value == str(part):
                return value_node  # type: ignore[no-any-return]
    if isinstance(node, SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
        return node.value[part]  # type: ignore[no-any-return]
    return None
