"""Trusted readers of artifacts refuse crafted files before parsing or allocating them."""

from __future__ import annotations

import json
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import pytest
from numpy.lib import format as npy

from grader.checks._support import CheckContext, CheckFailed
from grader.profiles import get_profile
from grader.results import safe_io
from grader.results.safe_io import ArtifactError, json_depth, npz_members, parse_json, read_json, read_npz

FIX = "write arrays with np.savez (stored members), never np.savez_compressed or a hand-made zip"
DEEP = "JSON nested more than 100 levels deep; write plain records (lists of numbers, flat dicts)"


def _npy_member(path: Path, name: str, shape: tuple, data: bytes, *, compress=zipfile.ZIP_STORED,
                descr: str = "<f8", chunks: int = 1) -> Path:
    """An .npz with one member: a real .npy header declaring ``shape``, then ``data`` ``chunks`` times."""
    with zipfile.ZipFile(path, "w", compression=compress) as zf:
        with zf.open(f"{name}.npy", "w", force_zip64=True) as fh:
            npy.write_array_header_1_0(fh, {"descr": descr, "fortran_order": False, "shape": shape})
            for _ in range(chunks):
                fh.write(data)
    return path


def _no_array_reads(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("an array was read")
    monkeypatch.setattr(npy, "read_array", refuse)


# ---- .npz -----------------------------------------------------------------------------------------

def test_arrays_written_with_savez_round_trip(tmp_path):
    arrays = {"labels": np.array([0, 2, 1]), "x": np.ones((2, 3), np.float32), "s": np.array(["a", "bc"]),
              "empty": np.zeros((0, 4))}
    np.savez(tmp_path / "a.npz", **arrays)
    got = read_npz(tmp_path / "a.npz")
    assert list(got) == list(arrays)
    for key, arr in arrays.items():
        assert got[key].dtype == arr.dtype and np.array_equal(got[key], arr)
    assert list(read_npz(tmp_path / "a.npz", ["x"])) == ["x"]
    with pytest.raises(KeyError, match=r"'y' is not among the arrays \['empty', 'labels', 's', 'x'\]"):
        read_npz(tmp_path / "a.npz", ["y"])
    assert [(m.key, m.shape, str(m.dtype), m.nbytes) for m in npz_members(tmp_path / "a.npz")] == [
        ("labels", (3,), "int64", 24), ("x", (2, 3), "float32", 24), ("s", (2,), "<U2", 16),
        ("empty", (0, 4), "float64", 0)]


def test_a_compressed_member_is_refused(tmp_path):
    np.savez_compressed(tmp_path / "c.npz", proba=np.zeros(1000))
    with pytest.raises(ArtifactError) as err:
        read_npz(tmp_path / "c.npz")
    assert str(err.value) == f"member 'proba.npy' is compressed (zip method 8); {FIX}"


def test_a_decompression_bomb_is_refused_without_inflating_it(tmp_path, monkeypatch):
    """1 MiB of zeros deflated 256 times: a 256 KB file that would inflate to 256 MiB."""
    n = 256 * 1024 * 1024 // 8
    bomb = _npy_member(tmp_path / "bomb.npz", "labels", (n,), bytes(1 << 20), compress=zipfile.ZIP_DEFLATED,
                       chunks=256)
    assert bomb.stat().st_size < 1 << 20
    _no_array_reads(monkeypatch)
    tracemalloc.start()
    try:
        with pytest.raises(ArtifactError) as err:
            read_npz(bomb)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert str(err.value) == f"member 'labels.npy' is compressed (zip method 8); {FIX}"
    assert peak < 1 << 20


def test_a_huge_declared_shape_is_refused_from_the_header_alone(tmp_path, monkeypatch):
    _no_array_reads(monkeypatch)
    huge = _npy_member(tmp_path / "huge.npz", "X_res", (1 << 40, 30), b"\0" * 16)
    with pytest.raises(ArtifactError) as err:
        npz_members(huge)
    assert str(err.value) == ("member 'X_res.npy' declares shape (1099511627776, 30) of float64 "
                              "(263882790666240 bytes), over the 536870912 byte cap")
    # Under the cap but more than the member holds: numpy would allocate the declared 8 MB first.
    short = _npy_member(tmp_path / "short.npz", "X_res", (1_000_000,), b"\0" * 16)
    with pytest.raises(ArtifactError) as err:
        read_npz(short)
    assert str(err.value) == ("member 'X_res.npy' declares shape (1000000,) of float64 (8000000 bytes) but "
                              "holds 16 bytes of data")


def test_zero_size_items_cannot_declare_a_huge_count(tmp_path, monkeypatch):
    _no_array_reads(monkeypatch)
    path = _npy_member(tmp_path / "v0.npz", "a", (10 ** 15,), b"", descr="|V0")
    with pytest.raises(ArtifactError) as err:
        read_npz(path)
    assert str(err.value) == "member 'a.npy' declares shape (1000000000000000,) of |V0 (0 bytes) but holds 0 bytes of data"


def test_object_arrays_are_refused(tmp_path):
    np.savez(tmp_path / "o.npz", a=np.array([{"x": 1}, None], dtype=object))
    with pytest.raises(ArtifactError) as err:
        read_npz(tmp_path / "o.npz")
    assert str(err.value) == "member 'a.npy' has dtype object, which needs pickle; write a numeric, bool or string array"


def test_other_zip_contents_are_refused(tmp_path):
    with zipfile.ZipFile(tmp_path / "t.npz", "w") as zf:
        zf.writestr("notes.txt", "hello")
    (tmp_path / "x.npz").write_bytes(b"not a zip")
    with zipfile.ZipFile(tmp_path / "many.npz", "w") as zf:
        for i in range(safe_io.MAX_NPZ_MEMBERS + 1):
            zf.writestr(f"a{i}.npy", b"")
    for name, message in (("t.npz", f"member 'notes.txt' is not a .npy array; {FIX}"),
                          ("x.npz", "not a valid .npz (zip) archive: File is not a zip file"),
                          ("many.npz", "257 members is over the cap of 256 arrays")):
        with pytest.raises(ArtifactError) as err:
            read_npz(tmp_path / name)
        assert str(err.value) == message


# ---- JSON -----------------------------------------------------------------------------------------

def test_json_depth_skips_strings_and_stops_early():
    assert json_depth('{"a": [[1, {"b": "[[[[{{"}]]], "c": "\\"]]"}') == 4
    assert json_depth("[" * 200_000 + "]" * 200_000) == 200_000
    assert json_depth("[" * 200_000 + "]" * 200_000, 100) > 100
    assert json_depth('"\\"' * 100_000 + "[[") == 0          # an unterminated string runs to the end


def test_json_within_the_depth_is_parsed_and_deeper_is_refused(tmp_path):
    nested = 1
    for _ in range(100):
        nested = [nested]
    assert parse_json("[" * 100 + "1" + "]" * 100) == nested
    with pytest.raises(ArtifactError) as err:
        parse_json("[" * 101 + "]" * 101)
    assert str(err.value) == DEEP
    (tmp_path / "deep.json").write_text("[" * 200_000 + "]" * 200_000)
    with pytest.raises(ArtifactError) as err:
        read_json(tmp_path / "deep.json")
    assert str(err.value) == DEEP
    (tmp_path / "big.json").write_text("[" + "0," * 100 + "0]")
    with pytest.raises(ArtifactError) as err:
        read_json(tmp_path / "big.json", max_bytes=100)
    assert str(err.value) == "203 bytes of JSON is over the 100 byte cap"


# ---- the check phase --------------------------------------------------------------------------------

@pytest.fixture
def ctx(tmp_path):
    art = tmp_path / "artifacts"
    (art / "steps").mkdir(parents=True)
    (art / "nli").mkdir()
    (art / "steps" / "nli.params.json").write_text(json.dumps({"step": "nli.params", "status": "ok"}))
    (art / "manifest.json").write_text(json.dumps({"nli/params.json": "nli.params",
                                                   "nli/lora_scaling.npz": "nli.params"}))
    return CheckContext(art, tmp_path / "heldback", get_profile("smoke"))


def test_a_200k_deep_json_artifact_fails_the_check_as_malformed(ctx):
    (ctx.artifacts / "nli" / "params.json").write_text("[" * 200_000 + "]" * 200_000)
    with pytest.raises(CheckFailed) as err:
        ctx.artifact_json("nli/params.json", step="nli.params")
    assert err.value.en == (f"The artifact nli/params.json is malformed (ArtifactError: {DEEP}); "
                            f"your code returned something of the wrong type or shape.")
    assert err.value.fa.startswith(f"فایل nli/params.json خراب است (ArtifactError: {DEEP})")


def test_a_deep_step_status_record_reads_as_a_crash(ctx):
    (ctx.artifacts / "steps" / "nli.params.json").write_text("[" * 200_000 + "]" * 200_000)
    assert ctx.step_status("nli.params") == {"step": "nli.params", "status": "crashed",
                                             "message": "unreadable status record"}


def test_a_bomb_npz_artifact_fails_the_check_as_malformed(ctx):
    _npy_member(ctx.artifacts / "nli" / "lora_scaling.npz", "scaling", (1 << 24,), bytes(1 << 20),
                compress=zipfile.ZIP_DEFLATED, chunks=128)
    with pytest.raises(CheckFailed) as err:
        ctx.artifact_npz("nli/lora_scaling.npz", step="nli.params")
    assert err.value.en == (f"The artifact nli/lora_scaling.npz is malformed (ArtifactError: member "
                            f"'scaling.npy' is compressed (zip method 8); {FIX}); your code returned something "
                            f"of the wrong type or shape.")


def test_the_step_writer_stores_members_uncompressed(tmp_path):
    from grader.run.step_api import StepContext

    step = StepContext(inputs=tmp_path, out=tmp_path / "out", profile=get_profile("smoke"), seed=0,
                       submission_dir=tmp_path)
    path = step.write_npz("nli/p.npz", labels=np.arange(1000))
    with zipfile.ZipFile(path) as zf:
        assert [(i.filename, i.compress_type) for i in zf.infolist()] == [("labels.npy", zipfile.ZIP_STORED)]
    assert np.array_equal(read_npz(path)["labels"], np.arange(1000))
