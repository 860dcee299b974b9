"""Reading files a stranger may have made: programs, `.npy`, `.npz` and zip members.

Nothing here trusts a size it has not checked. A path must name a regular file (a
FIFO would block for ever, a device never ends, a directory is not data); it is
opened without blocking and checked by `fstat`, so it cannot be swapped in between.
A `.npy` header is parsed by NumPy's own safe reader (`read_magic`,
`read_array_header_1_0/2_0`: a literal, never pickle), and the bytes it claims are
checked against `max_file_bytes` and against what the file or zip member holds
*before* they are read, so a 100-byte header claiming terabytes costs nothing. A
stream (stdin) is read up to the magic bytes, then exactly the header's size.
Zip members are read through their CRC check, so a damaged archive is an error.

Format problems raise `ValueError` with a readable reason (the caller names the
feed, state file or export and picks the KGraphError class); limits raise LimitError.
"""
from __future__ import annotations

import io
import math
import os
import stat
import zipfile
import zlib
from tokenize import TokenError

import numpy as np

from . import limits


def npy_bytes(array: np.ndarray) -> bytes:
    """`array` as the bytes of a .npy file, never pickled; bfloat16, which .npy cannot name, as
    its uint16 bits (`from_bits` reads them back)."""
    if array.dtype.name == "bfloat16":
        array = array.view(np.uint16)
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def from_bits(array: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """An array `npy_bytes` wrote, as `dtype` again (a bfloat16's uint16 bits viewed back)."""
    return array.view(dtype) if dtype.name == "bfloat16" and array.dtype == np.uint16 else array

# What a damaged zip archive or deflate stream raises while it is opened or read.
CONTAINER_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, EOFError, OSError,
                    NotImplementedError, RuntimeError, KeyError, OverflowError)
NPY_MAGIC = b"\x93NUMPY"
KINDS = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
         (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
         (stat.S_ISSOCK, "a socket"))


def open_regular(path, what: str, error=ValueError):
    """`path` opened for binary reading if it is a regular file within max_file_bytes."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise error(f"no such {what}: {path}") from None
    except OSError as e:
        raise error(f"cannot read {what} {path}: {e.strerror or e}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            kind = next((name for test, name in KINDS if test(info.st_mode)), "not a regular file")
            raise error(f"{what} {path} is {kind}, not a regular file")
        limits.check("max_file_bytes", info.st_size, f"the size of {what} {path}")
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_text(path, what: str, error=ValueError) -> str:
    with open_regular(path, what, error) as f:
        data = f.read()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise error(f"{path} is not UTF-8 text") from None


def read_npy(f, what: str, available: int | None = None) -> np.ndarray:
    """One array from a `.npy` stream; `available` is how many bytes the stream holds, if known."""
    magic = f.read(len(NPY_MAGIC))
    if magic != NPY_MAGIC:
        raise ValueError(f"{what} is not a valid .npy file (it does not start with the .npy magic bytes)")
    shape, fortran, dtype = _read_header(f, what)
    header_bytes = _position(f)
    nbytes = math.prod(shape) * dtype.itemsize
    limits.check("max_file_bytes", nbytes, f"the data the header of {what} claims (bytes)")
    if available is not None and nbytes > available - header_bytes:
        raise ValueError(f"{what} is truncated: its header claims {nbytes:,} bytes of data, "
                         f"{max(available - header_bytes, 0):,} follow")
    data = _read_exactly(f, nbytes, what)
    array = np.frombuffer(data, dtype=dtype) if nbytes else np.zeros(0, dtype)
    return array.reshape(shape, order="F" if fortran else "C")


def _read_header(f, what: str):
    fmt = np.lib.format
    try:
        version = tuple(f.read(2))
        if version == (1, 0):
            shape, fortran, dtype = fmt.read_array_header_1_0(f)
        elif version == (2, 0):
            shape, fortran, dtype = fmt.read_array_header_2_0(f)
        else:
            raise ValueError(f"format version {version} is not one kgraph reads (1.0 or 2.0)")
    except (ValueError, TypeError, SyntaxError, OverflowError, EOFError, TokenError,
            RecursionError, MemoryError) as e:  # what NumPy's literal reader raises on garbage
        raise ValueError(f"{what} is not a valid .npy file (bad header: {e})") from None
    if dtype.hasobject or dtype.subdtype is not None:
        raise ValueError(f"{what} holds pickled objects, which kgraph never loads")
    if dtype.itemsize == 0 or any(not isinstance(d, int) or d < 0 for d in shape):
        raise ValueError(f"{what} is not a valid .npy file (header: dtype {dtype}, shape {shape})")
    if len(shape) > 32:
        raise ValueError(f"{what} has {len(shape)} dimensions; kgraph takes at most 32")
    return shape, fortran, dtype


def _position(f) -> int:
    """Where a stream is (the header's length after it is read); 0 for a pipe, which has no size."""
    try:
        return f.tell()
    except (OSError, AttributeError, ValueError):
        return 0


def _read_exactly(f, nbytes: int, what: str) -> bytearray:
    buffer = bytearray(nbytes)
    view, filled = memoryview(buffer), 0
    while filled < nbytes:
        got = f.readinto(view[filled:])
        if not got:
            raise ValueError(f"{what} is truncated: its header claims {nbytes:,} bytes of data, "
                             f"{filled:,} follow")
        filled += got
    return buffer


def read_npz(path, what: str, names=None, error=ValueError) -> dict[str, np.ndarray]:
    """The arrays of a `.npz` (only `names`, if given), each member checked before it is read."""
    with _open_npz(path, what, error) as f:
        try:
            with zipfile.ZipFile(f) as z:
                members = {info.filename[:-4]: info for info in z.infolist()}
                strays = [name for name in z.namelist() if not name.endswith(".npy")]
                if strays:
                    raise error(f"{path} holds {strays[0]!r}, which is not a .npy array")
                chosen = members if names is None else {n: members[n] for n in names if n in members}
                claimed = sum(info.file_size for info in chosen.values())
                limits.check("max_file_bytes", claimed, f"the bytes the members of {what} {path} claim")
                return {name: read_member(z, info, f"{path}: member {info.filename}")
                        for name, info in chosen.items()}
        except CONTAINER_ERRORS as e:
            raise error(f"{path} is not a readable {what} (not a valid .npz archive: "
                        f"{type(e).__name__}: {e})") from None
        except ValueError as e:
            if isinstance(e, (limits.LimitError, error)):
                raise
            raise error(str(e)) from None


def npz_names(path, what: str, error=ValueError) -> list[str]:
    """The array names in a `.npz`, without reading any array."""
    with _open_npz(path, what, error) as f:
        try:
            with zipfile.ZipFile(f) as z:
                return [name[:-4] if name.endswith(".npy") else name for name in z.namelist()]
        except CONTAINER_ERRORS as e:
            raise error(f"{path} is not a readable {what} (not a valid .npz archive: "
                        f"{type(e).__name__}: {e})") from None


def _open_npz(path, what: str, error):
    f = open_regular(path, what, error)
    if f.read(len(NPY_MAGIC)) == NPY_MAGIC:
        f.close()
        raise error(f"{path} is a single .npy array, not a .npz archive")
    f.seek(0)
    return f


def _check_member(z: zipfile.ZipFile, info: zipfile.ZipInfo, what: str) -> None:
    """A member cannot hold more compressed bytes than the archive does: zipfile would try to
    read (and allocate) whatever a damaged directory claims."""
    size = os.fstat(z.fp.fileno()).st_size
    if info.compress_size > size or info.header_offset > size:
        raise ValueError(f"{what}: its zip entry claims {info.compress_size:,} bytes at offset "
                         f"{info.header_offset:,} in a file of {size:,} (the archive is damaged)")


def read_member(z: zipfile.ZipFile, info: zipfile.ZipInfo, what: str) -> np.ndarray:
    _check_member(z, info, what)
    with z.open(info) as member:
        array = read_npy(member, what, available=info.file_size)
        if member.read(1):  # reading to the end also runs the CRC check
            raise ValueError(f"{what} has bytes after its array")
    return array


def read_member_bytes(z: zipfile.ZipFile, name: str, what: str) -> bytes:
    """A zip member's bytes, its claimed size checked first and its CRC checked by reading."""
    info = z.getinfo(name)
    limits.check("max_file_bytes", info.file_size, f"the size {what} claims")
    _check_member(z, info, what)
    with z.open(info) as member:
        return member.read()
