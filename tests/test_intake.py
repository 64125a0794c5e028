"""Reading a student's files: no link is followed, only regular files of bounded size, the bytes hashed are
the bytes copied (``grader.run.intake``, and Gradescope uploads through ``grader.dist``)."""

import os
from pathlib import Path

import pytest

from grader.batch import content_hash
from grader.dist import normalise_gradescope_submission
from grader.errors import MizanError
from grader.run.intake import MAX_SOURCE_BYTES, UnsafeSubmission, copy_api_modules, read_api_sources

REPO = Path(__file__).resolve().parents[1]
HONEST = "def count_parameters(model):\n    return (1, 2)\n"


def student(tmp_path: Path, **files: str) -> Path:
    sub = tmp_path / "alice" / "submission"
    sub.mkdir(parents=True)
    for name, text in files.items():
        (sub / f"{name}.py").write_text(text)
    return sub.parent


def test_a_submission_folder_that_links_to_the_reference_is_refused(tmp_path):
    folder = tmp_path / "mallory"
    folder.mkdir()
    (folder / "submission").symlink_to(REPO / "solutions")
    with pytest.raises(UnsafeSubmission, match=r"mallory/submission is a symbolic link or not a folder"):
        read_api_sources(folder)
    with pytest.raises(UnsafeSubmission):
        content_hash(folder, "smoke")


def test_linked_special_and_oversized_modules_are_not_read(tmp_path):
    folder = student(tmp_path, nli=HONEST)
    sub = folder / "submission"
    (sub / "adasyn.py").symlink_to(REPO / "solutions" / "adasyn.py")
    os.mkfifo(sub / "fraud.py")
    (sub / "__init__.py").write_bytes(b"#" * (MAX_SOURCE_BYTES + 1))
    sources = read_api_sources(folder)
    assert sources.files == {"nli.py": HONEST.encode()}
    assert sources.refused == {"adasyn.py": "a symbolic link (only regular files are graded)",
                               "fraud.py": "not a regular file",
                               "__init__.py": f"{MAX_SOURCE_BYTES + 1} bytes, over the {MAX_SOURCE_BYTES} byte limit"}
    copied = copy_api_modules(folder, tmp_path / "run")
    assert copied == ["nli.py"]
    assert sorted(p.name for p in (tmp_path / "run" / "submission").iterdir()) == ["__init__.py", "nli.py"]
    assert (tmp_path / "run" / "submission" / "__init__.py").read_bytes() == b""


def test_the_hash_covers_the_bytes_read_not_what_a_link_points_to(tmp_path):
    honest = student(tmp_path, nli=HONEST)
    linked = tmp_path / "bob" / "submission"
    linked.mkdir(parents=True)
    (linked / "nli.py").write_text(HONEST)
    (linked / "adasyn.py").symlink_to(REPO / "solutions" / "adasyn.py")
    # The link is not read, so bob's hash is alice's: same bytes graded, same grade.
    assert content_hash(linked.parent, "smoke") == content_hash(honest, "smoke")
    (honest / "submission" / "nli.py").write_text(HONEST + "# changed\n")
    assert content_hash(linked.parent, "smoke") != content_hash(honest, "smoke")


def test_a_gradescope_upload_linking_to_the_secret_never_shows_it(tmp_path):
    secret = tmp_path / "secret"
    secret.write_text("TOP-SECRET-VALUE")
    upload = tmp_path / "upload"
    upload.mkdir()
    (upload / "nli.py").symlink_to(secret)
    (upload / "adasyn.py").write_text("class ADASYN: pass\n")
    (upload / "student.toml").symlink_to(secret)
    dest = normalise_gradescope_submission(upload, tmp_path / "dest")
    assert sorted(p.name for p in (dest / "submission").iterdir()) == ["__init__.py", "adasyn.py"]
    assert not (dest / "student.toml").exists()
    assert all(b"TOP-SECRET" not in p.read_bytes() for p in dest.rglob("*") if p.is_file())


def test_a_gradescope_upload_of_links_only_says_why(tmp_path):
    upload = tmp_path / "upload"
    (upload / "submission").mkdir(parents=True)
    (upload / "submission" / "nli.py").symlink_to("/etc/passwd")
    (upload / "nested").mkdir()
    (upload / "nested" / "submission").symlink_to(REPO / "solutions")
    with pytest.raises(MizanError, match=r"none of nli.py, adasyn.py, fraud.py as regular files "
                                         r"\(nli.py is a symbolic link \(only regular files are graded\)\)"):
        normalise_gradescope_submission(upload, tmp_path / "dest")


def test_a_gradescope_folder_upload_is_taken_without_its_student_toml(tmp_path):
    """Gradescope knows who uploaded; a malformed student.toml must not cost the results file."""
    upload = tmp_path / "upload"
    (upload / "work" / "submission").mkdir(parents=True)
    (upload / "work" / "submission" / "fraud.py").write_text("x = 1\n")
    (upload / "work" / "student.toml").write_text('name = "Sara"\n')
    dest = normalise_gradescope_submission(upload, tmp_path / "dest")
    assert (dest / "submission" / "fraud.py").read_text() == "x = 1\n"
    assert not (dest / "student.toml").exists()
