"""Reading what untrusted code wrote (artifacts): JSON and ``.npz`` with every bound checked first.

The sandboxed run can write any bytes under the artifacts folder, and trusted
code (the checks, the summary, the report) reads them. A crafted file must
cost that reader neither memory nor a crash: a 2 MB ``.npz`` member that
inflates to 2 GiB, an ``.npy`` header that declares 10^12 elements (numpy
allocates the declared shape before reading), an object array (pickle), JSON
nested 200,000 deep (``RecursionError`` inside ``json``). Each of those raises
:class:`ArtifactError`, a ``ValueError``, so every reader that already treats
``ValueError`` as "the artifact is malformed" reports it as the submission's
fault, never as the grader's. This is the only place that parses artifacts.
"""

from __future__ import annotations

import json
import math
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

MAX_JSON_BYTES = 64 * 1024 * 1024
"""The largest JSON artifact read (the real ones are well under 1 MB)."""
MAX_JSON_DEPTH = 100
"""Deepest [ / { nesting read; a Keras model JSON needs about 15, and the checks walk it recursively."""
MAX_ARRAY_BYTES = 512 * 1024 * 1024
"""The largest array one ``.npz`` member may declare (the orchestrator's per-file cap)."""
MAX_NPZ_MEMBERS = 256

_NPZ_FIX = "write arrays with np.savez (stored members), never np.savez_compressed or a hand-made zip"
# A JSON string literal, possessive so that it never backtracks; an unterminated one runs to the end.
_JSON_STRING = re.compile(r'"(?:[^"\\]++|\\[\s\S]?)*+(?:"|\Z)')
_DEPTH_CHUNK = 1 << 20


class ArtifactError(ValueError):
    """An artifact that trusted code refuses to parse: oversized, too deep, compressed, or pickled."""


# ---- JSON -----------------------------------------------------------------------------------------

def json_depth(text: str, limit: int | None = None) -> int:
    """Deepest bracket nesting of JSON ``text`` (strings skipped), in linear time without recursion.

    Stops early, returning a value over ``limit``, once the nesting passes it.
    """
    import numpy as np

    skeleton = _JSON_STRING.sub("", text).encode("utf-8", "replace")
    codes = np.frombuffer(skeleton, dtype=np.uint8)
    depth = deepest = 0
    for start in range(0, codes.size, _DEPTH_CHUNK):
        c = codes[start:start + _DEPTH_CHUNK]
        step = ((c == 0x5B) | (c == 0x7B)).astype(np.int8) - ((c == 0x5D) | (c == 0x7D)).astype(np.int8)
        running = np.cumsum(step, dtype=np.int64) + depth
        deepest = max(deepest, int(running.max()))
        depth = int(running[-1])
        if limit is not None and deepest > limit:
            break
    return deepest


def parse_json(text: str, *, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """``json.loads(text)`` after checking the nesting depth; too deep raises :class:`ArtifactError`."""
    depth = json_depth(text, max_depth)
    if depth > max_depth:
        raise ArtifactError(f"JSON nested more than {max_depth} levels deep; write plain records "
                            f"(lists of numbers, flat dicts)")
    try:
        return json.loads(text)
    except RecursionError:   # a recursion limit set below max_depth: still the artifact's fault
        raise ArtifactError(f"JSON nested too deep to parse (limit {max_depth} levels)") from None


def read_json(path: Path | str, *, max_bytes: int = MAX_JSON_BYTES, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """The JSON value in ``path``: size checked before reading, depth before parsing.

    Raises OSError (unreadable), ``UnicodeDecodeError`` / ``json.JSONDecodeError`` (not JSON text) or
    :class:`ArtifactError` (over a bound); all but the first are ``ValueError``.
    """
    path = Path(path)
    size = path.stat().st_size
    if size > max_bytes:
        raise ArtifactError(f"{size} bytes of JSON is over the {max_bytes} byte cap")
    return parse_json(path.read_bytes().decode("utf-8"), max_depth=max_depth)


# ---- .npz -----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class NpzMember:
    """One ``.npy`` member as its header declares it (nothing of the data is read)."""

    key: str                 # the name np.load would give it (member name without ".npy")
    shape: tuple[int, ...]
    dtype: Any               # numpy.dtype
    nbytes: int


def _check_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, max_array_bytes: int) -> NpzMember:
    from numpy.lib import format as npy

    name = info.filename
    with zf.open(info) as fh:
        version = npy.read_magic(fh)
        if version == (1, 0):
            shape, _fortran, dtype = npy.read_array_header_1_0(fh)
        elif version == (2, 0):
            shape, _fortran, dtype = npy.read_array_header_2_0(fh)
        else:
            raise ArtifactError(f"member {name!r} has .npy format {version[0]}.{version[1]}; only 1.0 and 2.0 "
                                f"are read; {_NPZ_FIX}")
        header_bytes = fh.tell()
    if dtype.hasobject:
        raise ArtifactError(f"member {name!r} has dtype {dtype}, which needs pickle; write a numeric, bool or "
                            f"string array")
    if any(dim < 0 for dim in shape):
        raise ArtifactError(f"member {name!r} declares the invalid shape {shape}")
    count = math.prod(shape)
    nbytes = count * dtype.itemsize
    if nbytes > max_array_bytes:
        raise ArtifactError(f"member {name!r} declares shape {shape} of {dtype} ({nbytes} bytes), over the "
                            f"{max_array_bytes} byte cap")
    held = info.file_size - header_bytes
    if (nbytes if dtype.itemsize else count) > held:     # zero-size items: bound the count itself
        raise ArtifactError(f"member {name!r} declares shape {shape} of {dtype} ({nbytes} bytes) but holds "
                            f"{held} bytes of data")
    return NpzMember(name[:-4], tuple(shape), dtype, nbytes)


def _members(zf: zipfile.ZipFile, archive_bytes: int, max_array_bytes: int) -> dict[str, tuple]:
    infos = zf.infolist()
    if len(infos) > MAX_NPZ_MEMBERS:
        raise ArtifactError(f"{len(infos)} members is over the cap of {MAX_NPZ_MEMBERS} arrays")
    names = [i.filename for i in infos]
    if len(set(names)) != len(names):
        raise ArtifactError("two members share a name; " + _NPZ_FIX)
    for info in infos:
        name = info.filename
        if not name.endswith(".npy"):
            raise ArtifactError(f"member {name!r} is not a .npy array; {_NPZ_FIX}")
        if info.compress_type != zipfile.ZIP_STORED:
            raise ArtifactError(f"member {name!r} is compressed (zip method {info.compress_type}); {_NPZ_FIX}")
        if info.file_size != info.compress_size:
            raise ArtifactError(f"member {name!r} claims {info.file_size} bytes but stores {info.compress_size}")
    if sum(i.file_size for i in infos) > archive_bytes:
        # stored members cannot hold more than the archive: some overlap (a zip bomb)
        raise ArtifactError("the members hold more bytes than the archive (overlapping members); " + _NPZ_FIX)
    members = {}
    for info in infos:
        member = _check_member(zf, info, max_array_bytes)
        members[member.key] = (member, info)
    return members


def npz_members(path: Path | str, *, max_array_bytes: int = MAX_ARRAY_BYTES) -> list[NpzMember]:
    """Every member of the ``.npz`` at ``path`` as its header declares it, validated; reads no array data."""
    path = Path(path)
    try:
        with zipfile.ZipFile(path) as zf:
            return [m for m, _ in _members(zf, path.stat().st_size, max_array_bytes).values()]
    except zipfile.BadZipFile as err:
        raise ArtifactError(f"not a valid .npz (zip) archive: {err}") from None
    except EOFError as err:
        raise ArtifactError(f"a member ends early: {err}") from None


def read_npz(path: Path | str, keys: Iterable[str] | None = None, *,
             max_array_bytes: int = MAX_ARRAY_BYTES) -> dict[str, Any]:
    """Arrays of the ``.npz`` at ``path`` (all, or ``keys``), each validated from its header first.

    Every member is checked before any is loaded: stored (not deflated), a ``.npy`` header of format
    1.0/2.0, no object dtype, a declared size within ``max_array_bytes`` and within the bytes the
    member really holds. Arrays are then read with ``allow_pickle=False``. A missing key raises KeyError.
    """
    from numpy.lib import format as npy

    path = Path(path)
    try:
        with zipfile.ZipFile(path) as zf:
            members = _members(zf, path.stat().st_size, max_array_bytes)
            wanted = list(members) if keys is None else list(keys)
            arrays = {}
            for key in wanted:
                if key not in members:
                    raise KeyError(f"{key!r} is not among the arrays {sorted(members)}")
                with zf.open(members[key][1]) as fh:
                    arrays[key] = npy.read_array(fh, allow_pickle=False)
            return arrays
    except zipfile.BadZipFile as err:
        raise ArtifactError(f"not a valid .npz (zip) archive: {err}") from None
    except EOFError as err:
        raise ArtifactError(f"a member ends early: {err}") from None
