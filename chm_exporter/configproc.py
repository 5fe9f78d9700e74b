"""Loading the config in a child process, for reloads while probes run.

Parsing and validating a large config holds the GIL for seconds at a time (pydantic-core does not
release it), which a thread cannot hide from the event loop: probes then miss their deadlines. A
child process leaves the loop alone, and a config that takes too long (or too much memory) is
ended by killing the child, which no thread allows. The child sends back the pickled
:class:`LoadedConfig` or the one-line refusal; the modules come in chunks that the parent
unpickles one at a time, giving the event loop its turn between them (20,000 modules unpickled
at once held it for over a second).

Run as ``python -m chm_exporter.configproc PATH``; not meant to be started by hand.
"""

from __future__ import annotations

import asyncio
import pickle
import resource
import sys
from pathlib import Path

from chm_exporter.config import Config, LoadedConfig, load_config
from chm_exporter.errors import ConfigError

DEFAULT_TIMEOUT = 30.0
"""Seconds a reload may take: a valid config of 20,000 modules loads in a few."""
MEMORY_LIMIT = 4 * 1024**3
"""Address space of the child, in bytes: ample for any config within the size limits."""
_CHUNK = 500
"""Modules per pickled chunk: about 3 ms to unpickle."""


async def load_config_isolated(path: Path, limit: float = DEFAULT_TIMEOUT) -> LoadedConfig:
    """Load the config at `path` in a child process, within `limit` seconds.

    Raises:
        ConfigError: the config is refused, the load took too long, or the child failed.
    """
    try:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            __name__,
            str(path),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
        )
    except OSError as exc:  # out of file descriptors or processes
        raise ConfigError(f"{path}: cannot start the config loader: {exc.strerror}") from None
    try:
        async with asyncio.timeout(limit):
            out, _ = await proc.communicate()
    except TimeoutError:
        raise ConfigError(f"{path}: loading took longer than {limit:g} s; stopped") from None
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    try:
        # Our own child's output, never the network's.
        kind, *payload = pickle.loads(out)
        if kind == "error":
            raise ConfigError(str(payload[0]))
        head, chunks = payload
        fields, loaded_path, profiles = pickle.loads(head)
        modules = {}
        for chunk in chunks:
            modules.update(pickle.loads(chunk))
            await asyncio.sleep(0)
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError):
        code = proc.returncode
        raise ConfigError(f"{path}: the config loader failed (exit code {code})") from None
    # Validated in the child already: constructing again would hold the loop for seconds.
    config = Config.model_construct(**fields, modules=modules)
    return LoadedConfig(config=config, path=loaded_path, profiles=profiles)


def _pickled(loaded: LoadedConfig) -> tuple[bytes, list[bytes]]:
    """The config as (everything but the modules, the modules in chunks), each pickled."""
    config = loaded.config
    fields = {name: getattr(config, name) for name in Config.model_fields if name != "modules"}
    modules = list(config.modules.items())
    chunks = [pickle.dumps(dict(modules[i : i + _CHUNK])) for i in range(0, len(modules), _CHUNK)]
    return pickle.dumps((fields, loaded.path, loaded.profiles)), chunks


def _child(path: str) -> int:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))
    try:
        result: tuple[object, ...] = ("ok", *_pickled(load_config(path)))
    except ConfigError as exc:
        result = ("error", str(exc))
    except MemoryError:
        result = ("error", f"{path}: loading needs more than {MEMORY_LIMIT} bytes of memory")
    sys.stdout.buffer.write(pickle.dumps(result))
    sys.stdout.buffer.flush()
    return 0


if __name__ == "__main__":
    sys.exit(_child(sys.argv[1]))
