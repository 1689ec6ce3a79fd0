"""book.yml: the real manifest validates, and each kind of malformed manifest is refused clearly."""

from __future__ import annotations

import copy
import shutil
from pathlib import Path

import pytest
import yaml

from minillm.cli import main as cli_main
from minillm.course.book import BookError, load_book, parse_book

ROOT = Path(__file__).resolve().parents[1]


def test_real_manifest_is_valid_with_files_modules_and_exercises():
    book = load_book(ROOT / "book.yml", check_files=True)
    assert book.ready(), "book.yml lists no ready chapter"
    assert book.ready()[0].number == 0


def test_cli_check_book(capsys):
    assert cli_main(["check-book", str(ROOT / "book.yml")]) == 0
    assert "chapters" in capsys.readouterr().out


def raw():
    return yaml.safe_load((ROOT / "book.yml").read_text())


def first_ready(data):
    return next(c for c in data["chapters"] if c.get("status", "ready") == "ready")


def test_missing_key_names_entry_and_key():
    data = raw()
    del first_ready(data)["budget_minutes"]
    with pytest.raises(BookError, match=r"chapter 'what-is-an-llm'.*missing the key 'budget_minutes'.*add it"):
        parse_book(data)


def test_bad_type_names_entry_key_and_expected_type():
    data = raw()
    first_ready(data)["budget_minutes"] = "two"
    with pytest.raises(BookError, match=r"'what-is-an-llm'.*budget_minutes: 'two' of type str; it must be int or float"):
        parse_book(data)
    data = raw()
    first_ready(data)["modules"] = "minillm.bigram"
    with pytest.raises(BookError, match=r"modules.*must be list"):
        parse_book(data)


def test_duplicate_id_is_refused():
    data = raw()
    dup = copy.deepcopy(first_ready(data))
    dup["number"] = 99
    data["chapters"].append(dup)
    with pytest.raises(BookError, match=r"duplicate id 'what-is-an-llm'.*give each chapter its own id"):
        parse_book(data)


def test_duplicate_number_and_unknown_stage_and_unknown_key():
    data = raw()
    data["chapters"].append({"id": "x", "number": 0, "title": "X", "stage": "basics", "status": "planned"})
    with pytest.raises(BookError, match="reuses number 0"):
        parse_book(data)
    data = raw()
    first_ready(data)["stage"] = "nowhere"
    with pytest.raises(BookError, match="stage 'nowhere'; use one of"):
        parse_book(data)
    data = raw()
    first_ready(data)["budget"] = 3
    with pytest.raises(BookError, match=r"unknown key\(s\) \['budget'\]"):
        parse_book(data)


def test_wrong_folder_and_mismatched_names():
    data = raw()
    first_ready(data)["chapter"] = "notebooks/00-what-is-an-llm.ipynb"
    with pytest.raises(BookError, match="it must be a notebook in chapters/"):
        parse_book(data)
    data = raw()
    first_ready(data)["solutions"] = "solutions/00-other.ipynb"
    with pytest.raises(BookError, match="must share one file name"):
        parse_book(data)


def test_not_a_mapping_and_missing_top_level():
    with pytest.raises(BookError, match="top level must be a mapping"):
        parse_book(["a"])
    with pytest.raises(BookError, match="missing top-level key 'chapters'"):
        parse_book({"title": "t"})


def _copy_repo(tmp_path: Path) -> Path:
    for folder in ("chapters", "exercises", "solutions"):
        shutil.copytree(ROOT / folder, tmp_path / folder)
    shutil.copy(ROOT / "book.yml", tmp_path / "book.yml")
    return tmp_path


def test_unknown_file_is_refused(tmp_path):
    root = _copy_repo(tmp_path)
    data = raw()
    first_ready(data)["chapter"] = "chapters/00-missing.ipynb"
    first_ready(data)["exercises"] = "exercises/00-missing.ipynb"
    first_ready(data)["solutions"] = "solutions/00-missing.ipynb"
    (root / "book.yml").write_text(yaml.safe_dump(data))
    with pytest.raises(BookError, match=r"chapter file 'chapters/00-missing.ipynb' does not exist"):
        load_book(root / "book.yml", check_files=True)


def test_notebook_not_in_manifest_is_refused(tmp_path):
    root = _copy_repo(tmp_path)
    shutil.copy(root / "chapters/00-what-is-an-llm.ipynb", root / "chapters/99-stray.ipynb")
    with pytest.raises(BookError, match="99-stray.ipynb is not listed in book.yml"):
        load_book(root / "book.yml", check_files=True)


def test_module_that_does_not_import_is_refused(tmp_path):
    root = _copy_repo(tmp_path)
    data = raw()
    first_ready(data)["modules"] = ["minillm.no_such_module"]
    (root / "book.yml").write_text(yaml.safe_dump(data))
    with pytest.raises(BookError, match="lists module 'minillm.no_such_module', which does not import"):
        load_book(root / "book.yml", check_files=True)


def test_stale_exercises_are_refused(tmp_path):
    root = _copy_repo(tmp_path)
    ex = root / "exercises/00-what-is-an-llm.ipynb"
    ex.write_text(ex.read_text().replace("NotImplementedError", "NotImplementedErrorX", 1))
    with pytest.raises(BookError, match="out of date.*run `make exercises`"):
        load_book(root / "book.yml", check_files=True)


def test_invalid_yaml_and_missing_file(tmp_path):
    (tmp_path / "book.yml").write_text("chapters: [\n")
    with pytest.raises(BookError, match="not valid YAML"):
        load_book(tmp_path / "book.yml")
    with pytest.raises(FileNotFoundError, match="not found"):
        load_book(tmp_path / "nope.yml")


def test_readme_course_map_is_generated_from_book_yml(tmp_path):
    from minillm.course.book import sync_readme

    book = load_book(ROOT / "book.yml")
    assert not sync_readme(book, ROOT / "README.md", check=True), (
        "README.md's course map differs from book.yml; run `make exercises`"
    )
    copy_ = tmp_path / "README.md"
    copy_.write_text((ROOT / "README.md").read_text().replace("| 0 |", "| zero |"))
    assert sync_readme(book, copy_) and not sync_readme(book, copy_, check=True)
    for c in book.chapters:
        assert c.title in copy_.read_text()
