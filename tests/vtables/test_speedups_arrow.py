"""The C reader of Arrow record batches (``_speedups.arrow_batch``): the rows
it gives are the rows pyarrow gives (NaN as NULL, booleans as 0/1), it
declines (None) what it does not read itself, it keeps the exported data
alive exactly as long as its batch, and malformed structures are errors.

The C module is used directly: built, it is there even with
SQLMED_SPEEDUPS=0, and these tests fail when it was not built.
"""

from __future__ import annotations

import ctypes
import decimal
import gc
import math
import struct
import weakref
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vtables import speedups


def _c() -> Any:
    assert speedups.built(), (
        "vtables._speedups was not built: it needs a C compiler, Python's headers and "
        "SQLite's sqlite3ext.h (Debian: libsqlite3-dev)"
    )
    return speedups._speedups


INT64_MAX = 2**63 - 1

# type -> a strategy for its values (None is added for every type)
INTS = {
    pa.int8(): 8,
    pa.int16(): 16,
    pa.int32(): 32,
    pa.int64(): 64,
}
UINTS = {pa.uint8(): 8, pa.uint16(): 16, pa.uint32(): 32, pa.uint64(): 64}


def _values(t: pa.DataType) -> st.SearchStrategy[Any]:
    if t in INTS:
        bits = INTS[t]
        return st.integers(-(2 ** (bits - 1)), 2 ** (bits - 1) - 1) | st.sampled_from(
            [-(2 ** (bits - 1)), 2 ** (bits - 1) - 1, 0, -1]
        )
    if t in UINTS:
        top = 2 ** UINTS[t] - 1
        extremes = [0, top, INT64_MAX, INT64_MAX + 1] if t == pa.uint64() else [0, top]
        # uint64 beyond int64 rarely, so that most batches are read
        return st.integers(0, min(top, INT64_MAX)) | st.sampled_from(extremes)
    if t == pa.float32():
        return st.floats(width=32) | st.sampled_from([math.nan, -0.0, math.inf])
    if t == pa.float64():
        return st.floats() | st.sampled_from([math.nan, -0.0, math.inf, -math.inf, 5e-324])
    if t == pa.bool_():
        return st.booleans()
    if t in (pa.string(), pa.large_string()):
        # astral characters and NUL included; no lone surrogates (not UTF-8)
        return st.text() | st.sampled_from(["", "\U0001f600x", "\x00", "é" * 3])
    if t in (pa.binary(), pa.large_binary()):
        return st.binary()
    assert t == pa.null()
    return st.none()


TYPES = [
    *INTS,
    *UINTS,
    pa.float32(),
    pa.float64(),
    pa.bool_(),
    pa.string(),
    pa.large_string(),
    pa.binary(),
    pa.large_binary(),
    pa.null(),
]


@st.composite
def columns(draw: st.DrawFn, nrows: int) -> pa.Array:
    """An array of nrows values of a random type, itself maybe a slice."""
    t = draw(st.sampled_from(TYPES))
    before = draw(st.integers(0, 3))
    after = draw(st.integers(0, 3))
    values = draw(
        st.lists(
            st.none() | _values(t), min_size=nrows + before + after, max_size=nrows + before + after
        )
    )
    array = pa.array(values, type=t)
    return array.slice(before, nrows)


@st.composite
def record_batches(draw: st.DrawFn) -> pa.RecordBatch | pa.StructArray:
    """A record batch (or a struct array without nulls) of random columns,
    maybe sliced: the columns' offsets and the batch's own."""
    nrows = draw(st.integers(0, 12))
    ncols = draw(st.integers(1, 5))
    arrays = [draw(columns(nrows)) for _ in range(ncols)]
    names = [f"c{i}" for i in range(ncols)]
    whole: pa.RecordBatch | pa.StructArray
    if draw(st.booleans()):
        whole = pa.RecordBatch.from_arrays(arrays, names=names)
    else:  # a struct array: its own offset is exported when sliced
        whole = pa.StructArray.from_arrays(arrays, names=names)
    start = draw(st.just(0) | st.integers(0, nrows))
    return whole.slice(start, draw(st.just(nrows - start) | st.integers(0, nrows - start)))


def _expected(rb: pa.RecordBatch | pa.StructArray) -> list[tuple[Any, ...]] | None:
    """The rows pyarrow gives, as SQLite would store them: NaN is NULL, a
    boolean 0 or 1; None when a uint64 value is beyond int64."""
    rows = []
    for row in rb.to_pylist():
        values = []
        for v in row.values():
            if isinstance(v, bool):
                v = int(v)
            elif isinstance(v, float) and math.isnan(v):
                v = None
            elif isinstance(v, int) and v > INT64_MAX:
                return None
            values.append(v)
        rows.append(tuple(values))
    return rows


def _exactly(rows: list[tuple[Any, ...]] | None) -> Any:
    """Rows compared with their types, and floats by their bits (-0.0)."""
    if rows is None:
        return None

    def key(v: Any) -> Any:
        return ("float", struct.pack("<d", v)) if isinstance(v, float) else (type(v), v)

    return [tuple(key(v) for v in row) for row in rows]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(record_batches())
def test_a_record_batch_reads_as_pyarrow_gives_it(rb):
    batch = _c().arrow_batch(rb)
    expected = _expected(rb)
    if expected is None:
        assert batch is None
    else:
        assert batch is not None
        assert len(batch) == len(expected)
        assert batch.width == len(rb.schema if isinstance(rb, pa.RecordBatch) else rb.type)
        assert _exactly(list(batch)) == _exactly(expected)


def test_extremes_and_text():
    c = _c()
    rb = pa.record_batch(
        {
            "i": pa.array([-(2**63), INT64_MAX, None], pa.int64()),
            "u": pa.array([INT64_MAX, 0, None], pa.uint64()),
            "f": pa.array([math.nan, math.inf, -math.inf], pa.float64()),
            "s": pa.array(["\U0010ffff\U0001f600", "", None], pa.large_string()),
            "b": pa.array([b"\x00\xff", b"", None], pa.binary()),
            "t": pa.array([True, False, None]),
            "n": pa.nulls(3),
        }
    )
    assert list(c.arrow_batch(rb)) == [
        (-(2**63), INT64_MAX, None, "\U0010ffff\U0001f600", b"\x00\xff", 1, None),
        (INT64_MAX, 0, math.inf, "", b"", 0, None),
        (None, None, -math.inf, None, None, None, None),
    ]
    # a uint64 beyond int64 declines the whole batch, but only when it is read
    big = pa.record_batch({"u": pa.array([2**64 - 1, 1, 2], pa.uint64())})
    assert c.arrow_batch(big) is None
    assert list(c.arrow_batch(big.slice(1))) == [(1,), (2,)]
    nulled = pa.record_batch({"u": pa.array([None, 2**63], pa.uint64())})
    assert c.arrow_batch(nulled) is None
    assert list(c.arrow_batch(nulled.slice(0, 1))) == [(None,)]
    empty = pa.record_batch({"a": pa.array([], pa.int64()), "s": pa.array([], pa.string())})
    assert list(c.arrow_batch(empty)) == []
    assert c.arrow_batch(empty).width == 2


UNSUPPORTED = [
    pa.array(["a", "b", "a"]).dictionary_encode(),
    pa.array([1, 2, 3], pa.date32()),
    pa.array([1, 2, 3], pa.timestamp("us")),
    pa.array([decimal.Decimal("1.5")] * 3, pa.decimal128(5, 2)),
    pa.array([{"x": 1}] * 3),
    pa.array([[1], [], None]),
    pa.array(["a", "b", "c"], pa.string_view()),
    pa.array([1.0, 2.0, 3.0], pa.float16()) if hasattr(pa, "float16") else None,
    pa.array([b"ab", b"cd", b"ef"], pa.binary(2)),
    pa.array([1, 2, 3], pa.time32("s")),
    pa.array([1, 2, 3], pa.duration("s")),
]


@pytest.mark.parametrize("column", [a for a in UNSUPPORTED if a is not None], ids=str)
def test_other_types_are_declined(column):
    rb = pa.record_batch({"ok": pa.array([1, 2, 3]), "other": column})
    assert _c().arrow_batch(rb) is None
    assert list(_c().arrow_batch(rb.select(["ok"]))) == [(1,), (2,), (3,)]


def _utf8_array(data: bytes) -> pa.Array:
    offsets = pa.py_buffer(struct.pack("<ii", 0, len(data)))
    return pa.Array.from_buffers(pa.string(), 1, [None, offsets, pa.py_buffer(data)])


# bytes near the edges of UTF-8: overlong forms, surrogates, beyond U+10FFFF
EDGES = [
    b"\xc0\x80",
    b"\xc1\xbf",
    b"\xc2\x80",
    b"\xdf\xbf",
    b"\xe0\x9f\xbf",
    b"\xe0\xa0\x80",
    b"\xed\x9f\xbf",
    b"\xed\xa0\x80",
    b"\xed\xbf\xbf",
    b"\xee\x80\x80",
    b"\xf0\x8f\xbf\xbf",
    b"\xf0\x90\x80\x80",
    b"\xf4\x8f\xbf\xbf",
    b"\xf4\x90\x80\x80",
    b"\xf5\x80\x80\x80",
    b"\xff",
    b"\x80",
    b"\xe2\x82",
    b"\xe2\x28\xa1",
    b"abcdefgh\xe2\x82\xac",
]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.sampled_from(EDGES) | st.text().map(str.encode) | st.binary(max_size=6)).map(
        b"".join
    )
)
def test_text_is_read_only_when_python_would_decode_it(data):
    rb = pa.record_batch({"s": _utf8_array(data)})
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        assert _c().arrow_batch(rb) is None
    else:
        assert list(_c().arrow_batch(rb)) == [(text,)]


def test_the_batch_keeps_the_record_batch_alive():
    c = _c()
    gc.collect()
    before = pa.total_allocated_bytes()
    n = 100_000
    rb = pa.record_batch({"i": pa.array(range(n)), "s": pa.array([f"v{i}" for i in range(n)])})
    seen = weakref.ref(rb)
    batch = c.arrow_batch(rb)
    del rb
    gc.collect()
    assert seen() is not None  # held by the batch
    assert pa.total_allocated_bytes() > before
    assert batch[n - 1] == (n - 1, f"v{n - 1}")
    assert list(batch)[:2] == [(0, "v0"), (1, "v1")]
    del batch
    gc.collect()
    assert seen() is None
    assert pa.total_allocated_bytes() == before  # released when the batch died


def test_what_is_not_a_record_batch_is_an_error():
    c = _c()

    class Returns:
        def __init__(self, value):
            self.value = value

        def __arrow_c_array__(self, requested_schema=None):
            return self.value

    rb = pa.record_batch({"a": [1]})
    schema, array = rb.__arrow_c_array__()
    with pytest.raises(AttributeError):
        c.arrow_batch([1, 2])
    with pytest.raises(TypeError, match="pair of capsules"):
        c.arrow_batch(Returns(None))
    with pytest.raises(TypeError, match="pair of capsules"):
        c.arrow_batch(Returns((schema,)))
    with pytest.raises(ValueError):
        c.arrow_batch(Returns((array, schema)))
    with pytest.raises(TypeError, match="struct array"):
        c.arrow_batch(pa.array([1, 2]))
    # a struct array with a null row is not a record batch's
    nullrow = pa.array([{"x": 1}, None, {"x": 3}])
    assert c.arrow_batch(nullrow) is None
    assert list(c.arrow_batch(nullrow.slice(2))) == [(3,)]


# ------------------------------------------------------ hand-made structures


class Schema(ctypes.Structure):
    pass


class Array(ctypes.Structure):
    pass


RELEASE_SCHEMA = ctypes.CFUNCTYPE(None, ctypes.POINTER(Schema))
RELEASE_ARRAY = ctypes.CFUNCTYPE(None, ctypes.POINTER(Array))
Schema._fields_ = [
    ("format", ctypes.c_char_p),
    ("name", ctypes.c_char_p),
    ("metadata", ctypes.c_char_p),
    ("flags", ctypes.c_int64),
    ("n_children", ctypes.c_int64),
    ("children", ctypes.POINTER(ctypes.POINTER(Schema))),
    ("dictionary", ctypes.POINTER(Schema)),
    ("release", RELEASE_SCHEMA),
    ("private_data", ctypes.c_void_p),
]
Array._fields_ = [
    ("length", ctypes.c_int64),
    ("null_count", ctypes.c_int64),
    ("offset", ctypes.c_int64),
    ("n_buffers", ctypes.c_int64),
    ("n_children", ctypes.c_int64),
    ("buffers", ctypes.POINTER(ctypes.c_void_p)),
    ("children", ctypes.POINTER(ctypes.POINTER(Array))),
    ("dictionary", ctypes.POINTER(Array)),
    ("release", RELEASE_ARRAY),
    ("private_data", ctypes.c_void_p),
]
_no_schema_release = RELEASE_SCHEMA(lambda s: None)
_no_array_release = RELEASE_ARRAY(lambda a: None)
_capsule = ctypes.pythonapi.PyCapsule_New
_capsule.restype = ctypes.py_object
_capsule.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_void_p]


class HandMade:
    """One int64 column "l" of 3 rows and one utf8 column "u", made by hand
    (the structures live as long as this object; no release does anything);
    the tests break one field at a time."""

    def __init__(self):
        self.ints = (ctypes.c_int64 * 3)(1, 2, 3)
        self.offsets = (ctypes.c_int32 * 4)(0, 1, 1, 3)
        self.text = ctypes.create_string_buffer(b"abc")
        self.schemas = [self._schema(b"l"), self._schema(b"u")]
        self.arrays = [
            self._array(3, [None, ctypes.addressof(self.ints)]),
            self._array(3, [None, ctypes.addressof(self.offsets), ctypes.addressof(self.text)]),
        ]
        self.top_schema = self._schema(b"+s", self.schemas)
        self.top = self._array(3, [None], self.arrays)

    def _schema(self, fmt, children=()):
        s = Schema(format=fmt, n_children=len(children), release=_no_schema_release)
        s.kids = (ctypes.POINTER(Schema) * max(len(children), 1))(
            *[ctypes.pointer(k) for k in children]
        )
        s.children = s.kids
        return s

    def _array(self, length, buffers, children=()):
        a = Array(
            length=length,
            n_buffers=len(buffers),
            n_children=len(children),
            release=_no_array_release,
        )
        a.bufs = (ctypes.c_void_p * len(buffers))(*buffers)
        a.buffers = a.bufs
        a.kids = (ctypes.POINTER(Array) * max(len(children), 1))(
            *[ctypes.pointer(k) for k in children]
        )
        a.children = a.kids
        return a

    def __arrow_c_array__(self, requested_schema=None):
        return (
            _capsule(ctypes.addressof(self.top_schema), b"arrow_schema", None),
            _capsule(ctypes.addressof(self.top), b"arrow_array", None),
        )


def _break(what):
    h = HandMade()
    what(h)
    return h


def test_hand_made_structures_are_read():
    c = _c()
    assert list(c.arrow_batch(HandMade())) == [(1, "a"), (2, ""), (3, "bc")]

    def sliced(h):  # the struct's offset, then each child's
        h.top.offset, h.top.length = 1, 2

    assert list(c.arrow_batch(_break(sliced))) == [(2, ""), (3, "bc")]

    def child_sliced(h):
        h.top.length = h.arrays[0].length = h.arrays[1].length = 2
        h.arrays[0].offset = h.arrays[1].offset = 1

    assert list(c.arrow_batch(_break(child_sliced))) == [(2, ""), (3, "bc")]

    def nulls(h):  # a null count not computed (-1): the bitmap decides
        h.valid = (ctypes.c_uint8 * 1)(0b101)
        h.arrays[0].null_count = h.arrays[1].null_count = -1
        h.arrays[0].bufs[0] = h.arrays[1].bufs[0] = ctypes.addressof(h.valid)

    assert list(c.arrow_batch(_break(nulls))) == [(1, "a"), (None, None), (3, "bc")]

    def no_bitmap(h):  # nulls counted but no bitmap (the spec forbids it): all valid
        h.arrays[0].null_count = 2

    assert list(c.arrow_batch(_break(no_bitmap))) == [(1, "a"), (2, ""), (3, "bc")]

    def dictionary(h):
        h.schemas[0].dictionary = ctypes.pointer(h.schemas[1])

    assert c.arrow_batch(_break(dictionary)) is None
    with pytest.raises(MemoryError):  # more cells than memory can address
        c.arrow_batch(_break(lambda h: setattr(h.top, "length", 2**62)))


def _no_children(h):
    h.top.n_children = h.top_schema.n_children = -1


RELEASED = "missing or released"
OFFSETS = "negative or overflowing offset or length"
BUFFERS = "wrong number of buffers"
BROKEN: dict[str, tuple[Any, str]] = {  # what breaks it, what the error says
    "released": (lambda h: setattr(h.top, "release", RELEASE_ARRAY()), "released structure"),
    "schema released": (
        lambda h: setattr(h.top_schema, "release", RELEASE_SCHEMA()),
        "released structure",
    ),
    "child released": (lambda h: setattr(h.arrays[0], "release", RELEASE_ARRAY()), RELEASED),
    "child missing": (lambda h: h.top.kids.__setitem__(1, None), "column 1: a " + RELEASED),
    "children": (lambda h: setattr(h.top, "n_children", 1), "do not match the schema"),
    "negative children": (_no_children, "do not match the schema"),
    "no children": (lambda h: setattr(h.top, "children", None), "do not match the schema"),
    "negative length": (lambda h: setattr(h.top, "length", -1), OFFSETS),
    "negative offset": (lambda h: setattr(h.top, "offset", -1), OFFSETS),
    "overflowing offset": (lambda h: setattr(h.top, "offset", 2**63 - 2), OFFSETS),
    "struct buffers": (lambda h: setattr(h.top, "n_buffers", 0), BUFFERS),
    "no buffers": (lambda h: setattr(h.arrays[0], "buffers", None), "column 0: the " + BUFFERS),
    "child buffers": (lambda h: setattr(h.arrays[1], "n_buffers", 2), "column 1: the " + BUFFERS),
    "short child": (lambda h: setattr(h.arrays[0], "length", 2), "shorter than the batch"),
    "offset beyond child": (lambda h: setattr(h.top, "offset", 1), "shorter than the batch"),
    "child offset": (lambda h: setattr(h.arrays[0], "offset", 2**63 - 2), OFFSETS),
    "negative child offset": (lambda h: setattr(h.arrays[0], "offset", -1), OFFSETS),
    "no values": (lambda h: h.arrays[0].bufs.__setitem__(1, None), "no values buffer"),
    "no data": (lambda h: h.arrays[1].bufs.__setitem__(2, None), "no data buffer"),
    "backwards": (lambda h: h.offsets.__setitem__(2, 0), "offsets that go backwards"),
    "negative text offset": (lambda h: h.offsets.__setitem__(0, -1), "offsets that go backwards"),
}


@pytest.mark.parametrize("name", BROKEN)
def test_malformed_structures_are_errors(name):
    breaks, message = BROKEN[name]
    with pytest.raises(ValueError, match="malformed Arrow record batch: .*" + message):
        _c().arrow_batch(_break(breaks))


# ------------------------------------------------ sum_reals: SQLite's sum()


@settings(max_examples=300, deadline=None)
@given(
    values=st.lists(
        st.one_of(
            st.floats(allow_nan=True, allow_infinity=True),
            st.sampled_from([0.1, 1 / 3, 1e308, -1e308, 2.0**53, -0.0, 1e16, 5e-324]),
        ),
        max_size=40,
    ),
    cut=st.integers(0, 40),
)
def test_sum_reals_is_sqlites_sum(values, cut):
    """Carried over two buffers, the state finishes as SQLite's own sum()."""
    import array

    import apsw

    c = _c()
    total, error, count = 0.0, 0.0, 0
    for part in (values[:cut], values[cut:]):
        total, error, count = c.sum_reals(array.array("d", part), total, error, count)
    db = apsw.Connection(":memory:")
    db.execute("CREATE TABLE t (x REAL)")
    db.executemany("INSERT INTO t VALUES (?)", [(v,) for v in values])
    want = db.execute("SELECT sum(x), count(x) FROM t").fetchall()[0]
    got = None
    if count:
        got = total if math.isinf(error) or math.isnan(error) else total + error
        got = None if math.isnan(got) else got
    assert (repr(got), count) == (repr(want[0]), want[1])


def test_sum_reals_refuses_what_is_not_doubles():
    with pytest.raises(ValueError, match="not of doubles"):
        _c().sum_reals(b"\x00" * 7, 0.0, 0.0, 0)
    with pytest.raises(TypeError):
        _c().sum_reals("text", 0.0, 0.0, 0)
